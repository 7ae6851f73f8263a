/* op_affine.c — operator module: affine families with parameter gradients.
   - The affine family A(theta) = sum_i theta_i B_i over any symmetric operators B_i
     (NULL terms stand for the identity), with its parameter VJP
     d(w^T A(theta) u)/d(theta_i) = w^T B_i u and a fused product for the adjoint sweep
     that forms each B_i w once for both u = A(theta) w and x^T B_i w.
   - The tridiagonal pencil A_0 + sum_i x_i A_i with the point x and all the
     coefficients of the A_i as parameters (MATH.md section 4's linear layer).

   Each operator is recognised by its destroy function, which no other operator uses,
   so the setters reject any other operator with KRY_EINVAL. */
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

/* ---- The tridiagonal pencil with every coefficient a parameter ---- */

typedef struct pfull_ctx {
    size_t n, p;
    double *theta;   /* packed (x, d0, e0, D, E) */
    double *blk;     /* 4 n: the two (d, e) pairs below */
    double *d, *e;   /* current diagonal (n) and off-diagonal (n-1) */
    double *dn, *en; /* a candidate point, swapped in when finite */
} pfull_ctx;

size_t kry_pencil_full_nparams(size_t n, size_t p)
{
    if (n == 0 || p > (SIZE_MAX / 8) / n)
        return 0;
    return p + n + (n - 1) + n * p + (n - 1) * p;
}

/* d = d0 + D x, e = e0 + E x into dd, ee; 0 if all finite. */
static int pfull_assemble(size_t n, size_t p, const double *theta, double *dd, double *ee)
{
    const double *x = theta, *d0 = x + p, *e0 = d0 + n, *D = e0 + (n - 1),
                 *E = D + n * p;
    for (size_t r = 0; r < n; ++r) {
        double s = d0[r];
        for (size_t i = 0; i < p; ++i)
            s += D[r * p + i] * x[i];
        dd[r] = s;
    }
    for (size_t r = 0; r + 1 < n; ++r) {
        double s = e0[r];
        for (size_t i = 0; i < p; ++i)
            s += E[r * p + i] * x[i];
        ee[r] = s;
    }
    return kry_vec_isfinite(n, dd) && (n == 1 || kry_vec_isfinite(n - 1, ee)) ? 0 : -1;
}

static int pfull_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const pfull_ctx *c = ctx;
    const size_t n = c->n;
    const double *d = c->d, *e = c->e;
    if (n == 1) {
        y[0] = d[0] * x[0];
        return 0;
    }
    y[0] = d[0] * x[0] + e[0] * x[1];
    for (size_t i = 1; i + 1 < n; ++i)
        y[i] = e[i - 1] * x[i - 1] + d[i] * x[i] + e[i] * x[i + 1];
    y[n - 1] = e[n - 2] * x[n - 2] + d[n - 1] * x[n - 1];
    return 0;
}

static int pfull_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                           double *restrict grad)
{
    const pfull_ctx *c = ctx;
    const size_t n = c->n, p = c->p;
    const double *x = c->theta, *D = c->theta + p + n + (n - 1), *E = D + n * p;
    double *gx = grad, *gd0 = gx + p, *ge0 = gd0 + n, *gD = ge0 + (n - 1), *gE = gD + n * p;
    for (size_t r = 0; r < n; ++r) {
        const double s = w[r] * u[r];
        gd0[r] += s;
        for (size_t i = 0; i < p; ++i) {
            gx[i] += D[r * p + i] * s;
            gD[r * p + i] += s * x[i];
        }
    }
    for (size_t r = 0; r + 1 < n; ++r) {
        const double t = w[r] * u[r + 1] + w[r + 1] * u[r];
        ge0[r] += t;
        for (size_t i = 0; i < p; ++i) {
            gx[i] += E[r * p + i] * t;
            gE[r * p + i] += t * x[i];
        }
    }
    return 0;
}

static void pfull_destroy(void *ctx)
{
    pfull_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->theta);
    free(c->blk);
    free(c);
}

kry_status kry_operator_pencil_full(size_t n, size_t p, const double *theta,
                                    kry_operator *out)
{
    KRY_REQUIRE(out != NULL && theta != NULL && n >= 1, KRY_EINVAL);
    const size_t np = kry_pencil_full_nparams(n, p);
    KRY_REQUIRE(np != 0 && n <= SIZE_MAX / (4 * sizeof(double)), KRY_ERANGE);
    KRY_REQUIRE(kry_vec_isfinite(np, theta), KRY_ENONFINITE);
    pfull_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->n = n;
    c->p = p;
    c->theta = malloc(np * sizeof(double));
    c->blk = malloc(4 * n * sizeof(double));
    if (c->theta == NULL || c->blk == NULL) {
        pfull_destroy(c);
        return KRY_ENOMEM;
    }
    c->d = c->blk;
    c->e = c->blk + n;
    c->dn = c->blk + 2 * n;
    c->en = c->blk + 3 * n;
    memcpy(c->theta, theta, np * sizeof(double));
    if (pfull_assemble(n, p, theta, c->d, c->e) != 0) {
        pfull_destroy(c);
        return KRY_ENONFINITE;
    }
    memset(out, 0, sizeof *out);
    out->n = n;
    out->matvec = pfull_matvec;
    out->param_vjp = pfull_param_vjp;
    out->n_params = np;
    out->ctx = c;
    out->destroy = pfull_destroy;
    return KRY_OK;
}

kry_status kry_pencil_full_set(kry_operator *op, const double *theta)
{
    KRY_REQUIRE(op != NULL && theta != NULL, KRY_EINVAL);
    KRY_REQUIRE(op->destroy == pfull_destroy && op->ctx != NULL, KRY_EINVAL);
    pfull_ctx *c = op->ctx;
    const size_t n = c->n, p = c->p, np = kry_pencil_full_nparams(n, p);
    KRY_REQUIRE(kry_vec_isfinite(np, theta), KRY_ENONFINITE);
    /* Assemble into the spare pair, so that a failure leaves the old point in force. */
    KRY_REQUIRE(pfull_assemble(n, p, theta, c->dn, c->en) == 0, KRY_ENONFINITE);
    double *t = c->d;
    c->d = c->dn;
    c->dn = t;
    t = c->e;
    c->e = c->en;
    c->en = t;
    memcpy(c->theta, theta, np * sizeof(double));
    return KRY_OK;
}
