/* op_wrap.c — operator module: wrappers around an existing operator and the symmetry
   probe.

   shift:     y = A x - sigma x          (spectral shift; param_vjp forwarded unchanged)
   scale:     y = s A x                  (param_vjp forwarded with w replaced by s w)
   deflated:  y = A x - V diag(lambda) V^T x  (Hotelling deflation, see MATH.md section 1;
              V^T x is one kry_vec_gemv_t through a->space, so it works distributed)
   symmetry:  |x^T A y - y^T A x| / (|x| |A y| + |y| |A x|) for random x, y.

   Each wrapper keeps a by-value copy of the wrapped kry_operator (so the caller's struct
   may go out of scope, but a->ctx must outlive the wrapper) and calls the wrapped
   callbacks directly, returning their nonzero status unchanged. Scratch space (scale's
   s w, deflated's V^T x) is allocated once by the constructor: products never allocate,
   and consequently one wrapper must not be used by two threads at once. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/operator.h"
#include "kry/rng.h"
#include "vec.h"

/* *out = the wrapper of a (same n and space) with callbacks mv, mvb, vjp and context
   ctx; the block and parameter products are offered only where a has them. */
static void wrap_of(const kry_operator *a, kry_matvec_fn *mv, kry_matvec_block_fn *mvb,
                    kry_param_vjp_fn *vjp, void *ctx, kry_destroy_fn *destroy,
                    kry_operator *out)
{
    memset(out, 0, sizeof *out);
    out->n = a->n;
    out->matvec = mv;
    out->matvec_block = a->matvec_block ? mvb : NULL;
    out->param_vjp = a->param_vjp ? vjp : NULL;
    out->n_params = out->param_vjp ? a->n_params : 0;
    out->ctx = ctx;
    out->destroy = destroy;
    out->space = a->space;
}

/* ---- shift ---- */

typedef struct shift_ctx {
    kry_operator a;
    double sigma;
} shift_ctx;

static int shift_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const shift_ctx *c = ctx;
    int rc = c->a.matvec(c->a.ctx, x, y);
    if (rc != 0)
        return rc;
    kry_vec_axpy(c->a.n, -c->sigma, x, y);
    return 0;
}

static int shift_matvec_block(void *ctx, size_t k, const double *restrict x, size_t ldx,
                              double *restrict y, size_t ldy)
{
    const shift_ctx *c = ctx;
    int rc = c->a.matvec_block(c->a.ctx, k, x, ldx, y, ldy);
    if (rc != 0)
        return rc;
    for (size_t j = 0; j < k; ++j)
        kry_vec_axpy(c->a.n, -c->sigma, x + j * ldx, y + j * ldy);
    return 0;
}

static int shift_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                           double *restrict grad)
{
    const shift_ctx *c = ctx;
    return c->a.param_vjp(c->a.ctx, u, w, grad);
}

kry_status kry_operator_shift(const kry_operator *a, double sigma, kry_operator *out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    KRY_TRY(kry_operator_check(a));
    KRY_REQUIRE(kry_fits_blas_int(a->n), KRY_ERANGE);
    KRY_REQUIRE(isfinite(sigma), KRY_ENONFINITE);
    shift_ctx *c = malloc(sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->a = *a;
    c->sigma = sigma;

    wrap_of(a, shift_matvec, shift_matvec_block, shift_param_vjp, c, free, out);
    return KRY_OK;
}

/* ---- scale ---- */

typedef struct scale_ctx {
    kry_operator a;
    double s;
    double *sw; /* n: s w for param_vjp; NULL when a has no param_vjp */
} scale_ctx;

static int scale_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const scale_ctx *c = ctx;
    int rc = c->a.matvec(c->a.ctx, x, y);
    if (rc != 0)
        return rc;
    kry_vec_scal(c->a.n, c->s, y);
    return 0;
}

static int scale_matvec_block(void *ctx, size_t k, const double *restrict x, size_t ldx,
                              double *restrict y, size_t ldy)
{
    const scale_ctx *c = ctx;
    int rc = c->a.matvec_block(c->a.ctx, k, x, ldx, y, ldy);
    if (rc != 0)
        return rc;
    for (size_t j = 0; j < k; ++j)
        kry_vec_scal(c->a.n, c->s, y + j * ldy);
    return 0;
}

/* d(w^T (s A) u) = d((s w)^T A u): forward s w, since param_vjp adds into grad. */
static int scale_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                           double *restrict grad)
{
    const scale_ctx *c = ctx;
    for (size_t i = 0; i < c->a.n; ++i)
        c->sw[i] = c->s * w[i];
    return c->a.param_vjp(c->a.ctx, u, c->sw, grad);
}

static void scale_destroy(void *ctx)
{
    scale_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->sw);
    free(c);
}

kry_status kry_operator_scale(const kry_operator *a, double s, kry_operator *out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    KRY_TRY(kry_operator_check(a));
    KRY_REQUIRE(kry_fits_blas_int(a->n), KRY_ERANGE);
    KRY_REQUIRE(isfinite(s), KRY_ENONFINITE);
    KRY_REQUIRE(a->n <= SIZE_MAX / sizeof(double), KRY_ENOMEM);
    scale_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->a = *a;
    c->s = s;
    if (a->param_vjp != NULL) {
        c->sw = malloc(a->n * sizeof *c->sw);
        if (c->sw == NULL) {
            free(c);
            return KRY_ENOMEM;
        }
    }

    wrap_of(a, scale_matvec, scale_matvec_block, scale_param_vjp, c, scale_destroy, out);
    return KRY_OK;
}

/* ---- deflated ---- */

typedef struct deflated_ctx {
    kry_operator a;
    size_t k;
    double *lambda; /* k */
    double *V;      /* n x k column-major, leading dimension n */
    double *c;      /* k: scratch for V^T x */
} deflated_ctx;

static int deflated_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const deflated_ctx *c = ctx;
    int rc = c->a.matvec(c->a.ctx, x, y);
    if (rc != 0)
        return rc;
    if (c->k == 0)
        return 0;
    size_t n = c->a.n;
    if (kry_vec_gemv_t(c->a.space, n, c->k, c->V, n, x, c->c) != KRY_OK)
        return 1; /* the reduction hook failed */
    for (size_t i = 0; i < c->k; ++i)
        c->c[i] *= c->lambda[i];
    kry_vec_gemv_n(n, c->k, -1.0, c->V, n, c->c, y);
    return 0;
}

static void deflated_destroy(void *ctx)
{
    deflated_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->lambda);
    free(c);
}

kry_status kry_operator_deflated(const kry_operator *a, size_t k, const double *lambda,
                                 const double *V, size_t ldv, kry_operator *out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    KRY_TRY(kry_operator_check(a));
    size_t n = a->n;
    KRY_REQUIRE(k == 0 || (lambda != NULL && V != NULL && ldv >= n), KRY_EINVAL);
    KRY_REQUIRE(kry_fits_blas_int(n) && kry_fits_blas_int(k), KRY_ERANGE);
    /* Storage: lambda, scratch and V in one block of k (n + 2) doubles. */
    KRY_REQUIRE(k == 0 || n + 2 <= SIZE_MAX / sizeof(double) / k, KRY_ENOMEM);
    /* The last entry of V read is V[(k-1) ldv + n-1]; its index must be representable. */
    KRY_REQUIRE(k <= 1 || ldv <= (SIZE_MAX - n) / (k - 1), KRY_EINVAL);
    if (k > 0) {
        KRY_REQUIRE(kry_vec_isfinite(k, lambda), KRY_ENONFINITE);
        for (size_t j = 0; j < k; ++j)
            KRY_REQUIRE(kry_vec_isfinite(n, V + j * ldv), KRY_ENONFINITE);
    }

    deflated_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->a = *a;
    c->k = k;
    if (k > 0) {
        c->lambda = malloc(k * (n + 2) * sizeof *c->lambda);
        if (c->lambda == NULL) {
            free(c);
            return KRY_ENOMEM;
        }
        c->c = c->lambda + k;
        c->V = c->c + k;
        memcpy(c->lambda, lambda, k * sizeof *lambda);
        for (size_t j = 0; j < k; ++j)
            memcpy(c->V + j * n, V + j * ldv, n * sizeof *V);
    }

    wrap_of(a, deflated_matvec, NULL, NULL, c, deflated_destroy, out);
    return KRY_OK;
}

/* ---- symmetry probe ---- */

/* x and y come from two different library streams of the same seed, so they are
   independent. */
kry_status kry_operator_symmetry(const kry_operator *op, uint64_t seed, double *rel)
{
    KRY_REQUIRE(rel != NULL, KRY_EINVAL);
    KRY_TRY(kry_operator_check(op));
    size_t n = op->n;
    KRY_REQUIRE(kry_fits_blas_int(n), KRY_ERANGE);
    KRY_REQUIRE(n <= SIZE_MAX / (4 * sizeof(double)), KRY_ENOMEM);

    kry_status st = KRY_OK;
    double *x = malloc(4 * n * sizeof *x);
    if (x == NULL)
        return KRY_ENOMEM;
    double *y = x + n, *ax = y + n, *ay = ax + n;
    kry_vec_random(op->space, n, seed, KRY_RNG_STREAM_PROBE, x);
    kry_vec_random(op->space, n, seed, KRY_RNG_STREAM_RESTART, y);
    KRY_TRY_GOTO(st, kry_operator_apply(op, x, ax));
    KRY_TRY_GOTO(st, kry_operator_apply(op, y, ay));

    double xay, yax, nx, ny, nax, nay;
    KRY_TRY_GOTO(st, kry_vec_dot(op->space, n, x, ay, &xay));
    KRY_TRY_GOTO(st, kry_vec_dot(op->space, n, y, ax, &yax));
    KRY_TRY_GOTO(st, kry_vec_nrm2(op->space, n, x, &nx));
    KRY_TRY_GOTO(st, kry_vec_nrm2(op->space, n, y, &ny));
    KRY_TRY_GOTO(st, kry_vec_nrm2(op->space, n, ax, &nax));
    KRY_TRY_GOTO(st, kry_vec_nrm2(op->space, n, ay, &nay));
    double den = nx * nay + ny * nax;
    *rel = den > 0.0 ? fabs(xay - yax) / den : 0.0; /* A = 0 is symmetric */

fail:
    free(x);
    return st;
}
