/* op_affine.c — operator module: the affine family A(theta) = sum_i theta_i B_i over any
   symmetric operators B_i (NULL terms stand for the identity), with its parameter VJP
   d(w^T A(theta) u)/d(theta_i) = w^T B_i u and a fused product for the adjoint sweep
   that forms each B_i w once for both u = A(theta) w and x^T B_i w.

   An affine operator is recognised by its destroy function, which no other operator
   uses, so kry_affine_set_theta rejects any other operator with KRY_EINVAL. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "internal.h"
#include "kry/adjoint.h"
#include "vec.h"

typedef struct affine_ctx {
    size_t n, p;
    kry_operator *terms; /* [p] copies; matvec == NULL marks the identity */
    double *theta;       /* [p] */
    double *tmp;         /* [n] scratch */
} affine_ctx;

static int affine_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const affine_ctx *c = ctx;
    const size_t n = c->n;
    memset(y, 0, n * sizeof(double));
    for (size_t i = 0; i < c->p; ++i) {
        const double t = c->theta[i];
        if (t == 0.0)
            continue;
        const kry_operator *b = &c->terms[i];
        if (b->matvec == NULL) {
            kry_vec_axpy(n, t, x, y);
            continue;
        }
        int rc = b->matvec(b->ctx, x, c->tmp);
        if (rc != 0)
            return rc;
        kry_vec_axpy(n, t, c->tmp, y);
    }
    return 0;
}

static int affine_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                            double *restrict grad)
{
    const affine_ctx *c = ctx;
    const int n = (int)c->n;
    for (size_t i = 0; i < c->p; ++i) {
        const kry_operator *b = &c->terms[i];
        if (b->matvec == NULL) {
            grad[i] += cblas_ddot(n, w, 1, u, 1);
            continue;
        }
        int rc = b->matvec(b->ctx, u, c->tmp);
        if (rc != 0)
            return rc;
        grad[i] += cblas_ddot(n, w, 1, c->tmp, 1);
    }
    return 0;
}

/* u += t b and returns x^T b, in one pass with independent partial sums. */
static double axpy_dot(size_t n, double t, const double *restrict b, double *restrict u,
                       const double *restrict x)
{
    double s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t j = 0; j < 4; ++j) {
            u[i + j] += t * b[i + j];
            s[j] += x[i + j] * b[i + j];
        }
    for (; i < n; ++i) {
        u[i] += t * b[i];
        s[0] += x[i] * b[i];
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

int kry_affine_matvec_vjp(void *ctx, const double *restrict w, const double *restrict x,
                          double *restrict u, double *restrict grad)
{
    const affine_ctx *c = ctx;
    const size_t n = c->n;
    memset(u, 0, n * sizeof(double));
    for (size_t i = 0; i < c->p; ++i) {
        const kry_operator *b = &c->terms[i];
        const double *bw = w;
        if (b->matvec != NULL) {
            int rc = b->matvec(b->ctx, w, c->tmp);
            if (rc != 0)
                return rc;
            bw = c->tmp;
        }
        grad[i] += axpy_dot(n, c->theta[i], bw, u, x);
    }
    return 0;
}

static void affine_destroy(void *ctx)
{
    affine_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->terms);
    free(c->theta);
    free(c->tmp);
    free(c);
}

kry_status kry_operator_affine(size_t n, size_t p, const kry_operator *const *terms,
                               const double *theta, kry_operator *out)
{
    KRY_REQUIRE(out != NULL && terms != NULL && theta != NULL, KRY_EINVAL);
    KRY_REQUIRE(n >= 1 && p >= 1, KRY_EINVAL);
    KRY_REQUIRE(kry_fits_blas_int(n), KRY_ERANGE);
    KRY_REQUIRE(kry_vec_isfinite(p, theta), KRY_ENONFINITE);
    const kry_space *space = NULL;
    int have_space = 0;
    for (size_t i = 0; i < p; ++i) {
        if (terms[i] == NULL)
            continue;
        KRY_TRY(kry_operator_check(terms[i]));
        KRY_REQUIRE(terms[i]->n == n, KRY_EINVAL);
        if (!have_space) {
            space = terms[i]->space;
            have_space = 1;
        }
        KRY_REQUIRE(terms[i]->space == space, KRY_EINVAL);
    }
    KRY_REQUIRE(p <= SIZE_MAX / sizeof(kry_operator) && n <= SIZE_MAX / sizeof(double),
                KRY_ENOMEM);
    affine_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->n = n;
    c->p = p;
    c->terms = calloc(p, sizeof(kry_operator));
    c->theta = malloc(p * sizeof(double));
    c->tmp = malloc(n * sizeof(double));
    if (c->terms == NULL || c->theta == NULL || c->tmp == NULL) {
        affine_destroy(c);
        return KRY_ENOMEM;
    }
    for (size_t i = 0; i < p; ++i)
        if (terms[i] != NULL)
            c->terms[i] = *terms[i];
    memcpy(c->theta, theta, p * sizeof(double));
    memset(out, 0, sizeof *out);
    out->n = n;
    out->matvec = affine_matvec;
    out->param_vjp = affine_param_vjp;
    out->n_params = p;
    out->ctx = c;
    out->destroy = affine_destroy;
    out->space = space;
    return KRY_OK;
}

kry_status kry_affine_set_theta(kry_operator *op, const double *theta)
{
    KRY_REQUIRE(op != NULL && theta != NULL, KRY_EINVAL);
    KRY_REQUIRE(op->destroy == affine_destroy && op->ctx != NULL, KRY_EINVAL);
    affine_ctx *c = op->ctx;
    KRY_REQUIRE(kry_vec_isfinite(c->p, theta), KRY_ENONFINITE);
    memcpy(c->theta, theta, c->p * sizeof(double));
    return KRY_OK;
}
