/* testops.c — reference operators and LAPACK references for the test suites. */
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "kry/rng.h"
#include "testops.h"

int test_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double *test_random_symmetric(size_t n, const double *lam, uint64_t seed)
{
    double *g = malloc(n * n * sizeof *g), *tau = malloc(n * sizeof *tau);
    double *a = calloc(n * n, sizeof *a), *tmp = malloc(n * n * sizeof *tmp);
    if (!g || !tau || !a || !tmp)
        abort();
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 0, n * n, g);
    /* Column-major QR; dorgqr forms the orthogonal factor U in g. */
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)n, g, (int)n, tau) != 0 ||
        LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)n, (int)n, (int)n, g, (int)n, tau) != 0)
        abort();
    /* tmp = U diag(lam) (column-major), then a = tmp U^T, symmetrised exactly. */
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i < n; ++i)
            tmp[j * n + i] = g[j * n + i] * lam[j];
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i; j < n; ++j) {
            double s = 0.0;
            for (size_t k = 0; k < n; ++k)
                s += tmp[k * n + i] * g[k * n + j];
            a[i * n + j] = a[j * n + i] = s;
        }
    free(g);
    free(tau);
    free(tmp);
    return a;
}

double *test_random_gaussian_symmetric(size_t n, uint64_t seed)
{
    double *a = malloc(n * n * sizeof *a);
    if (!a)
        abort();
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i; j < n; ++j)
            a[i * n + j] = a[j * n + i] =
                kry_rng_normal(seed, KRY_RNG_STREAM_TEST, (uint64_t)(i * n + j));
    return a;
}

int test_dense_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    test_dense *t = ctx;
    for (size_t i = 0; i < t->n; ++i) {
        double s = 0.0;
        for (size_t j = 0; j < t->n; ++j)
            s += t->a[i * t->n + j] * x[j];
        y[i] = s;
    }
    t->matvecs++;
    return 0;
}

static int diag_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    test_diag *t = ctx;
    for (size_t i = 0; i < t->n; ++i)
        y[i] = t->d[i] * x[i];
    t->matvecs++;
    return 0;
}

kry_operator test_dense_op(test_dense *t)
{
    kry_operator op;
    memset(&op, 0, sizeof op);
    op.n = t->n;
    op.matvec = test_dense_matvec;
    op.ctx = t;
    return op;
}

kry_operator test_diag_op(test_diag *t)
{
    kry_operator op;
    memset(&op, 0, sizeof op);
    op.n = t->n;
    op.matvec = diag_matvec;
    op.ctx = t;
    return op;
}

void test_laplace1d_eigs(size_t n, double *out)
{
    for (size_t k = 1; k <= n; ++k)
        out[k - 1] = 2.0 - 2.0 * cos((double)k * M_PI / (double)(n + 1));
}

void test_laplace2d_eigs(size_t m, size_t p, double *out)
{
    for (size_t i = 1; i <= m; ++i)
        for (size_t j = 1; j <= p; ++j)
            out[(i - 1) * p + (j - 1)] = 4.0 - 2.0 * cos((double)i * M_PI / (double)(m + 1)) -
                                         2.0 * cos((double)j * M_PI / (double)(p + 1));
    qsort(out, m * p, sizeof *out, test_cmp_double);
}

double *test_laplace1d_dense(size_t n)
{
    double *a = calloc(n * n, sizeof *a);
    if (!a)
        abort();
    for (size_t i = 0; i < n; ++i) {
        a[i * n + i] = 2.0;
        if (i + 1 < n)
            a[i * n + i + 1] = a[(i + 1) * n + i] = -1.0;
    }
    return a;
}

double *test_laplace2d_dense(size_t m, size_t p)
{
    size_t n = m * p;
    double *a = calloc(n * n, sizeof *a);
    if (!a)
        abort();
    /* Grid point (i, j) has index i * p + j. */
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < p; ++j) {
            size_t r = i * p + j;
            a[r * n + r] = 4.0;
            if (j + 1 < p)
                a[r * n + r + 1] = a[(r + 1) * n + r] = -1.0;
            if (i + 1 < m)
                a[r * n + r + p] = a[(r + p) * n + r] = -1.0;
        }
    return a;
}

int test_dsyevr(size_t n, const double *a, double *w, double *z)
{
    double *c = malloc(n * n * sizeof *c);
    int *isuppz = malloc(2 * n * sizeof *isuppz);
    double *zz = z ? z : malloc(n * n * sizeof *zz);
    if (!c || !isuppz || !zz)
        abort();
    memcpy(c, a, n * n * sizeof *c);
    lapack_int m = 0;
    /* Row-major symmetric input read as column-major is the same matrix. */
    int info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, z ? 'V' : 'N', 'A', 'U', (int)n, c, (int)n,
                              0.0, 0.0, 0, 0, 0.0, &m, w, zz, (int)n, isuppz);
    free(c);
    free(isuppz);
    if (!z)
        free(zz);
    return info;
}

double test_orth_error(size_t n, size_t k, const double *q, size_t ldq)
{
    double worst = 0.0;
    for (size_t i = 0; i < k; ++i)
        for (size_t j = i; j < k; ++j) {
            double s = 0.0;
            for (size_t r = 0; r < n; ++r)
                s += q[i * ldq + r] * q[j * ldq + r];
            double e = fabs(s - (i == j ? 1.0 : 0.0));
            if (e > worst)
                worst = e;
        }
    return worst;
}

int test_team_init(test_team *t)
{
    memset(t, 0, sizeof *t);
    return pthread_barrier_init(&t->bar, NULL, 2);
}

void test_team_destroy(test_team *t) { pthread_barrier_destroy(&t->bar); }

int test_team_allreduce(void *ctx, double *buf, size_t count)
{
    test_rank *r = ctx;
    test_team *t = r->team;
    int too_long = count > TEST_TEAM_MAX;
    if (too_long)
        t->overflow = 1;
    else
        memcpy(t->part[r->rank], buf, count * sizeof *buf);
    /* Both ranks pass both barriers even on failure, so neither is left waiting. */
    pthread_barrier_wait(&t->bar);
    if (!too_long)
        for (size_t i = 0; i < count; ++i)
            buf[i] = t->part[0][i] + t->part[1][i]; /* the same order on both ranks */
    pthread_barrier_wait(&t->bar);
    return too_long;
}

double *test_vec_alloc(size_t n)
{
    double *x = calloc(n ? n : 1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    return x;
}

double *test_randvec(size_t n, uint64_t seed)
{
    double *x = test_vec_alloc(n);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 0, n, x);
    return x;
}

double test_dot(size_t n, const double *x, const double *y)
{
    double s = 0.0;
    for (size_t i = 0; i < n; ++i)
        s += x[i] * y[i];
    return s;
}
