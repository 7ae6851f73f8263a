/* problems.c — built-in test problems (1-D and 2-D Dirichlet Laplacians, evenly spaced
   diagonals) as CSR matrices, with their analytic spectra.

   The Laplacian spectra are the classical ones (e.g. J. W. Demmel, "Applied Numerical
   Linear Algebra", SIAM 1997, section 6.3): tridiag(-1, 2, -1) of order N has
   eigenvalues 2 - 2 cos(k pi/(N+1)) = 4 sin^2(k pi/(2(N+1))), and the 5-point operator on
   an M x N grid is the Kronecker sum of two 1-D ones, so its eigenvalues are the sums of
   theirs. The matrices are assembled directly in CSR (rows in order, columns ascending). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/problems.h"

#ifndef M_PI
#  define M_PI 3.14159265358979323846
#endif

typedef enum problem_kind { PROB_LAPLACE1D, PROB_LAPLACE2D, PROB_DIAG } problem_kind;

typedef struct problem {
    problem_kind kind;
    size_t m, p;   /* laplace1d: order m; laplace2d: grid m x p; diag: order m */
    double lo, hi; /* diag */
    size_t n;      /* order */
} problem;

const char *kry_problem_help(void)
{
    return "laplace1d:N     tridiag(-1, 2, -1) of order N (1-D Dirichlet Laplacian)\n"
           "laplace2d:MxN   5-point Dirichlet Laplacian on an M x N grid (order M*N)\n"
           "diag:LO:HI:N    diagonal with N evenly spaced values from LO to HI\n";
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static kry_status perr(char *errbuf, size_t errlen, kry_status st, const char *fmt, ...)
{
    if (errbuf != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Parses a size: decimal digits only, >= 1. Advances *s past it.
   0: ok, -1: missing or not a number, -2: zero, -3: too large. */
static int parse_size(const char **s, size_t *out)
{
    const char *p = *s;
    size_t v = 0;
    int big = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; ++p) {
        size_t d = (size_t)(*p - '0');
        if (v > (SIZE_MAX - d) / 10)
            big = 1;
        else
            v = v * 10 + d;
    }
    *s = p;
    if (big)
        return -3;
    if (v == 0)
        return -2;
    *out = v;
    return 0;
}

static kry_status size_error(int rc, const char *spec, const char *what, char *errbuf,
                             size_t errlen)
{
    if (rc == -3)
        return perr(errbuf, errlen, KRY_ERANGE, "problem '%s': %s is too large", spec, what);
    if (rc == -2)
        return perr(errbuf, errlen, KRY_EINVAL, "problem '%s': %s must be at least 1", spec,
                    what);
    return perr(errbuf, errlen, KRY_EINVAL, "problem '%s': %s must be a positive integer",
                spec, what);
}

/* Parses a finite double up to the next ':' (which must follow). */
static int parse_value(const char **s, double *out)
{
    const char *p = *s;
    const char *colon = strchr(p, ':');
    if (colon == NULL || colon == p || (size_t)(colon - p) >= 64)
        return -1;
    char tmp[64];
    memcpy(tmp, p, (size_t)(colon - p));
    tmp[colon - p] = '\0';
    char *end = NULL;
    double v = strtod(tmp, &end);
    if (end == tmp || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    *s = colon + 1;
    return 0;
}

static kry_status parse(const char *spec, problem *pr, char *errbuf, size_t errlen)
{
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (spec == NULL)
        return perr(errbuf, errlen, KRY_EINVAL, "no problem given");
    memset(pr, 0, sizeof *pr);
    const char *s;
    int rc;
    if (strncmp(spec, "laplace1d:", 10) == 0) {
        s = spec + 10;
        pr->kind = PROB_LAPLACE1D;
        if ((rc = parse_size(&s, &pr->m)) != 0)
            return size_error(rc, spec, "the size N", errbuf, errlen);
        pr->n = pr->m;
    } else if (strncmp(spec, "laplace2d:", 10) == 0) {
        s = spec + 10;
        pr->kind = PROB_LAPLACE2D;
        if ((rc = parse_size(&s, &pr->m)) != 0)
            return size_error(rc, spec, "the grid size M (in MxN)", errbuf, errlen);
        if (*s != 'x')
            return perr(errbuf, errlen, KRY_EINVAL,
                        "problem '%s': expected the grid size as MxN", spec);
        ++s;
        if ((rc = parse_size(&s, &pr->p)) != 0)
            return size_error(rc, spec, "the grid size N (in MxN)", errbuf, errlen);
        if (pr->m > SIZE_MAX / pr->p)
            return perr(errbuf, errlen, KRY_ERANGE, "problem '%s': the grid is too large",
                        spec);
        pr->n = pr->m * pr->p;
    } else if (strncmp(spec, "diag:", 5) == 0) {
        s = spec + 5;
        pr->kind = PROB_DIAG;
        if (parse_value(&s, &pr->lo) != 0 || parse_value(&s, &pr->hi) != 0)
            return perr(errbuf, errlen, KRY_EINVAL,
                        "problem '%s': expected diag:LO:HI:N with finite numbers LO and HI",
                        spec);
        if ((rc = parse_size(&s, &pr->m)) != 0)
            return size_error(rc, spec, "the size N", errbuf, errlen);
        pr->n = pr->m;
    } else {
        return perr(errbuf, errlen, KRY_EINVAL,
                    "unknown problem '%s' (expected laplace1d:N, laplace2d:MxN or "
                    "diag:LO:HI:N)", spec);
    }
    if (*s != '\0')
        return perr(errbuf, errlen, KRY_EINVAL, "problem '%s': unexpected '%s' at the end",
                    spec, s);
    if (pr->n > UINT32_MAX)
        return perr(errbuf, errlen, KRY_ERANGE,
                    "problem '%s': order %zu exceeds the limit %lu", spec, pr->n,
                    (unsigned long)UINT32_MAX);
    return KRY_OK;
}

kry_status kry_problem_size(const char *spec, size_t *n)
{
    KRY_REQUIRE(n != NULL, KRY_EINVAL);
    *n = 0;
    problem pr;
    KRY_TRY(parse(spec, &pr, NULL, 0));
    *n = pr.n;
    return KRY_OK;
}

static double diag_value(const problem *pr, size_t k)
{
    if (pr->m == 1)
        return pr->lo;
    double t = (double)k / (double)(pr->m - 1);
    return pr->lo * (1.0 - t) + pr->hi * t;
}

static kry_status build_laplace1d(size_t n, kry_csr **out)
{
    kry_csr *a = NULL;
    KRY_TRY(kry_csr_alloc(n, n, 3 * n - 2, &a));
    size_t q = 0;
    for (size_t i = 0; i < n; ++i) {
        if (i > 0) {
            a->colind[q] = (uint32_t)(i - 1);
            a->val[q++] = -1.0;
        }
        a->colind[q] = (uint32_t)i;
        a->val[q++] = 2.0;
        if (i + 1 < n) {
            a->colind[q] = (uint32_t)(i + 1);
            a->val[q++] = -1.0;
        }
        a->rowptr[i + 1] = q;
    }
    *out = a;
    return KRY_OK;
}

static kry_status build_laplace2d(size_t m, size_t p, kry_csr **out)
{
    const size_t n = m * p;
    const size_t nnz = n + 2 * m * (p - 1) + 2 * (m - 1) * p;
    kry_csr *a = NULL;
    KRY_TRY(kry_csr_alloc(n, n, nnz, &a));
    size_t q = 0;
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < p; ++j) {
            const size_t r = i * p + j;
            if (i > 0) {
                a->colind[q] = (uint32_t)(r - p);
                a->val[q++] = -1.0;
            }
            if (j > 0) {
                a->colind[q] = (uint32_t)(r - 1);
                a->val[q++] = -1.0;
            }
            a->colind[q] = (uint32_t)r;
            a->val[q++] = 4.0;
            if (j + 1 < p) {
                a->colind[q] = (uint32_t)(r + 1);
                a->val[q++] = -1.0;
            }
            if (i + 1 < m) {
                a->colind[q] = (uint32_t)(r + p);
                a->val[q++] = -1.0;
            }
            a->rowptr[r + 1] = q;
        }
    *out = a;
    return KRY_OK;
}

static kry_status build_diag(const problem *pr, kry_csr **out)
{
    kry_csr *a = NULL;
    KRY_TRY(kry_csr_alloc(pr->n, pr->n, pr->n, &a));
    for (size_t i = 0; i < pr->n; ++i) {
        a->colind[i] = (uint32_t)i;
        a->val[i] = diag_value(pr, i);
        a->rowptr[i + 1] = i + 1;
    }
    *out = a;
    return KRY_OK;
}

kry_status kry_problem_build(const char *spec, kry_csr **out, char *errbuf, size_t errlen)
{
    if (out != NULL)
        *out = NULL;
    problem pr;
    KRY_TRY(parse(spec, &pr, errbuf, errlen));
    if (out == NULL)
        return perr(errbuf, errlen, KRY_EINVAL, "no output matrix given");
    kry_status st;
    switch (pr.kind) {
    case PROB_LAPLACE1D:
        st = build_laplace1d(pr.n, out);
        break;
    case PROB_LAPLACE2D:
        st = build_laplace2d(pr.m, pr.p, out);
        break;
    default:
        st = build_diag(&pr, out);
        break;
    }
    if (st == KRY_ENOMEM)
        return perr(errbuf, errlen, st, "problem '%s': out of memory (order %zu)", spec,
                    pr.n);
    if (st != KRY_OK)
        return perr(errbuf, errlen, st, "problem '%s': too large to store", spec);
    return KRY_OK;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* 4 sin^2(k pi / (2 (n + 1))) = 2 - 2 cos(k pi / (n + 1)), accurate for small k. */
static double lap1d_eig(size_t k, size_t n)
{
    double s = sin((double)k * M_PI / (2.0 * (double)(n + 1)));
    return 4.0 * s * s;
}

kry_status kry_problem_eigenvalues(const char *spec, double *out, size_t n)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    problem pr;
    KRY_TRY(parse(spec, &pr, NULL, 0));
    KRY_REQUIRE(n == pr.n, KRY_EDIM);
    switch (pr.kind) {
    case PROB_LAPLACE1D:
        for (size_t k = 1; k <= n; ++k)
            out[k - 1] = lap1d_eig(k, n);
        break;
    case PROB_LAPLACE2D:
        for (size_t i = 1; i <= pr.m; ++i) {
            const double li = lap1d_eig(i, pr.m);
            for (size_t j = 1; j <= pr.p; ++j)
                out[(i - 1) * pr.p + (j - 1)] = li + lap1d_eig(j, pr.p);
        }
        qsort(out, n, sizeof *out, cmp_double);
        break;
    default:
        for (size_t i = 0; i < n; ++i)
            out[i] = diag_value(&pr, i);
        qsort(out, n, sizeof *out, cmp_double);
        break;
    }
    return KRY_OK;
}
