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
#include "kry/rng.h"

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

void *kry_ws_with_block(size_t bytes, size_t doubles, double **block)
{
    if (doubles == 0)
        return NULL;
    void *ws = calloc(1, bytes);
    double *blk = calloc(doubles, sizeof(double));
    if (ws == NULL || blk == NULL) {
        free(ws);
        free(blk);
        return NULL;
    }
    *block = blk;
    return ws;
}

kry_funm_ws *kry_funm_ws_alloc(size_t n, size_t max_steps)
{
    double *blk;
    kry_funm_ws *ws = kry_ws_with_block(sizeof *ws, ws_doubles(n, max_steps), &blk);
    if (ws == NULL)
        return NULL;
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

/* out = S (g o S^T e_0) for g = f or f' at the nodes. */
static void combine_e0(kry_funm_ws *ws, const double *g, double *out)
{
    const size_t m = ws->m;
    for (size_t i = 0; i < m; ++i)
        ws->y[i] = g[i] * ws->S[i * m];
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)m, (int)m, 1.0, ws->S, (int)m, ws->y, 1,
                0.0, out, 1);
}

void kry_funm_fe0(kry_funm_ws *ws, double *out) { combine_e0(ws, ws->fv, out); }

void kry_funm_dfe0(kry_funm_ws *ws, double *out) { combine_e0(ws, ws->dfv, out); }

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
        KRY_REQUIRE(fe0 != ws->y, KRY_EINVAL);
        combine_e0(ws, ws->fv, fe0);
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

/* ---- Lanczos layer ---- */



kry_status kry_funm_forward(const kry_operator *op, const kry_funm_fn *f, const double *v,
                            const kry_lanczos_params *lp, kry_lanczos_ws *lws,
                            kry_funm_ws *fws, double *quad, double *fe0,
                            kry_lanczos_result *info)
{
    KRY_TRY(kry_operator_check(op));
    KRY_TRY(kry_funm_check_fn(f));
    KRY_REQUIRE(v != NULL && lws != NULL && fws != NULL, KRY_EINVAL);
    kry_lanczos_result r;
    kry_status st = kry_lanczos_run(op, v, lp, lws, &r);
    if (info != NULL)
        *info = r;
    KRY_TRY(st);
    const size_t m = kry_lanczos_steps(lws);
    KRY_REQUIRE(m <= fws->cap, KRY_EDIM);
    return kry_funm_tridiag(fws, m, kry_lanczos_alpha(lws), kry_lanczos_beta(lws), f, quad,
                            fe0);
}

kry_status kry_funm_apply(const kry_operator *op, const kry_funm_fn *f, const double *v,
                          const kry_lanczos_params *lp, kry_lanczos_ws *lws,
                          kry_funm_ws *fws, double *y, kry_lanczos_result *info)
{
    KRY_REQUIRE(y != NULL, KRY_EINVAL);
    KRY_REQUIRE(fws != NULL, KRY_EINVAL);
    /* f(T) e_0 goes to the p scratch (y is kry_funm_tridiag's own scratch). */
    KRY_TRY(kry_funm_forward(op, f, v, lp, lws, fws, NULL, fws->p, info));
    const size_t m = fws->m, n = op->n;
    size_t ldq;
    const double *Q = kry_lanczos_basis(lws, &ldq);
    memset(y, 0, n * sizeof(double));
    kry_vec_gemv_n(n, m, kry_lanczos_v0_norm(lws), Q, ldq, fws->p, y);
    KRY_REQUIRE(kry_vec_isfinite(n, y), KRY_ENONFINITE);
    return KRY_OK;
}

kry_status kry_funm_quadform(const kry_operator *op, const kry_funm_fn *f, const double *v,
                             const kry_lanczos_params *lp, kry_lanczos_ws *lws,
                             kry_funm_ws *fws, double *value, kry_lanczos_result *info)
{
    KRY_REQUIRE(value != NULL, KRY_EINVAL);
    double quad;
    KRY_TRY(kry_funm_forward(op, f, v, lp, lws, fws, &quad, NULL, info));
    double l = kry_lanczos_v0_norm(lws);
    double val = l * l * quad;
    KRY_REQUIRE(isfinite(val), KRY_ENONFINITE);
    *value = val;
    return KRY_OK;
}

kry_slq_params kry_slq_params_default(void)
{
    kry_slq_params p;
    memset(&p, 0, sizeof p);
    p.probes = 0;
    p.probe = KRY_PROBE_RADEMACHER;
    p.seed = 1;
    p.lanczos = kry_lanczos_params_default();
    return p;
}

kry_status kry_slq_check(const kry_operator *op, const kry_slq_params *p,
                         const kry_funm_ws *fws, size_t *probes)
{
    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(p != NULL && fws != NULL, KRY_EINVAL);
    KRY_REQUIRE((int)p->probe >= 0 && p->probe < KRY_PROBE_KIND_COUNT, KRY_EINVAL);
    KRY_REQUIRE(fws->n == op->n, KRY_EDIM);
    *probes = p->probes == 0 ? 30 : p->probes;
    return KRY_OK;
}

void kry_slq_probe(const kry_operator *op, const kry_slq_params *p, size_t j, double *v)
{
    const kry_space *sp = op->space;
    uint64_t nglob = sp != NULL && sp->n_global != 0 ? sp->n_global : (uint64_t)op->n;
    uint64_t off = (sp != NULL ? sp->offset : 0) + (uint64_t)j * nglob;
    if (p->probe == KRY_PROBE_GAUSSIAN)
        kry_rng_fill_normal(p->seed, KRY_RNG_STREAM_PROBE, off, op->n, v);
    else
        kry_rng_fill_rademacher(p->seed, KRY_RNG_STREAM_PROBE, off, op->n, v);
}

void kry_slq_result_init(kry_slq_result *r)
{
    memset(r, 0, sizeof *r);
    r->ritz_min = INFINITY;
    r->ritz_max = -INFINITY;
    r->std_error = NAN;
}

void kry_slq_note_ritz(kry_slq_result *r, const kry_funm_ws *fws)
{
    if (fws->m == 0)
        return;
    r->ritz_min = fmin(r->ritz_min, fws->theta[0]);
    r->ritz_max = fmax(r->ritz_max, fws->theta[fws->m - 1]);
}

void kry_slq_finish(kry_slq_result *r, double mean, double m2)
{
    r->estimate = mean;
    r->std_error = r->probes > 1 ? sqrt(m2 / (double)(r->probes - 1) / (double)r->probes) : NAN;
}

/* One SLQ probe: Lanczos from the probe in fws->v1 and quadrature of f. *term =
   |v|^2 e_0^T f(T) e_0. Records matvecs, steps and Ritz range in *r. */
kry_status kry_slq_one(const kry_operator *op, const kry_funm_fn *f,
                       const kry_slq_params *p, size_t j, kry_lanczos_ws *lws,
                       kry_funm_ws *fws, kry_slq_result *r, double *term)
{
    kry_slq_probe(op, p, j, fws->v1);
    kry_lanczos_result lr;
    double quad = 0.0;
    kry_status st = kry_funm_forward(op, f, fws->v1, &p->lanczos, lws, fws, &quad, NULL, &lr);
    r->matvecs += lr.matvecs;
    if (lr.steps > r->steps_max)
        r->steps_max = lr.steps;
    if (st == KRY_OK || st == KRY_EDOMAIN)
        kry_slq_note_ritz(r, fws);
    KRY_TRY(st);
    double l = kry_lanczos_v0_norm(lws);
    *term = l * l * quad;
    KRY_REQUIRE(isfinite(*term), KRY_ENONFINITE);
    return KRY_OK;
}

kry_status kry_slq(const kry_operator *op, const kry_funm_fn *f, const kry_slq_params *params,
                   kry_lanczos_ws *lws, kry_funm_ws *fws, kry_slq_result *res)
{
    kry_slq_params p = params != NULL ? *params : kry_slq_params_default();
    size_t N;
    kry_slq_result r;
    kry_slq_result_init(&r);
    kry_status st = kry_slq_check(op, &p, fws, &N);
    double mean = 0.0, m2 = 0.0;
    for (size_t j = 0; st == KRY_OK && j < N; ++j) {
        double t;
        st = kry_slq_one(op, f, &p, j, lws, fws, &r, &t);
        if (st != KRY_OK)
            break;
        /* Welford's running mean and sum of squared deviations. */
        r.probes = j + 1;
        double d = t - mean;
        mean += d / (double)r.probes;
        m2 += d * (t - mean);
    }
    kry_slq_finish(&r, mean, m2);
    if (res != NULL)
        *res = r;
    return st;
}

kry_status kry_trace_hutchinson(const kry_operator *op, const kry_slq_params *params,
                                kry_funm_ws *fws, kry_slq_result *res)
{
    kry_slq_params p = params != NULL ? *params : kry_slq_params_default();
    size_t N;
    kry_slq_result r;
    kry_slq_result_init(&r);
    r.ritz_min = r.ritz_max = NAN;
    kry_status st = kry_slq_check(op, &p, fws, &N);
    double mean = 0.0, m2 = 0.0;
    for (size_t j = 0; st == KRY_OK && j < N; ++j) {
        kry_slq_probe(op, &p, j, fws->v1);
        st = kry_operator_apply(op, fws->v1, fws->v2);
        if (st != KRY_OK)
            break;
        r.matvecs++;
        double t;
        st = kry_vec_dot(op->space, op->n, fws->v1, fws->v2, &t);
        if (st != KRY_OK)
            break;
        r.probes = j + 1;
        double d = t - mean;
        mean += d / (double)r.probes;
        m2 += d * (t - mean);
    }
    kry_slq_finish(&r, mean, m2);
    if (res != NULL)
        *res = r;
    return st;
}

kry_status kry_slq_logdet(const kry_operator *op, const kry_slq_params *params,
                          kry_lanczos_ws *lws, kry_funm_ws *fws, kry_slq_result *res)
{
    kry_funm_fn f = kry_funm_log();
    return kry_slq(op, &f, params, lws, fws, res);
}

/* f(x) = 1 for the node pass of kry_slq_nodes. */
static int one_fn(void *ctx, double x, double *f, double *df)
{
    (void)ctx;
    (void)x;
    *f = 1.0;
    *df = 0.0;
    return 0;
}

kry_status kry_slq_nodes(const kry_operator *op, const kry_slq_params *params,
                         kry_lanczos_ws *lws, kry_funm_ws *fws, double *nodes,
                         double *weights, size_t cap, size_t *count, kry_slq_result *res)
{
    KRY_REQUIRE(nodes != NULL && weights != NULL && count != NULL, KRY_EINVAL);
    *count = 0;
    kry_slq_params p = params != NULL ? *params : kry_slq_params_default();
    size_t N;
    kry_slq_result r;
    kry_slq_result_init(&r);
    kry_funm_fn one = kry_funm_user(one_fn, NULL);
    kry_status st = kry_slq_check(op, &p, fws, &N);
    double mean = 0.0, m2 = 0.0;
    for (size_t j = 0; st == KRY_OK && j < N; ++j) {
        double t;
        st = kry_slq_one(op, &one, &p, j, lws, fws, &r, &t);
        if (st != KRY_OK)
            break;
        if (fws->m > cap - *count) {
            st = KRY_EDIM;
            break;
        }
        for (size_t i = 0; i < fws->m; ++i) {
            nodes[*count + i] = fws->theta[i];
            weights[*count + i] = fws->wts[i] / (double)N;
        }
        *count += fws->m;
        r.probes = j + 1;
        double d = t - mean;
        mean += d / (double)r.probes;
        m2 += d * (t - mean);
    }
    kry_slq_finish(&r, mean, m2);
    if (res != NULL)
        *res = r;
    return st;
}

kry_status kry_density_eval(const double *nodes, const double *weights, size_t count,
                            double sigma, const double *t, size_t nt, double *out)
{
    KRY_REQUIRE(count == 0 || (nodes != NULL && weights != NULL), KRY_EINVAL);
    KRY_REQUIRE(nt == 0 || (t != NULL && out != NULL), KRY_EINVAL);
    KRY_REQUIRE(isfinite(sigma) && sigma > 0.0, KRY_EINVAL);
    KRY_REQUIRE(count == 0 || (kry_vec_isfinite(count, nodes) &&
                               kry_vec_isfinite(count, weights)),
                KRY_ENONFINITE);
    KRY_REQUIRE(nt == 0 || kry_vec_isfinite(nt, t), KRY_ENONFINITE);
    const double c = 1.0 / (sigma * sqrt(2.0 * M_PI)), h = -0.5 / (sigma * sigma);
    for (size_t k = 0; k < nt; ++k) {
        double s = 0.0;
        for (size_t i = 0; i < count; ++i) {
            double d = t[k] - nodes[i];
            s += weights[i] * exp(h * d * d);
        }
        out[k] = c * s;
    }
    return KRY_OK;
}

double kry_density_sigma_default(const double *nodes, size_t count, size_t steps)
{
    if (nodes == NULL || count == 0 || steps == 0)
        return 0.0;
    double lo = nodes[0], hi = nodes[0];
    for (size_t i = 1; i < count; ++i) {
        lo = fmin(lo, nodes[i]);
        hi = fmax(hi, nodes[i]);
    }
    double s = (hi - lo) / (double)steps;
    return s > 0.0 ? s : 1e-3 * fmax(1.0, fabs(hi));
}
