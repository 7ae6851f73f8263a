/* op_tridiag.c — operator module: symmetric tridiagonal matrix operator.

   y = T x for T with diagonal d[0..n) and off-diagonal e[0..n-1), by a direct loop
   (three flops per entry; no BLAS routine fits better). The parameters are (d, e):
   w^T T u = sum_i d_i w_i u_i + sum_i e_i (w_i u_{i+1} + w_{i+1} u_i), whose gradient
   param_vjp accumulates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "op_impl.h"
#include "kry/operator.h"
#include "vec.h"

typedef struct tridiag_ctx {
    size_t n;
    double *d; /* n entries, followed in the same block by e (n-1 entries) */
    double *e;
} tridiag_ctx;

void kry_tridiag_apply(size_t n, const double *restrict d, const double *restrict e,
                       const double *restrict x, double *restrict y)
{
    if (n == 1) {
        y[0] = d[0] * x[0];
        return;
    }
    y[0] = d[0] * x[0] + e[0] * x[1];
    for (size_t i = 1; i + 1 < n; ++i)
        y[i] = e[i - 1] * x[i - 1] + d[i] * x[i] + e[i] * x[i + 1];
    y[n - 1] = e[n - 2] * x[n - 2] + d[n - 1] * x[n - 1];
}

static int tridiag_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const tridiag_ctx *c = ctx;
    kry_tridiag_apply(c->n, c->d, c->e, x, y);
    return 0;
}

static int tridiag_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                             double *restrict grad)
{
    const tridiag_ctx *c = ctx;
    size_t n = c->n;
    for (size_t i = 0; i < n; ++i)
        grad[i] += w[i] * u[i];
    for (size_t i = 0; i + 1 < n; ++i)
        grad[n + i] += w[i] * u[i + 1] + w[i + 1] * u[i];
    return 0;
}

static void tridiag_destroy(void *ctx)
{
    tridiag_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->d);
    free(c);
}

kry_status kry_operator_tridiag(size_t n, const double *d, const double *e,
                                kry_operator *out)
{
    KRY_REQUIRE(out != NULL && d != NULL && n >= 1, KRY_EINVAL);
    KRY_REQUIRE(n == 1 || e != NULL, KRY_EINVAL);
    KRY_REQUIRE(n <= SIZE_MAX / (2 * sizeof(double)), KRY_ENOMEM);
    KRY_REQUIRE(kry_vec_isfinite(n, d), KRY_ENONFINITE);
    KRY_REQUIRE(n == 1 || kry_vec_isfinite(n - 1, e), KRY_ENONFINITE);

    tridiag_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->n = n;
    c->d = malloc((2 * n - 1) * sizeof *c->d);
    if (c->d == NULL) {
        free(c);
        return KRY_ENOMEM;
    }
    c->e = c->d + n;
    memcpy(c->d, d, n * sizeof *d);
    if (n > 1)
        memcpy(c->e, e, (n - 1) * sizeof *e);

    memset(out, 0, sizeof *out);
    out->n = n;
    out->matvec = tridiag_matvec;
    out->param_vjp = tridiag_param_vjp;
    out->n_params = 2 * n - 1;
    out->ctx = c;
    out->destroy = tridiag_destroy;
    return KRY_OK;
}
