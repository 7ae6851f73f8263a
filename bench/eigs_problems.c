/* eigs_problems.c — matrix-free benchmark problems of issue 3 with analytic spectra,
   counted and timed matvecs, and scoring of computed eigenvalues.

   The 2-D Laplacian eigenvalues are sums of 4 sin^2 terms (the 1-D Dirichlet Laplacian
   tridiag(-1, 2, -1) of order N has eigenvalues 2 - 2cos(k pi/(N+1)) = 4 sin^2(k pi /
   (2(N+1))); the 2-D operator is the Kronecker sum of two of them). Summing the two
   terms in the same order for (i, j) and (j, i) makes the copies of a repeated
   eigenvalue of a square grid bitwise equal, so multiplicities are exact. */
#include "eigs_problems.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kry/rng.h"

static const bench_problem_def problem_defs[] = {
    {"P1", "laplace2d:100x101", 10, BENCH_LA, 1e-8},
    {"P3", "diag:1:10000:10000", 10, BENCH_LA, 1e-8},
    {"P4", "laplace2d:300x300", 10, BENCH_LA, 1e-8},
    {"P1-SA", "laplace2d:100x101", 10, BENCH_SA, 1e-8},
    {"P3-SA", "diag:1:10000:10000", 10, BENCH_SA, 1e-8},
    {"P4-SA", "laplace2d:300x300", 10, BENCH_SA, 1e-8},
};

const bench_problem_def *bench_problem_defs(size_t *count)
{
    *count = sizeof problem_defs / sizeof problem_defs[0];
    return problem_defs;
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parses a positive decimal size at *s, advancing *s. */
static int parse_size(const char **s, size_t *out)
{
    char *end;
    if (**s < '0' || **s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(*s, &end, 10);
    if (errno != 0 || v == 0 || v > (unsigned long long)(SIZE_MAX / 8))
        return -1;
    *s = end;
    *out = (size_t)v;
    return 0;
}

static int parse_double(const char **s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(*s, &end);
    if (end == *s || errno != 0 || !isfinite(v))
        return -1;
    *s = end;
    *out = v;
    return 0;
}

/* Fills the spec-dependent fields of p (kind, shape, n). */
static int parse_spec(bench_problem *p, const char *spec, double *lo, double *hi)
{
    const char *s;
    if (strncmp(spec, "laplace2d:", 10) == 0) {
        s = spec + 10;
        if (parse_size(&s, &p->grid_m) != 0 || *s++ != 'x'
            || parse_size(&s, &p->grid_n) != 0 || *s != '\0')
            return -1;
        if (p->grid_m > SIZE_MAX / 8 / p->grid_n)
            return -1;
        p->kind = BENCH_LAPLACE2D;
        p->n = p->grid_m * p->grid_n;
        return 0;
    }
    if (strncmp(spec, "diag:", 5) == 0) {
        s = spec + 5;
        if (parse_double(&s, lo) != 0 || *s++ != ':' || parse_double(&s, hi) != 0
            || *s++ != ':' || parse_size(&s, &p->n) != 0 || *s != '\0')
            return -1;
        p->kind = BENCH_DIAG;
        return 0;
    }
    return -1;
}

int bench_problem_init(bench_problem *p, const bench_problem_def *def, uint64_t seed,
                       char *err, size_t errlen)
{
    double lo = 0.0, hi = 0.0;
    memset(p, 0, sizeof *p);
    if (def == NULL || def->id == NULL || def->spec == NULL) {
        if (errlen > 0)
            snprintf(err, errlen, "no problem definition");
        return -1;
    }
    snprintf(p->id, sizeof p->id, "%s", def->id);
    snprintf(p->spec, sizeof p->spec, "%s", def->spec);
    if (parse_spec(p, def->spec, &lo, &hi) != 0) {
        if (errlen > 0)
            snprintf(err, errlen, "%s: malformed problem spec '%s'", def->id, def->spec);
        goto fail;
    }
    if (def->k == 0 || def->k > p->n || def->k > BENCH_MAX_VALS || !(def->tol > 0.0)) {
        if (errlen > 0)
            snprintf(err, errlen, "%s: need 1 <= k <= min(n, %d) and tol > 0", def->id,
                     BENCH_MAX_VALS);
        goto fail;
    }
    p->k = def->k;
    p->which = def->which;
    p->tol = def->tol;
    p->seed = seed;

    p->eigs = malloc(p->n * sizeof *p->eigs);
    p->wanted = malloc(p->k * sizeof *p->wanted);
    p->v0 = malloc(p->n * sizeof *p->v0);
    if (p->eigs == NULL || p->wanted == NULL || p->v0 == NULL)
        goto nomem;

    if (p->kind == BENCH_DIAG) {
        p->d = malloc(p->n * sizeof *p->d);
        if (p->d == NULL)
            goto nomem;
        for (size_t i = 0; i < p->n; ++i)
            p->d[i] = p->n == 1 ? lo : lo + (hi - lo) * (double)i / (double)(p->n - 1);
        memcpy(p->eigs, p->d, p->n * sizeof *p->d);
    } else {
        const size_t M = p->grid_m, N = p->grid_n;
        double *s = malloc((M + N) * sizeof *s);
        if (s == NULL)
            goto nomem;
        double *t = s + M;
        const double pi = 3.14159265358979323846;
        for (size_t i = 0; i < M; ++i) {
            double a = sin((double)(i + 1) * pi / (2.0 * (double)(M + 1)));
            s[i] = 4.0 * a * a;
        }
        for (size_t j = 0; j < N; ++j) {
            double a = sin((double)(j + 1) * pi / (2.0 * (double)(N + 1)));
            t[j] = 4.0 * a * a;
        }
        /* Add the smaller term first so (i, j) and (j, i) give the same bits. */
        for (size_t i = 0; i < M; ++i)
            for (size_t j = 0; j < N; ++j)
                p->eigs[i * N + j] = s[i] <= t[j] ? s[i] + t[j] : t[j] + s[i];
        free(s);
    }
    qsort(p->eigs, p->n, sizeof *p->eigs, cmp_double);
    p->norm = fmax(fabs(p->eigs[0]), fabs(p->eigs[p->n - 1]));
    for (size_t i = 0; i < p->k; ++i)
        p->wanted[i] = p->which == BENCH_LA ? p->eigs[p->n - 1 - i] : p->eigs[i];
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_START, 0, p->n, p->v0);
    return 0;

nomem:
    if (errlen > 0)
        snprintf(err, errlen, "%s: out of memory", def->id);
fail:
    bench_problem_free(p);
    return -1;
}

void bench_problem_free(bench_problem *p)
{
    if (p == NULL)
        return;
    free(p->d);
    free(p->eigs);
    free(p->wanted);
    free(p->v0);
    free(p->csr_rowptr);
    free(p->csr_col);
    free(p->csr_val);
    memset(p, 0, sizeof *p);
}

int bench_problem_use_csr(bench_problem *p)
{
    if (p->csr_rowptr != NULL)
        return 0;
    if (p->n > UINT32_MAX)
        return -1;
    size_t cap = p->kind == BENCH_DIAG ? p->n : 5 * p->n;
    size_t *rowptr = malloc((p->n + 1) * sizeof *rowptr);
    uint32_t *col = malloc(cap * sizeof *col);
    double *val = malloc(cap * sizeof *val);
    if (rowptr == NULL || col == NULL || val == NULL) {
        free(rowptr);
        free(col);
        free(val);
        return -1;
    }
    size_t nz = 0;
    rowptr[0] = 0;
    for (size_t r = 0; r < p->n; ++r) {
        if (p->kind == BENCH_DIAG) {
            col[nz] = (uint32_t)r;
            val[nz++] = p->d[r];
        } else {
            /* Columns in increasing order: up, left, centre, right, down. */
            const size_t N = p->grid_n, i = r / N, j = r % N;
            if (i > 0) {
                col[nz] = (uint32_t)(r - N);
                val[nz++] = -1.0;
            }
            if (j > 0) {
                col[nz] = (uint32_t)(r - 1);
                val[nz++] = -1.0;
            }
            col[nz] = (uint32_t)r;
            val[nz++] = 4.0;
            if (j + 1 < N) {
                col[nz] = (uint32_t)(r + 1);
                val[nz++] = -1.0;
            }
            if (i + 1 < p->grid_m) {
                col[nz] = (uint32_t)(r + N);
                val[nz++] = -1.0;
            }
        }
        rowptr[r + 1] = nz;
    }
    p->csr_rowptr = rowptr;
    p->csr_col = col;
    p->csr_val = val;
    return 0;
}

/* 5-point stencil, one grid row at a time; interior rows in one fused pass. */
static void laplace2d_apply(size_t M, size_t N, const double *restrict x,
                            double *restrict y)
{
    for (size_t i = 0; i < M; ++i) {
        const double *restrict xr = x + i * N;
        double *restrict yr = y + i * N;
        if (N == 1) {
            yr[0] = 4.0 * xr[0];
        } else if (i > 0 && i + 1 < M) {
            const double *restrict xu = xr - N;
            const double *restrict xd = xr + N;
            yr[0] = 4.0 * xr[0] - xr[1] - xu[0] - xd[0];
            for (size_t j = 1; j + 1 < N; ++j)
                yr[j] = 4.0 * xr[j] - xr[j - 1] - xr[j + 1] - xu[j] - xd[j];
            yr[N - 1] = 4.0 * xr[N - 1] - xr[N - 2] - xu[N - 1] - xd[N - 1];
            continue;
        } else {
            yr[0] = 4.0 * xr[0] - xr[1];
            for (size_t j = 1; j + 1 < N; ++j)
                yr[j] = 4.0 * xr[j] - xr[j - 1] - xr[j + 1];
            yr[N - 1] = 4.0 * xr[N - 1] - xr[N - 2];
        }
        if (i > 0)
            for (size_t j = 0; j < N; ++j)
                yr[j] -= xr[j - N];
        if (i + 1 < M)
            for (size_t j = 0; j < N; ++j)
                yr[j] -= xr[j + N];
    }
}

void bench_matvec(const bench_problem *p, const double *restrict x, double *restrict y)
{
    if (p->csr_rowptr != NULL) {
        const size_t *restrict rp = p->csr_rowptr;
        const uint32_t *restrict ci = p->csr_col;
        const double *restrict v = p->csr_val;
        for (size_t i = 0; i < p->n; ++i) {
            double s = 0.0;
            for (size_t k = rp[i]; k < rp[i + 1]; ++k)
                s += v[k] * x[ci[k]];
            y[i] = s;
        }
    } else if (p->kind == BENCH_DIAG) {
        const double *restrict d = p->d;
        for (size_t i = 0; i < p->n; ++i)
            y[i] = d[i] * x[i];
    } else {
        laplace2d_apply(p->grid_m, p->grid_n, x, y);
    }
}

void bench_matvec_counted(const bench_problem *p, bench_counter *c,
                          const double *restrict x, double *restrict y)
{
    double t0 = bench_now();
    bench_matvec(p, x, y);
    c->seconds += bench_now() - t0;
    c->matvecs += 1;
}

static int bench_kry_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    bench_op_ctx *c = ctx;
    bench_matvec_counted(c->p, &c->count, x, y);
    return 0;
}

void bench_problem_operator(const bench_problem *p, bench_op_ctx *ctx, kry_operator *op)
{
    ctx->p = p;
    ctx->count.matvecs = 0;
    ctx->count.seconds = 0.0;
    memset(op, 0, sizeof *op);
    op->n = p->n;
    op->matvec = bench_kry_matvec;
    op->ctx = ctx;
}

double bench_true_resid(const bench_problem *p, const double *x, double theta,
                        double *work)
{
    double rr = 0.0, xx = 0.0;
    bench_matvec(p, x, work);
    for (size_t i = 0; i < p->n; ++i) {
        double r = work[i] - theta * x[i];
        rr += r * r;
        xx += x[i] * x[i];
    }
    const double eps23 = pow(2.220446049250313e-16, 2.0 / 3.0);
    double scale = fmax(fabs(theta), eps23 * p->norm);
    return xx > 0.0 ? sqrt(rr / xx) / scale : INFINITY;
}

/* Distance from v to the nearest entry of the ascending array a[0..n). */
static double nearest_dist(const double *a, size_t n, double v)
{
    size_t lo = 0, hi = n; /* first index with a[i] >= v */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    double best = INFINITY;
    if (lo < n)
        best = fabs(a[lo] - v);
    if (lo > 0)
        best = fmin(best, fabs(v - a[lo - 1]));
    return best;
}

void bench_score(const bench_problem *p, const double *vals, size_t nvals,
                 double match_tol, double *max_rel_err, size_t *missed,
                 double *missed_vals)
{
    double got[BENCH_MAX_VALS], want[BENCH_MAX_VALS];
    size_t nused = nvals < p->k ? nvals : p->k, m = 0;
    double err = 0.0;
    for (size_t i = 0; i < nused; ++i) {
        if (!isfinite(vals[i])) {
            err = INFINITY; /* a non-finite value matches nothing */
            continue;
        }
        got[m++] = vals[i];
        double e = nearest_dist(p->eigs, p->n, vals[i]) / p->norm;
        err = e > err ? e : err;
    }
    memcpy(want, p->wanted, p->k * sizeof *want);
    qsort(got, m, sizeof *got, cmp_double);
    qsort(want, p->k, sizeof *want, cmp_double);

    /* Greedy matching of two sorted lists with a common window: optimal because every
       window has the same width, so windows are ordered like their centres. */
    const double w = match_tol * p->norm;
    size_t i = 0, j = 0, unmatched = 0;
    while (i < p->k) {
        if (j >= m || got[j] > want[i] + w) {
            if (missed_vals != NULL)
                missed_vals[unmatched] = want[i];
            ++unmatched;
            ++i;
        } else if (got[j] < want[i] - w) {
            ++j;
        } else {
            ++i;
            ++j;
        }
    }
    *max_rel_err = err;
    *missed = unmatched;
}

void bench_result_clear(bench_result *r)
{
    memset(r, 0, sizeof *r);
}
