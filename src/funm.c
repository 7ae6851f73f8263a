/* funm.c — matrix functions module, tridiagonal layer: scalar functions with accurate
   divided differences, f(T) e_0 and e_0^T f(T) e_0 for a symmetric tridiagonal T by its
   eigen-decomposition (LAPACK dstev), Gauss quadrature nodes and weights, and the
   Daleckii-Krein cotangent of T for a loss a^T f(T) b (MATH.md sections 6 and 7).

   Divided differences F_ij = (f(x_i) - f(x_j)) / (x_i - x_j) lose all accuracy to
   cancellation when x_i ~ x_j if formed as written; for the built-in functions they are
   rewritten without subtraction of nearby values:
       exp(t x):  exp(t y) expm1(t (x - y)) / (x - y)   (y the end with the smaller t y)
       log x:     log1p((x - y) / y) / (x - y)          (y = min(x, y))
       sqrt x:    1 / (sqrt x + sqrt y)
       1 / x:     -1 / (x y)
   For user functions the plain quotient is used unless |x - y| <= sqrt(eps) max(|x|,
   |y|), in which case the mean of the two derivatives (error O(|x - y|^2)) is used.

   References: Golub & Meurant, "Matrices, Moments and Quadrature with Applications"
   (2010) for the quadrature; Daleckii & Krein (1965) and Higham, "Functions of
   Matrices" (2008), Thm 3.11, for the Frechet derivative of f at a symmetric matrix. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "funm_impl.h"
#include "internal.h"

/* ---- Scalar functions ---- */

kry_funm_fn kry_funm_exp(double t)
{
    kry_funm_fn f = {KRY_FUNM_EXP, t, NULL, NULL};
    return f;
}

kry_funm_fn kry_funm_log(void)
{
    kry_funm_fn f = {KRY_FUNM_LOG, 0.0, NULL, NULL};
    return f;
}

kry_funm_fn kry_funm_sqrt(void)
{
    kry_funm_fn f = {KRY_FUNM_SQRT, 0.0, NULL, NULL};
    return f;
}

kry_funm_fn kry_funm_inv(void)
{
    kry_funm_fn f = {KRY_FUNM_INV, 0.0, NULL, NULL};
    return f;
}

kry_funm_fn kry_funm_user(kry_scalar_fn *fn, void *ctx)
{
    kry_funm_fn f = {KRY_FUNM_USER, 0.0, fn, ctx};
    return f;
}

kry_status kry_funm_check_fn(const kry_funm_fn *f)
{
    KRY_REQUIRE(f != NULL, KRY_EINVAL);
    KRY_REQUIRE((int)f->kind >= 0 && f->kind < KRY_FUNM_KIND_COUNT, KRY_EINVAL);
    KRY_REQUIRE(f->kind != KRY_FUNM_USER || f->user != NULL, KRY_EINVAL);
    KRY_REQUIRE(f->kind != KRY_FUNM_EXP || isfinite(f->t), KRY_EINVAL);
    return KRY_OK;
}

/* f and f' at x, for a checked f. */
static kry_status eval_checked(const kry_funm_fn *f, double x, double *fx, double *dfx)
{
    double v = 0.0, d = 0.0;
    KRY_REQUIRE(isfinite(x), KRY_ENONFINITE);
    switch (f->kind) {
    case KRY_FUNM_EXP:
        v = exp(f->t * x);
        d = f->t * v;
        break;
    case KRY_FUNM_LOG:
        KRY_REQUIRE(x > 0.0, KRY_EDOMAIN);
        v = log(x);
        d = 1.0 / x;
        break;
    case KRY_FUNM_SQRT:
        KRY_REQUIRE(x > 0.0, KRY_EDOMAIN);
        v = sqrt(x);
        d = 0.5 / v;
        break;
    case KRY_FUNM_INV:
        KRY_REQUIRE(x != 0.0, KRY_EDOMAIN);
        v = 1.0 / x;
        d = -v * v;
        break;
    default: {
        int rc = f->user(f->ctx, x, &v, &d);
        if (rc > 0)
            return KRY_EDOMAIN;
        if (rc < 0)
            return KRY_ECALLBACK;
        break;
    }
    }
    KRY_REQUIRE(isfinite(v) && isfinite(d), KRY_ENONFINITE);
    *fx = v;
    *dfx = d;
    return KRY_OK;
}

kry_status kry_funm_eval(const kry_funm_fn *f, double x, double *fx, double *dfx)
{
    KRY_TRY(kry_funm_check_fn(f));
    double v, d;
    KRY_TRY(eval_checked(f, x, &v, &d));
    if (fx != NULL)
        *fx = v;
    if (dfx != NULL)
        *dfx = d;
    return KRY_OK;
}

/* Divided difference from the nodes x, y and the values f(x), f(y), f'(x), f'(y)
   (already evaluated, so x and y are in the domain). */
static double divdiff_values(const kry_funm_fn *f, double x, double y, double fx, double fy,
                             double dfx, double dfy)
{
    if (x == y)
        return 0.5 * (dfx + dfy);
    switch (f->kind) {
    case KRY_FUNM_EXP: {
        /* exp(t y) expm1(t (x - y)) / (x - y) with t y <= t x, so expm1's argument is
           >= 0 and the prefactor is the smaller exponential. */
        double lo = x, hi = y;
        if (f->t * x > f->t * y) {
            lo = y;
            hi = x;
        }
        return exp(f->t * lo) * expm1(f->t * (hi - lo)) / (hi - lo);
    }
    case KRY_FUNM_LOG: {
        double lo = fmin(x, y), hi = fmax(x, y);
        return log1p((hi - lo) / lo) / (hi - lo);
    }
    case KRY_FUNM_SQRT:
        return 1.0 / (sqrt(x) + sqrt(y));
    case KRY_FUNM_INV:
        return -1.0 / (x * y);
    default:
        if (fabs(x - y) <= sqrt(DBL_EPSILON) * fmax(fabs(x), fabs(y)))
            return 0.5 * (dfx + dfy);
        return (fx - fy) / (x - y);
    }
}

kry_status kry_funm_divdiff(const kry_funm_fn *f, double x, double y, double *out)
{
    KRY_TRY(kry_funm_check_fn(f));
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    double fx, fy, dfx, dfy;
    KRY_TRY(eval_checked(f, x, &fx, &dfx));
    KRY_TRY(eval_checked(f, y, &fy, &dfy));
    double v = divdiff_values(f, x, y, fx, fy, dfx, dfy);
    KRY_REQUIRE(isfinite(v), KRY_ENONFINITE);
    *out = v;
    return KRY_OK;
}

/* ---- Workspace ---- */

/* Doubles in the block: theta, wts, fv, dfv, e, p, q, y (8m), work (2m), S, F, W (3m^2),
   v1, v2 (2n). Returns 0 on overflow. */
static size_t ws_doubles(size_t n, size_t m)
{
    const size_t lim = SIZE_MAX / sizeof(double) / 8;
    if (m == 0 || m > lim / m / 3 || n > lim / 4)
        return 0;
    size_t d = 3 * m * m;
    if (d > lim - 10 * m - 2 * n)
        return 0;
    return d + 10 * m + 2 * n;
}

size_t kry_funm_ws_bytes(size_t n, size_t max_steps)
{
    size_t d = ws_doubles(n, max_steps);
    return d == 0 ? 0 : d * sizeof(double) + sizeof(kry_funm_ws);
}

kry_funm_ws *kry_funm_ws_alloc(size_t n, size_t max_steps)
{
    size_t d = ws_doubles(n, max_steps);
    if (d == 0)
        return NULL;
    kry_funm_ws *ws = calloc(1, sizeof *ws);
    double *blk = calloc(d, sizeof(double));
    if (ws == NULL || blk == NULL) {
        free(ws);
        free(blk);
        return NULL;
    }
    size_t m = max_steps;
    ws->n = n;
    ws->cap = m;
    ws->block = blk;
    ws->theta = blk;
    ws->wts = ws->theta + m;
    ws->fv = ws->wts + m;
    ws->dfv = ws->fv + m;
    ws->e = ws->dfv + m;
    ws->p = ws->e + m;
    ws->q = ws->p + m;
    ws->y = ws->q + m;
    ws->work = ws->y + m;
    ws->S = ws->work + 2 * m;
    ws->F = ws->S + m * m;
    ws->W = ws->F + m * m;
    ws->v1 = n > 0 ? ws->W + m * m : NULL;
    ws->v2 = n > 0 ? ws->v1 + n : NULL;
    return ws;
}

void kry_funm_ws_free(kry_funm_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->block);
    free(ws);
}

/* ---- Tridiagonal layer ---- */

kry_status kry_funm_tridiag(kry_funm_ws *ws, size_t m, const double *alpha,
                            const double *beta, const kry_funm_fn *f, double *quad,
                            double *fe0)
{
    KRY_REQUIRE(ws != NULL && alpha != NULL && m >= 1, KRY_EINVAL);
    KRY_REQUIRE(m == 1 || beta != NULL, KRY_EINVAL);
    KRY_TRY(kry_funm_check_fn(f));
    KRY_REQUIRE(m <= ws->cap, KRY_EDIM);
    KRY_REQUIRE(kry_fits_blas_int(m), KRY_ERANGE);
    KRY_REQUIRE(kry_vec_isfinite(m, alpha), KRY_ENONFINITE);
    KRY_REQUIRE(m == 1 || kry_vec_isfinite(m - 1, beta), KRY_ENONFINITE);

    ws->valid = 0;
    ws->m = 0;
    ws->f = *f;
    memcpy(ws->theta, alpha, m * sizeof(double));
    if (m > 1)
        memcpy(ws->e, beta, (m - 1) * sizeof(double));
    lapack_int info = LAPACKE_dstev_work(LAPACK_COL_MAJOR, 'V', (lapack_int)m, ws->theta,
                                         ws->e, ws->S, (lapack_int)m, ws->work);
    KRY_REQUIRE(info == 0, KRY_ELAPACK);
    ws->m = m;
    for (size_t i = 0; i < m; ++i) {
        double s = ws->S[i * m];
        ws->wts[i] = s * s;
    }
    for (size_t i = 0; i < m; ++i)
        KRY_TRY(eval_checked(f, ws->theta[i], &ws->fv[i], &ws->dfv[i]));
    ws->valid = 1;

    if (quad != NULL) {
        double s = 0.0;
        for (size_t i = 0; i < m; ++i)
            s += ws->wts[i] * ws->fv[i];
        KRY_REQUIRE(isfinite(s), KRY_ENONFINITE);
        *quad = s;
    }
    if (fe0 != NULL) {
        /* f(T) e_0 = S (f(theta) o S^T e_0), and S^T e_0 is the first row of S. */
        for (size_t i = 0; i < m; ++i)
            ws->y[i] = ws->fv[i] * ws->S[i * m];
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)m, (int)m, 1.0, ws->S, (int)m, ws->y,
                    1, 0.0, fe0, 1);
        KRY_REQUIRE(kry_vec_isfinite(m, fe0), KRY_ENONFINITE);
    }
    return KRY_OK;
}

const double *kry_funm_nodes(const kry_funm_ws *ws, size_t *m)
{
    size_t mm = ws != NULL ? ws->m : 0;
    if (m != NULL)
        *m = mm;
    return mm > 0 ? ws->theta : NULL;
}

const double *kry_funm_weights(const kry_funm_ws *ws)
{
    return ws != NULL && ws->m > 0 ? ws->wts : NULL;
}

kry_status kry_funm_tridiag_vjp(kry_funm_ws *ws, const double *a, const double *b,
                                double *alpha_bar, double *beta_bar)
{
    KRY_REQUIRE(ws != NULL && a != NULL && alpha_bar != NULL, KRY_EINVAL);
    KRY_REQUIRE(ws->valid, KRY_EINVAL);
    const size_t m = ws->m;
    KRY_REQUIRE(m == 1 || beta_bar != NULL, KRY_EINVAL);
    const double *S = ws->S;
    /* p = S^T a, q = S^T b (the first row of S when b is e_0). */
    cblas_dgemv(CblasColMajor, CblasTrans, (int)m, (int)m, 1.0, S, (int)m, a, 1, 0.0, ws->p,
                1);
    if (b != NULL)
        cblas_dgemv(CblasColMajor, CblasTrans, (int)m, (int)m, 1.0, S, (int)m, b, 1, 0.0,
                    ws->q, 1);
    else
        for (size_t i = 0; i < m; ++i)
            ws->q[i] = S[i * m];
    /* M = F o (p q^T), with the divided differences F_ij formed on the fly (F is
       symmetric). Tbar = S M S^T, of which only the three central diagonals are needed:
       with R = S M (one dgemm), Tbar_kl = sum_j R_kj S_lj is O(m) per entry. */
    double *M = ws->F, *R = ws->W;
    for (size_t j = 0; j < m; ++j) {
        for (size_t i = j; i < m; ++i) {
            double v = i == j ? ws->dfv[i]
                              : divdiff_values(&ws->f, ws->theta[i], ws->theta[j],
                                               ws->fv[i], ws->fv[j], ws->dfv[i],
                                               ws->dfv[j]);
            KRY_REQUIRE(isfinite(v), KRY_ENONFINITE);
            M[i + j * m] = v * ws->p[i] * ws->q[j];
            M[j + i * m] = v * ws->p[j] * ws->q[i];
        }
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)m, (int)m, 1.0, S,
                (int)m, M, (int)m, 0.0, R, (int)m);
    for (size_t k = 0; k < m; ++k) {
        double s = 0.0;
        for (size_t j = 0; j < m; ++j)
            s += R[k + j * m] * S[k + j * m];
        alpha_bar[k] = s;
    }
    for (size_t k = 0; k + 1 < m; ++k) {
        double s = 0.0;
        for (size_t j = 0; j < m; ++j)
            s += R[k + j * m] * S[k + 1 + j * m] + R[k + 1 + j * m] * S[k + j * m];
        beta_bar[k] = s;
    }
    KRY_REQUIRE(kry_vec_isfinite(m, alpha_bar), KRY_ENONFINITE);
    KRY_REQUIRE(m == 1 || kry_vec_isfinite(m - 1, beta_bar), KRY_ENONFINITE);
    return KRY_OK;
}
