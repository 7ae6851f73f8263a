/* op_hvp_fd.c — operator module: Hessian-vector products by finite differences of a
   gradient callback (MATH.md section 5).

   With u = v/|v| and a step h along the unit direction u,
       central:  H v ~ |v| (g(theta + h u) - g(theta - h u)) / 2h,  h = eps^(1/3) s,
       forward:  H v ~ |v| (g(theta + h u) - g(theta)) / h,         h = eps^(1/2) s,
   where s = sqrt(1 + |theta|) and eps is the relative accuracy of the gradient. These
   steps balance truncation (O(h^2) resp. O(h)) against cancellation (O(eps/h)), the
   classical choice (Nocedal & Wright, "Numerical Optimization", 2nd ed., section 8.1).
   Normalising v first makes the step independent of the scale of v.

   theta is referenced, never written: the gradient is evaluated at a private buffer.
   The forward scheme caches g(theta) together with a bitwise copy of theta and
   recomputes it when memcmp finds theta's contents changed. All buffers are allocated
   once by the constructor, so a product allocates nothing; as a consequence one FD-HVP
   operator must not be used by two threads at once. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/operator.h"
#include "vec.h"

typedef struct hvp_ctx {
    size_t n;
    kry_grad_fn *grad;
    void *grad_ctx;
    const double *theta; /* the user's point, referenced */
    kry_fd_scheme scheme;
    double eps;          /* relative accuracy of the gradient */
    double h_user;       /* > 0: fixed step */
    double *pt;          /* n: the evaluation point theta +/- h u */
    double *gp;          /* n: g(theta + h u) */
    double *theta_copy;  /* n: theta at which g0 was computed (forward scheme) */
    double *g0;          /* n: cached g(theta) (forward scheme) */
    int cache_valid;
    double last_h;
    size_t grad_count;
} hvp_ctx;

/* Step along the unit direction for the current theta. */
static double hvp_step(const hvp_ctx *c)
{
    if (c->h_user > 0.0)
        return c->h_user;
    double tn = 0.0;
    (void)kry_vec_nrm2(NULL, c->n, c->theta, &tn); /* serial: cannot fail */
    double root = c->scheme == KRY_FD_CENTRAL ? cbrt(c->eps) : sqrt(c->eps);
    return root * sqrt(1.0 + tn);
}

/* pt = theta + t v, elementwise. */
static void hvp_point(size_t n, const double *theta, double t, const double *v, double *pt)
{
    for (size_t i = 0; i < n; ++i)
        pt[i] = theta[i] + t * v[i];
}

static int hvp_matvec(void *ctx, const double *restrict v, double *restrict y)
{
    hvp_ctx *c = ctx;
    size_t n = c->n;
    double nv = 0.0;
    (void)kry_vec_nrm2(NULL, n, v, &nv);
    if (nv == 0.0) {
        memset(y, 0, n * sizeof *y);
        return 0;
    }
    if (!isfinite(nv)) {
        /* Do not feed a non-finite point to the user's gradient; the NaN output makes
           kry_operator_apply report KRY_ENONFINITE. */
        for (size_t i = 0; i < n; ++i)
            y[i] = NAN;
        return 0;
    }

    double h = hvp_step(c);
    c->last_h = h;
    double t = h / nv; /* theta + h u = theta + (h/|v|) v */

    if (c->scheme == KRY_FD_CENTRAL) {
        hvp_point(n, c->theta, t, v, c->pt);
        c->grad_count++;
        if (c->grad(c->grad_ctx, c->pt, c->gp) != 0)
            return 1;
        hvp_point(n, c->theta, -t, v, c->pt);
        c->grad_count++;
        if (c->grad(c->grad_ctx, c->pt, y) != 0)
            return 1;
        double f = nv / (2.0 * h);
        for (size_t i = 0; i < n; ++i)
            y[i] = (c->gp[i] - y[i]) * f;
        return 0;
    }

    if (!c->cache_valid || memcmp(c->theta_copy, c->theta, n * sizeof *c->theta) != 0) {
        memcpy(c->theta_copy, c->theta, n * sizeof *c->theta);
        c->cache_valid = 0;
        c->grad_count++;
        if (c->grad(c->grad_ctx, c->theta_copy, c->g0) != 0)
            return 1;
        c->cache_valid = 1;
    }
    hvp_point(n, c->theta, t, v, c->pt);
    c->grad_count++;
    if (c->grad(c->grad_ctx, c->pt, y) != 0)
        return 1;
    double f = nv / h;
    for (size_t i = 0; i < n; ++i)
        y[i] = (y[i] - c->g0[i]) * f;
    return 0;
}

static void hvp_destroy(void *ctx)
{
    hvp_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->pt);
    free(c);
}

kry_hvp_fd_params kry_hvp_fd_params_default(void)
{
    kry_hvp_fd_params p;
    p.scheme = KRY_FD_CENTRAL;
    p.grad_rel_acc = 0.0;
    p.h = 0.0;
    return p;
}

kry_status kry_operator_hvp_fd(size_t n, kry_grad_fn *grad, void *grad_ctx,
                               const double *theta, const kry_hvp_fd_params *params,
                               kry_operator *out)
{
    KRY_REQUIRE(out != NULL && grad != NULL && theta != NULL && n >= 1, KRY_EINVAL);
    kry_hvp_fd_params p = params ? *params : kry_hvp_fd_params_default();
    KRY_REQUIRE(p.scheme == KRY_FD_CENTRAL || p.scheme == KRY_FD_FORWARD, KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.grad_rel_acc) && p.grad_rel_acc < 1.0, KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.h), KRY_EINVAL);
    KRY_REQUIRE(kry_fits_blas_int(n), KRY_ERANGE);
    KRY_REQUIRE(n <= SIZE_MAX / (4 * sizeof(double)), KRY_ENOMEM);
    KRY_REQUIRE(kry_vec_isfinite(n, theta), KRY_ENONFINITE);

    hvp_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->pt = malloc(4 * n * sizeof *c->pt);
    if (c->pt == NULL) {
        free(c);
        return KRY_ENOMEM;
    }
    c->gp = c->pt + n;
    c->theta_copy = c->gp + n;
    c->g0 = c->theta_copy + n;
    c->n = n;
    c->grad = grad;
    c->grad_ctx = grad_ctx;
    c->theta = theta;
    c->scheme = p.scheme;
    c->eps = p.grad_rel_acc > 0.0 ? p.grad_rel_acc : DBL_EPSILON;
    c->h_user = p.h > 0.0 ? p.h : 0.0;

    memset(out, 0, sizeof *out);
    out->n = n;
    out->matvec = hvp_matvec;
    out->ctx = c;
    out->destroy = hvp_destroy;
    return KRY_OK;
}

kry_status kry_hvp_fd_last_step(const kry_operator *op, double *h)
{
    KRY_REQUIRE(op != NULL && h != NULL, KRY_EINVAL);
    KRY_REQUIRE(op->destroy == hvp_destroy && op->ctx != NULL, KRY_EINVAL);
    *h = ((const hvp_ctx *)op->ctx)->last_h;
    return KRY_OK;
}

kry_status kry_hvp_fd_grad_count(const kry_operator *op, size_t *count)
{
    KRY_REQUIRE(op != NULL && count != NULL, KRY_EINVAL);
    KRY_REQUIRE(op->destroy == hvp_destroy && op->ctx != NULL, KRY_EINVAL);
    *count = ((const hvp_ctx *)op->ctx)->grad_count;
    return KRY_OK;
}
