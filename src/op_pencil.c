/* op_pencil.c — operator module: affine tridiagonal pencil A(x) = A_0 + sum_i x_i A_i.

   Every A_i is symmetric tridiagonal, so A(x) is tridiagonal with diagonal d0 + D x and
   off-diagonal e0 + E x (D is n x p, E is (n-1) x p, both row-major). The current
   (d, e) are recomputed once per kry_pencil_set_point, which makes the matvec the plain
   tridiagonal loop. The parameter gradient is
       d(w^T A(x) u)/dx_i = sum_r D[r][i] w_r u_r + sum_r E[r][i] (w_r u_{r+1} + w_{r+1} u_r),
   accumulated row by row over D and E (contiguous reads, no scratch).

   A pencil is recognised by its destroy function, which no other operator uses, so
   kry_pencil_set_point rejects any other operator with KRY_EINVAL. set_point changes the
   shared context: it must not run concurrently with products of the same operator. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "op_impl.h"
#include "kry/operator.h"
#include "vec.h"

typedef struct pencil_ctx {
    size_t n, p;
    double *d0, *e0; /* base diagonal (n) and off-diagonal (n-1) */
    double *D, *E;   /* n x p and (n-1) x p, row-major; NULL when p == 0 */
    double *d, *e;   /* diagonal and off-diagonal at the current point */
    double *dn, *en; /* scratch for a candidate point, swapped in when finite */
} pencil_ctx;

static int pencil_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const pencil_ctx *c = ctx;
    kry_tridiag_apply(c->n, c->d, c->e, x, y);
    return 0;
}

static int pencil_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                            double *restrict grad)
{
    const pencil_ctx *c = ctx;
    size_t n = c->n, p = c->p;
    if (p == 0)
        return 0;
    for (size_t r = 0; r < n; ++r) {
        double s = w[r] * u[r];
        const double *row = c->D + r * p;
        for (size_t i = 0; i < p; ++i)
            grad[i] += row[i] * s;
    }
    for (size_t r = 0; r + 1 < n; ++r) {
        double t = w[r] * u[r + 1] + w[r + 1] * u[r];
        const double *row = c->E + r * p;
        for (size_t i = 0; i < p; ++i)
            grad[i] += row[i] * t;
    }
    return 0;
}

static void pencil_destroy(void *ctx)
{
    pencil_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->d0);
    free(c->D);
    free(c);
}

/* out[r] = base[r] + sum_i M[r][i] x[i] for r < rows (M row-major rows x p). */
static void affine_rows(size_t rows, size_t p, const double *base, const double *M,
                        const double *x, double *out)
{
    if (p == 0) {
        memcpy(out, base, rows * sizeof *out);
        return;
    }
    for (size_t r = 0; r < rows; ++r) {
        double s = base[r];
        const double *row = M + r * p;
        for (size_t i = 0; i < p; ++i)
            s += row[i] * x[i];
        out[r] = s;
    }
}

kry_status kry_operator_pencil(size_t n, size_t p, const double *d0, const double *e0,
                               const double *D, const double *E, kry_operator *out)
{
    KRY_REQUIRE(out != NULL && d0 != NULL && n >= 1, KRY_EINVAL);
    KRY_REQUIRE(n == 1 || e0 != NULL, KRY_EINVAL);
    KRY_REQUIRE(p == 0 || D != NULL, KRY_EINVAL);
    KRY_REQUIRE(p == 0 || n == 1 || E != NULL, KRY_EINVAL);
    /* Storage: 3 copies of (d, e) in one block of 3(2n-1), D and E in one of (2n-1) p. */
    KRY_REQUIRE(n <= SIZE_MAX / (6 * sizeof(double)), KRY_ENOMEM);
    size_t m = 2 * n - 1;
    KRY_REQUIRE(p == 0 || m <= SIZE_MAX / sizeof(double) / p, KRY_ENOMEM);

    KRY_REQUIRE(kry_vec_isfinite(n, d0), KRY_ENONFINITE);
    KRY_REQUIRE(n == 1 || kry_vec_isfinite(n - 1, e0), KRY_ENONFINITE);
    KRY_REQUIRE(p == 0 || kry_vec_isfinite(n * p, D), KRY_ENONFINITE);
    KRY_REQUIRE(p == 0 || n == 1 || kry_vec_isfinite((n - 1) * p, E), KRY_ENONFINITE);

    pencil_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->n = n;
    c->p = p;
    c->d0 = malloc(3 * m * sizeof *c->d0);
    if (c->d0 == NULL)
        goto fail;
    c->e0 = c->d0 + n;
    c->d = c->d0 + m;
    c->e = c->d + n;
    c->dn = c->d + m;
    c->en = c->dn + n;
    if (p > 0) {
        c->D = malloc(m * p * sizeof *c->D);
        if (c->D == NULL)
            goto fail;
        c->E = c->D + n * p;
        memcpy(c->D, D, n * p * sizeof *D);
        if (n > 1)
            memcpy(c->E, E, (n - 1) * p * sizeof *E);
    }
    memcpy(c->d0, d0, n * sizeof *d0);
    if (n > 1)
        memcpy(c->e0, e0, (n - 1) * sizeof *e0);
    /* The point starts at zero: A(0) = A_0. */
    memcpy(c->d, c->d0, m * sizeof *c->d);

    memset(out, 0, sizeof *out);
    out->n = n;
    out->matvec = pencil_matvec;
    out->param_vjp = pencil_param_vjp;
    out->n_params = p;
    out->ctx = c;
    out->destroy = pencil_destroy;
    return KRY_OK;

fail:
    pencil_destroy(c);
    return KRY_ENOMEM;
}

kry_status kry_pencil_set_point(kry_operator *op, const double *x)
{
    KRY_REQUIRE(op != NULL && x != NULL, KRY_EINVAL);
    KRY_REQUIRE(op->destroy == pencil_destroy && op->ctx != NULL, KRY_EINVAL);
    pencil_ctx *c = op->ctx;
    size_t n = c->n, p = c->p;
    KRY_REQUIRE(kry_vec_isfinite(p, x), KRY_ENONFINITE);

    /* Build the candidate in scratch so that a point whose matrix overflows leaves the
       operator at its previous point. */
    affine_rows(n, p, c->d0, c->D, x, c->dn);
    if (n > 1)
        affine_rows(n - 1, p, c->e0, c->E, x, c->en);
    KRY_REQUIRE(kry_vec_isfinite(2 * n - 1, c->dn), KRY_ENONFINITE);

    double *t = c->d;
    c->d = c->dn;
    c->dn = t;
    t = c->e;
    c->e = c->en;
    c->en = t;
    return KRY_OK;
}
