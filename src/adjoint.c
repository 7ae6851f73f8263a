/* adjoint.c — adjoint module: the backward sweep through a Lanczos decomposition
   (MATH.md section 7), in two variants.

   Lanczos adjoint (forward with reorth none), with lambda_K = 0, g = xbar_K:
       for k = K-1 .. 0:
           g <- g / beta_k
           mu_k = beta_bar_k - lambda_{k+1}^T x_k - x_{k+1}^T g
           nu_k = alpha_bar_k - x_k^T g
           lambda_k = g + mu_k x_{k+1} + nu_k x_k
           u_k = A lambda_k;  theta_bar += d(lambda_k^T A(theta) x_k)/d(theta)
           g <- xbar_k + u_k - alpha_k lambda_k - beta_k lambda_{k+1} + beta_k nu_k x_{k+1}
       v_bar = (I - x_0 x_0^T) g / |v|.
   It is the Lagrangian adjoint of the recurrence A x_k = alpha_k x_k + beta_{k-1} x_{k-1}
   + beta_k x_{k+1} with the local constraints x_k^T x_{k+1} = 0, |x_{k+1}| = 1; the
   multipliers of the latter are mu_k and nu_k, and beta_k nu_k x_{k+1} is the one that
   reaches the next equation. Memory traffic per step: besides the product with A, two
   passes, one forming lambda_k and one updating g that also forms the three inner
   products of the next step (reduced together, one allreduce per step).

   Arnoldi adjoint with re-projection (forward with reorth full). The forward pass is an
   Arnoldi process A X = X H + beta_{K-1} x_K e^T with X^T X = I and H = T (the
   off-pattern Hessenberg entries are rounding-level and dropped, as the forward does).
   The Lagrangian with multipliers lambda_k for the columns of that relation and c_{ij}
   for X^T X = I gives, for the equation of x_{k+1} solved for lambda_k,
       lambda_k = (g + sum_{i<=k+1} c_{k+1,i} x_i) / beta_k,
   with the c_{k+1,i} fixed by the stationarity of the Hessenberg entries,
   X_{0..k+1}^T lambda_k = Hbar[0..k+1, k] (Hbar_kk = alpha_bar_k, Hbar_{k+1,k} =
   beta_bar_k, zero elsewhere). So lambda_k is g / beta_k re-projected:
       p = X_{0..k+1}^T (g / beta_k),  lambda_k = g / beta_k + X_{0..k+1} (Hbar_col - p),
   and c_{k+1,i} = beta_k (Hbar_ik - p_i). The equation of x_k then gives
       g <- xbar_k + A lambda_k - alpha_k lambda_k - beta_k lambda_{k+1}
            + sum_{l>k} c_{l,k} x_l,
   the last term using the multipliers of earlier (later-index) steps, kept in a
   (K+1)^2 matrix. No matrix of lambdas is stored: O(n) vectors besides X, O(n K^2) flops.
   In exact arithmetic both variants give the same gradient.

   References: Kramer, Moreno-Munoz, Roy & Hauberg, "Gradients of functions of large
   matrices" (NeurIPS 2024) for both adjoints and the re-projection; Paige 1971. */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "funm_impl.h"
#include "internal.h"
#include "kry/adjoint.h"
#include "vec.h"

struct kry_adjoint_ws {
    size_t n, cap;
    double *block;
    double *G, *L0, *L1, *Z; /* [n] each: g, lambda_k / lambda_{k+1}, debug scratch */
    double *C;               /* [(cap+1)^2] multipliers c_{l,i} at C[l + i (cap+1)] */
    double *p, *dd, *hb, *s; /* [cap+2] each: sweep scratch */
    double *ab, *bb, *cf;    /* [cap+2] each: alpha_bar, beta_bar, rank-one coefficients */
};

kry_adjoint_params kry_adjoint_params_default(void)
{
    kry_adjoint_params p = {NULL};
    return p;
}

/* Doubles in the block, or 0 on overflow. */
static size_t ws_doubles(size_t n, size_t m)
{
    const size_t lim = SIZE_MAX / sizeof(double) / 8;
    if (n == 0 || m == 0 || m >= lim / (m + 1) || n > lim / 4)
        return 0;
    size_t d = (m + 1) * (m + 1) + 7 * (m + 2);
    if (d > lim - 4 * n)
        return 0;
    return d + 4 * n;
}

size_t kry_adjoint_ws_bytes(size_t n, size_t max_steps)
{
    size_t d = ws_doubles(n, max_steps);
    return d == 0 ? 0 : d * sizeof(double) + sizeof(kry_adjoint_ws);
}

kry_adjoint_ws *kry_adjoint_ws_alloc(size_t n, size_t max_steps)
{
    double *blk;
    kry_adjoint_ws *ws = kry_ws_with_block(sizeof *ws, ws_doubles(n, max_steps), &blk);
    if (ws == NULL)
        return NULL;
    size_t m = max_steps;
    ws->n = n;
    ws->cap = m;
    ws->block = blk;
    ws->G = blk;
    ws->L0 = ws->G + n;
    ws->L1 = ws->L0 + n;
    ws->Z = ws->L1 + n;
    ws->C = ws->Z + n;
    ws->p = ws->C + (m + 1) * (m + 1);
    ws->dd = ws->p + (m + 2);
    ws->hb = ws->dd + (m + 2);
    ws->s = ws->hb + (m + 2);
    ws->ab = ws->s + (m + 2);
    ws->bb = ws->ab + (m + 2);
    ws->cf = ws->bb + (m + 2);
    return ws;
}

void kry_adjoint_ws_free(kry_adjoint_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->block);
    free(ws);
}

/* ---- Helpers ---- */

/* u = A lam and, when theta_bar != NULL, theta_bar += d(lam^T A x)/d(theta). */
static kry_status product(const kry_operator *op, kry_matvec_vjp_fn *fused,
                          const double *lam, const double *x, double *u, double *theta_bar)
{
    if (theta_bar != NULL && fused != NULL) {
        if (fused(op->ctx, lam, x, u, theta_bar) != 0)
            return KRY_ECALLBACK;
        return kry_vec_isfinite(op->n, u) ? KRY_OK : KRY_ENONFINITE;
    }
    KRY_TRY(kry_operator_apply(op, lam, u));
    if (theta_bar != NULL && op->param_vjp(op->ctx, x, lam, theta_bar) != 0)
        return KRY_ECALLBACK;
    return KRY_OK;
}

/* g += xbar_k. */
static void add_xbar(const kry_adjoint_cotangent *ct, size_t n, size_t k, double *g)
{
    if (ct->xbar != NULL)
        kry_vec_axpy(n, 1.0, ct->xbar + k * ct->ldxbar, g);
    if (ct->xbar_coef != NULL && ct->xbar_coef[k] != 0.0)
        kry_vec_axpy(n, ct->xbar_coef[k], ct->xbar_dir, g);
}

/* ---- Kernels of a Lanczos backward step. Each is one pass over memory; restrict and
   independent partial sums let the compiler vectorise them (a single running sum
   would be a serial chain of dependent additions, several times slower than the memory
   traffic at large n). ---- */

/* out = (x_k^T g, x_{k+1}^T g, lnext^T x_k), local parts (lnext NULL: third is 0). */
static void dots3_local(size_t n, const double *restrict g, const double *restrict xk,
                        const double *restrict xk1, const double *restrict lnext,
                        double out[3])
{
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0}, c[4] = {0, 0, 0, 0};
    size_t i = 0;
    if (lnext != NULL) {
        for (; i + 4 <= n; i += 4)
            for (size_t j = 0; j < 4; ++j) {
                a[j] += xk[i + j] * g[i + j];
                b[j] += xk1[i + j] * g[i + j];
                c[j] += lnext[i + j] * xk[i + j];
            }
        for (; i < n; ++i) {
            a[0] += xk[i] * g[i];
            b[0] += xk1[i] * g[i];
            c[0] += lnext[i] * xk[i];
        }
    } else {
        for (; i + 4 <= n; i += 4)
            for (size_t j = 0; j < 4; ++j) {
                a[j] += xk[i + j] * g[i + j];
                b[j] += xk1[i + j] * g[i + j];
            }
        for (; i < n; ++i) {
            a[0] += xk[i] * g[i];
            b[0] += xk1[i] * g[i];
        }
    }
    out[0] = (a[0] + a[1]) + (a[2] + a[3]);
    out[1] = (b[0] + b[1]) + (b[2] + b[3]);
    out[2] = (c[0] + c[1]) + (c[2] + c[3]);
}

/* lam = s g + mu xk1 + nu xk. */
static void form_lambda(size_t n, double *restrict lam, const double *restrict g, double s,
                        const double *restrict xk1, double mu, const double *restrict xk,
                        double nu)
{
    for (size_t i = 0; i < n; ++i)
        lam[i] = s * g[i] + mu * xk1[i] + nu * xk[i];
}

/* g += c xk1 - a lam - b lnext (lnext NULL: that term is absent), and, in the same
   pass, the local inner products of the next (lower) step:
   out = (xprev^T g, xk^T g, lam^T xprev). */
static void update_g_dots(size_t n, double *restrict g, double c, const double *restrict xk1,
                          double a, const double *restrict lam, double b,
                          const double *restrict lnext, const double *restrict xprev,
                          const double *restrict xk, double out[3])
{
    double p[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0}, r[4] = {0, 0, 0, 0};
    size_t i = 0;
    if (lnext != NULL) {
        for (; i + 4 <= n; i += 4)
            for (size_t j = 0; j < 4; ++j) {
                double v = g[i + j] + c * xk1[i + j] - a * lam[i + j] - b * lnext[i + j];
                g[i + j] = v;
                p[j] += xprev[i + j] * v;
                q[j] += xk[i + j] * v;
                r[j] += lam[i + j] * xprev[i + j];
            }
        for (; i < n; ++i) {
            double v = g[i] + c * xk1[i] - a * lam[i] - b * lnext[i];
            g[i] = v;
            p[0] += xprev[i] * v;
            q[0] += xk[i] * v;
            r[0] += lam[i] * xprev[i];
        }
    } else {
        for (; i + 4 <= n; i += 4)
            for (size_t j = 0; j < 4; ++j) {
                double v = g[i + j] + c * xk1[i + j] - a * lam[i + j];
                g[i + j] = v;
                p[j] += xprev[i + j] * v;
                q[j] += xk[i + j] * v;
                r[j] += lam[i + j] * xprev[i + j];
            }
        for (; i < n; ++i) {
            double v = g[i] + c * xk1[i] - a * lam[i];
            g[i] = v;
            p[0] += xprev[i] * v;
            q[0] += xk[i] * v;
            r[0] += lam[i] * xprev[i];
        }
    }
    out[0] = (p[0] + p[1]) + (p[2] + p[3]);
    out[1] = (q[0] + q[1]) + (q[2] + q[3]);
    out[2] = (r[0] + r[1]) + (r[2] + r[3]);
}

/* g += c xk1 - a lam - b lnext (lnext NULL: that term is absent); the last step. */
static void update_g(size_t n, double *restrict g, double c, const double *restrict xk1,
                     double a, const double *restrict lam, double b,
                     const double *restrict lnext)
{
    if (lnext != NULL)
        for (size_t i = 0; i < n; ++i)
            g[i] += c * xk1[i] - a * lam[i] - b * lnext[i];
    else
        for (size_t i = 0; i < n; ++i)
            g[i] += c * xk1[i] - a * lam[i];
}

#ifndef NDEBUG
/* Debug self-check of the Lanczos step identities (MATH.md section 7):
   lambda^T x_k = alpha_bar_k and lambda^T x_{k+1} = beta_bar_k - lambda_{k+1}^T x_k, each
   up to the terms the measured local loss of orthogonality (x_k^T x_{k+1}, |x|^2 - 1)
   predicts, so the check holds for any basis and catches arithmetic mistakes only. */
static void check_lanczos_step(const kry_space *sp, size_t n, const double *lam,
                               const double *xk, const double *xk1, double gnorm_scaled,
                               double mu, double nu, double abar, double bbar, double a3,
                               int trunc)
{
    double l0, l1, c, nk, nk1, ln;
    if (kry_vec_dot(sp, n, lam, xk, &l0) != KRY_OK ||
        kry_vec_dot(sp, n, lam, xk1, &l1) != KRY_OK ||
        kry_vec_dot(sp, n, xk, xk1, &c) != KRY_OK ||
        kry_vec_dot(sp, n, xk, xk, &nk) != KRY_OK ||
        kry_vec_dot(sp, n, xk1, xk1, &nk1) != KRY_OK || kry_vec_nrm2(sp, n, lam, &ln) != KRY_OK)
        return;
    double scale = gnorm_scaled + fabs(mu) + fabs(nu) + fabs(abar) + fabs(bbar) +
                   fabs(a3) + ln;
    double tol = (1e-10 + 64.0 * (double)n * DBL_EPSILON) * scale + DBL_MIN;
    double d0 = l0 - abar - (mu * c + nu * (nk - 1.0));
    assert(fabs(d0) <= tol && "Lanczos adjoint: lambda_k^T x_k != alpha_bar_k");
    if (!trunc) {
        double d1 = l1 - (bbar - a3) - (mu * (nk1 - 1.0) + nu * c);
        assert(fabs(d1) <= tol &&
               "Lanczos adjoint: lambda_k^T x_{k+1} != beta_bar_k - lambda_{k+1}^T x_k");
        (void)d1;
    }
    (void)d0;
}
#endif

/* ---- The sweeps ---- */

static kry_status sweep_lanczos(const kry_operator *op, const kry_adjoint_decomp *d,
                                const kry_adjoint_cotangent *ct, kry_matvec_vjp_fn *fused,
                                kry_adjoint_ws *ws, int bd, double *theta_bar)
{
    const kry_space *sp = op->space;
    const size_t n = op->n, K = d->steps, ld = d->ldq;
    double *G = ws->G, *Lcur = ws->L0, *Lnext = NULL;

    memset(G, 0, n * sizeof(double));
    if (!bd)
        add_xbar(ct, n, K, G);
    /* The inner products of step k are formed in the pass that completes g for it. */
    double dt[3];
    dots3_local(n, G, d->Q + (K - 1) * ld, d->Q + K * ld, NULL, dt);
    for (size_t k = K; k-- > 0;) {
        const double *xk = d->Q + k * ld, *xk1 = d->Q + (k + 1) * ld;
        const int trunc = bd && k == K - 1;
        const double binv = trunc ? 0.0 : 1.0 / d->beta[k];
        const double abar = ct->alpha_bar != NULL ? ct->alpha_bar[k] : 0.0;
        const double bbar = ct->beta_bar != NULL ? ct->beta_bar[k] : 0.0;
        KRY_TRY(kry_vec_reduce(sp, dt, 3));
        const double mu = trunc ? 0.0 : bbar - dt[2] - dt[1] * binv;
        const double nu = abar - dt[0] * binv;
        form_lambda(n, Lcur, G, binv, xk1, mu, xk, nu);
#ifndef NDEBUG
        {
            double gn = 0.0;
            if (kry_vec_nrm2(sp, n, G, &gn) == KRY_OK)
                check_lanczos_step(sp, n, Lcur, xk, xk1, gn * binv, mu, nu, abar, bbar,
                                   dt[2], trunc);
        }
#endif
        KRY_TRY(product(op, fused, Lcur, xk, G, theta_bar));
        /* g <- xbar_k + A lambda_k - alpha_k lambda_k - beta_k lambda_{k+1}
                + beta_k nu_k x_{k+1}; at a truncated last step beta_{K-1} counts as 0. */
        const double a = d->alpha[k];
        const double bk = trunc ? 0.0 : d->beta[k];
        add_xbar(ct, n, k, G);
        if (k > 0)
            update_g_dots(n, G, bk * nu, xk1, a, Lcur, bk, Lnext, xk - ld, xk, dt);
        else
            update_g(n, G, bk * nu, xk1, a, Lcur, bk, Lnext);
        Lnext = Lcur;
        Lcur = Lcur == ws->L0 ? ws->L1 : ws->L0;
    }
    return KRY_OK;
}

#ifndef NDEBUG
/* Debug self-check of the re-projection: X^T lambda = Hbar_col up to (X^T X - I) dd,
   measured directly, so the check holds for any basis. Z holds lambda - g/beta. */
static void check_arnoldi_step(const kry_space *sp, size_t n, size_t cols, const double *X,
                               size_t ld, const double *lam, double *Z, const double *G,
                               double binv, const double *dd, const double *hb, double *q,
                               double *s)
{
    for (size_t i = 0; i < n; ++i)
        Z[i] = lam[i] - binv * G[i];
    if (kry_vec_gemv_t(sp, n, cols, X, ld, lam, q) != KRY_OK ||
        kry_vec_gemv_t(sp, n, cols, X, ld, Z, s) != KRY_OK)
        return;
    double ln = 0.0, gn = 0.0;
    if (kry_vec_nrm2(sp, n, lam, &ln) != KRY_OK || kry_vec_nrm2(sp, n, G, &gn) != KRY_OK)
        return;
    double scale = ln + gn * binv;
    for (size_t i = 0; i < cols; ++i)
        scale += fabs(dd[i]) + fabs(hb[i]);
    double tol = (1e-10 + 64.0 * (double)n * DBL_EPSILON) * scale + DBL_MIN;
    for (size_t i = 0; i < cols; ++i) {
        double defect = q[i] - hb[i] - (s[i] - dd[i]);
        assert(fabs(defect) <= tol && "Arnoldi adjoint: X^T lambda_k != Hbar[:, k]");
        (void)defect;
    }
}
#endif

static kry_status sweep_arnoldi(const kry_operator *op, const kry_adjoint_decomp *d,
                                const kry_adjoint_cotangent *ct, kry_matvec_vjp_fn *fused,
                                kry_adjoint_ws *ws, int bd, double *theta_bar)
{
    const kry_space *sp = op->space;
    const size_t n = op->n, K = d->steps, ld = d->ldq, K1 = K + 1;
    const double *X = d->Q;
    double *G = ws->G, *Lcur = ws->L0, *Lnext = NULL, *C = ws->C;

    memset(C, 0, K1 * K1 * sizeof(double));
    memset(G, 0, n * sizeof(double));
    if (!bd)
        add_xbar(ct, n, K, G);
    for (size_t k = K; k-- > 0;) {
        const int trunc = bd && k == K - 1;
        const size_t cols = trunc ? k + 1 : k + 2; /* project on x_0 .. x_{cols-1} */
        const double binv = trunc ? 0.0 : 1.0 / d->beta[k];
        for (size_t i = 0; i < n; ++i)
            Lcur[i] = G[i] * binv;
        KRY_TRY(kry_vec_gemv_t(sp, n, cols, X, ld, Lcur, ws->p));
        memset(ws->hb, 0, cols * sizeof(double));
        ws->hb[k] = ct->alpha_bar != NULL ? ct->alpha_bar[k] : 0.0;
        if (!trunc)
            ws->hb[k + 1] = ct->beta_bar != NULL ? ct->beta_bar[k] : 0.0;
        for (size_t i = 0; i < cols; ++i)
            ws->dd[i] = ws->hb[i] - ws->p[i];
        kry_vec_gemv_n(n, cols, 1.0, X, ld, ws->dd, Lcur);
        if (!trunc)
            for (size_t i = 0; i <= k; ++i)
                C[(k + 1) + i * K1] = d->beta[k] * ws->dd[i];
#ifndef NDEBUG
        check_arnoldi_step(sp, n, cols, X, ld, Lcur, ws->Z, G, binv, ws->dd, ws->hb,
                           ws->s, ws->p);
#endif
        KRY_TRY(product(op, fused, Lcur, X + k * ld, G, theta_bar));
        const double a = d->alpha[k];
        if (Lnext != NULL) {
            const double bk = d->beta[k];
            for (size_t i = 0; i < n; ++i)
                G[i] -= a * Lcur[i] + bk * Lnext[i];
        } else {
            kry_vec_axpy(n, -a, Lcur, G);
        }
        /* + sum_{l=k+1}^{last} c_{l,k} x_l, with x_K excluded after a breakdown. */
        const size_t last = bd ? K - 1 : K;
        if (last > k)
            kry_vec_gemv_n(n, last - k, 1.0, X + (k + 1) * ld, ld, C + k * K1 + k + 1, G);
        add_xbar(ct, n, k, G);
        Lnext = Lcur;
        Lcur = Lcur == ws->L0 ? ws->L1 : ws->L0;
    }
    return KRY_OK;
}

/* ---- Entry point ---- */

static int all_finite(size_t n, const double *x) { return x == NULL || kry_vec_isfinite(n, x); }

kry_status kry_adjoint_backward(const kry_operator *op, const kry_adjoint_decomp *d,
                                const kry_adjoint_cotangent *ct, kry_adjoint_method method,
                                const kry_adjoint_params *params, kry_adjoint_ws *ws,
                                double *theta_bar, double *v_bar)
{
    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(d != NULL && ct != NULL && ws != NULL, KRY_EINVAL);
    KRY_REQUIRE((int)method >= 0 && method < KRY_ADJOINT_METHOD_COUNT, KRY_EINVAL);
    const size_t n = op->n, K = d->steps;
    KRY_REQUIRE(K >= 1 && d->Q != NULL && d->alpha != NULL && d->beta != NULL, KRY_EINVAL);
    KRY_REQUIRE(d->ldq >= n, KRY_EINVAL);
    KRY_REQUIRE(isfinite(d->v_norm) && d->v_norm > 0.0, KRY_EINVAL);
    KRY_REQUIRE((ct->xbar_coef == NULL) == (ct->xbar_dir == NULL), KRY_EINVAL);
    KRY_REQUIRE(ct->xbar == NULL || ct->ldxbar >= n, KRY_EINVAL);
    KRY_REQUIRE(n == ws->n && K <= ws->cap, KRY_EDIM);
    KRY_REQUIRE(kry_fits_blas_int(n) && kry_fits_blas_int(K + 2), KRY_ERANGE);
    kry_adjoint_params pp = params != NULL ? *params : kry_adjoint_params_default();
    KRY_REQUIRE(theta_bar == NULL || pp.matvec_vjp != NULL || op->param_vjp != NULL,
                KRY_EUNSUPPORTED);
    KRY_REQUIRE(kry_vec_isfinite(K, d->alpha) && kry_vec_isfinite(K, d->beta),
                KRY_ENONFINITE);
    for (size_t k = 0; k < K; ++k)
        KRY_REQUIRE(d->beta[k] >= 0.0, KRY_EINVAL);
    for (size_t k = 0; k + 1 < K; ++k)
        KRY_REQUIRE(d->beta[k] > 0.0, KRY_EUNSUPPORTED);
    KRY_REQUIRE(all_finite(K, ct->alpha_bar) && all_finite(K, ct->beta_bar) &&
                    all_finite(K + 1, ct->xbar_coef) && all_finite(n, ct->xbar_dir),
                KRY_ENONFINITE);
    if (ct->xbar != NULL)
        for (size_t k = 0; k <= K; ++k)
            KRY_REQUIRE(kry_vec_isfinite(n, ct->xbar + k * ct->ldxbar), KRY_ENONFINITE);
    const int bd = d->breakdown || d->beta[K - 1] == 0.0;

    if (method == KRY_ADJOINT_LANCZOS)
        KRY_TRY(sweep_lanczos(op, d, ct, pp.matvec_vjp, ws, bd, theta_bar));
    else
        KRY_TRY(sweep_arnoldi(op, d, ct, pp.matvec_vjp, ws, bd, theta_bar));

    KRY_REQUIRE(kry_vec_isfinite(n, ws->G), KRY_ENONFINITE);
    if (v_bar != NULL) {
        /* v_bar += (I - x_0 x_0^T) g / |v|. */
        double c;
        KRY_TRY(kry_vec_dot(op->space, n, d->Q, ws->G, &c));
        const double s = 1.0 / d->v_norm;
        for (size_t i = 0; i < n; ++i)
            v_bar[i] += s * (ws->G[i] - c * d->Q[i]);
    }
    return KRY_OK;
}

/* ---- Connecting to kry_lanczos ---- */

kry_status kry_adjoint_method_for(kry_reorth reorth, kry_adjoint_method *out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    KRY_REQUIRE((int)reorth >= 0 && reorth < KRY_REORTH_COUNT, KRY_EINVAL);
    if (reorth == KRY_REORTH_NONE)
        *out = KRY_ADJOINT_LANCZOS;
    else if (reorth == KRY_REORTH_FULL)
        *out = KRY_ADJOINT_ARNOLDI;
    else
        return KRY_EUNSUPPORTED;
    return KRY_OK;
}

kry_status kry_adjoint_decomp_from_lanczos(const kry_lanczos_ws *lws, kry_adjoint_decomp *d)
{
    KRY_REQUIRE(lws != NULL && d != NULL, KRY_EINVAL);
    kry_lanczos_result r;
    KRY_TRY(kry_lanczos_result_get(lws, &r));
    KRY_REQUIRE(r.steps >= 1, KRY_EINVAL);
    const int final_bd = r.reason == KRY_CONVERGED_INVARIANT;
    KRY_REQUIRE(r.breakdowns <= (size_t)(final_bd ? 1 : 0), KRY_EUNSUPPORTED);
    memset(d, 0, sizeof *d);
    d->steps = r.steps;
    d->Q = kry_lanczos_basis(lws, &d->ldq);
    d->alpha = kry_lanczos_alpha(lws);
    d->beta = kry_lanczos_beta(lws);
    d->v_norm = kry_lanczos_v0_norm(lws);
    d->breakdown = final_bd;
    return KRY_OK;
}

/* ---- Value and gradient ---- */

/* The method for lp's reorthogonalisation (NULL: the Lanczos defaults). */
static kry_status method_of(const kry_lanczos_params *lp, kry_adjoint_method *m)
{
    kry_lanczos_params d = kry_lanczos_params_default();
    return kry_adjoint_method_for(lp != NULL ? lp->reorth : d.reorth, m);
}

/* Backward sweep for the loss a^T f(T) b (b = e_0) on the decomposition in lws/fws,
   plus optional rank-one x cotangents (coef, dir). */
static kry_status sweep_for_T(const kry_operator *op, kry_adjoint_method method,
                              const kry_adjoint_params *ap, const kry_lanczos_ws *lws,
                              kry_funm_ws *fws, kry_adjoint_ws *aws, const double *a,
                              const double *coef, const double *dir, double *theta_bar,
                              double *v_bar)
{
    kry_adjoint_decomp d;
    KRY_TRY(kry_adjoint_decomp_from_lanczos(lws, &d));
    KRY_REQUIRE(d.steps <= aws->cap, KRY_EDIM);
    KRY_TRY(kry_funm_tridiag_vjp(fws, a, NULL, aws->ab, aws->bb));
    aws->bb[d.steps - 1] = 0.0; /* the residual coefficient is not in T */
    kry_adjoint_cotangent ct = {NULL, 0, coef, dir, aws->ab, aws->bb};
    return kry_adjoint_backward(op, &d, &ct, method, ap, aws, theta_bar, v_bar);
}

kry_status kry_adjoint_quadform(const kry_operator *op, const kry_funm_fn *f, const double *v,
                                const kry_lanczos_params *lp, const kry_adjoint_params *ap,
                                kry_lanczos_ws *lws, kry_funm_ws *fws, kry_adjoint_ws *aws,
                                double *value, double *theta_bar, double *v_bar)
{
    KRY_REQUIRE(aws != NULL && value != NULL, KRY_EINVAL);
    kry_adjoint_method method;
    KRY_TRY(method_of(lp, &method));
    double quad;
    KRY_TRY(kry_funm_forward(op, f, v, lp, lws, fws, &quad, NULL, NULL));
    const size_t m = fws->m;
    const double l = kry_lanczos_v0_norm(lws), l2 = l * l;
    KRY_REQUIRE(isfinite(l2 * quad), KRY_ENONFINITE);
    KRY_REQUIRE(m <= aws->cap, KRY_EDIM);
    double *a = aws->cf; /* C = l^2 e_0 e_0^T */
    memset(a, 0, m * sizeof(double));
    a[0] = l2;
    KRY_TRY(sweep_for_T(op, method, ap, lws, fws, aws, a, NULL, NULL, theta_bar, v_bar));
    if (v_bar != NULL)
        kry_vec_axpy(op->n, 2.0 * quad, v, v_bar);
    *value = l2 * quad;
    return KRY_OK;
}

kry_status kry_adjoint_funm(const kry_operator *op, const kry_funm_fn *f, const double *v,
                            const double *ubar, const kry_lanczos_params *lp,
                            const kry_adjoint_params *ap, kry_lanczos_ws *lws,
                            kry_funm_ws *fws, kry_adjoint_ws *aws, double *y,
                            double *theta_bar, double *v_bar)
{
    KRY_REQUIRE(aws != NULL && ubar != NULL, KRY_EINVAL);
    kry_adjoint_method method;
    KRY_TRY(method_of(lp, &method));
    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(aws->n == op->n, KRY_EDIM);
    KRY_REQUIRE(kry_vec_isfinite(op->n, ubar), KRY_ENONFINITE);
    KRY_REQUIRE(fws != NULL, KRY_EINVAL);
    KRY_TRY(kry_funm_forward(op, f, v, lp, lws, fws, NULL, NULL, NULL));
    const size_t m = fws->m, n = op->n;
    KRY_REQUIRE(m <= aws->cap, KRY_EDIM);
    /* f(T) e_0 into aws->cf, later scaled in place into the x cotangent coefficients. */
    double *fe0 = aws->cf;
    kry_funm_fe0(fws, fe0);
    size_t ldq;
    const double *Q = kry_lanczos_basis(lws, &ldq);
    const double l = kry_lanczos_v0_norm(lws);
    if (y != NULL) {
        memset(y, 0, n * sizeof(double));
        kry_vec_gemv_n(n, m, l, Q, ldq, fe0, y);
        KRY_REQUIRE(kry_vec_isfinite(n, y), KRY_ENONFINITE);
    }
    /* a = l Q^T ubar (C = a e_0^T); ubar^T y = fe0^T a. */
    double *a = fws->y;
    KRY_TRY(kry_vec_gemv_t(op->space, n, m, Q, ldq, ubar, a));
    double uy = 0.0;
    for (size_t i = 0; i < m; ++i) {
        a[i] *= l;
        uy += fe0[i] * a[i];
    }
    double *coef = fe0;
    for (size_t k = 0; k < m; ++k)
        coef[k] *= l;
    coef[m] = 0.0;
    KRY_TRY(sweep_for_T(op, method, ap, lws, fws, aws, a, coef, ubar, theta_bar, v_bar));
    if (v_bar != NULL)
        kry_vec_axpy(n, uy / (l * l), v, v_bar);
    return KRY_OK;
}

kry_status kry_adjoint_slq(const kry_operator *op, const kry_funm_fn *f,
                           const kry_slq_params *params, const kry_adjoint_params *ap,
                           kry_lanczos_ws *lws, kry_funm_ws *fws, kry_adjoint_ws *aws,
                           kry_slq_result *res, double *theta_bar)
{
    KRY_REQUIRE(aws != NULL && theta_bar != NULL, KRY_EINVAL);
    kry_slq_params p = params != NULL ? *params : kry_slq_params_default();
    kry_adjoint_method method;
    size_t N;
    kry_slq_result r;
    kry_slq_result_init(&r);
    kry_status st = kry_adjoint_method_for(p.lanczos.reorth, &method);
    if (st == KRY_OK)
        st = kry_slq_check(op, &p, fws, &N);
    double mean = 0.0, m2 = 0.0;
    for (size_t j = 0; st == KRY_OK && j < N; ++j) {
        double t;
        st = kry_slq_one(op, f, &p, j, lws, fws, &r, &t);
        if (st != KRY_OK)
            break;
        const size_t m = fws->m;
        if (m > aws->cap) {
            st = KRY_EDIM;
            break;
        }
        const double l = kry_lanczos_v0_norm(lws);
        double *a = aws->cf;
        memset(a, 0, m * sizeof(double));
        a[0] = l * l / (double)N;
        st = sweep_for_T(op, method, ap, lws, fws, aws, a, NULL, NULL, theta_bar, NULL);
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

kry_status kry_adjoint_slq_inexact(const kry_operator *op, const kry_funm_fn *f,
                                   const kry_slq_params *params, kry_lanczos_ws *lws,
                                   kry_funm_ws *fws, kry_slq_result *res, double *theta_bar)
{
    KRY_REQUIRE(theta_bar != NULL, KRY_EINVAL);
    kry_slq_params p = params != NULL ? *params : kry_slq_params_default();
    size_t N;
    kry_slq_result r;
    kry_slq_result_init(&r);
    kry_status st = kry_slq_check(op, &p, fws, &N);
    if (st == KRY_OK && op->param_vjp == NULL)
        st = KRY_EUNSUPPORTED;
    double mean = 0.0, m2 = 0.0;
    for (size_t j = 0; st == KRY_OK && j < N; ++j) {
        double t;
        st = kry_slq_one(op, f, &p, j, lws, fws, &r, &t);
        if (st != KRY_OK)
            break;
        const size_t m = fws->m, n = op->n;
        size_t ldq;
        const double *Q = kry_lanczos_basis(lws, &ldq);
        const double l = kry_lanczos_v0_norm(lws);
        kry_funm_dfe0(fws, fws->p);
        memset(fws->v2, 0, n * sizeof(double));
        kry_vec_gemv_n(n, m, l * l / (double)N, Q, ldq, fws->p, fws->v2);
        if (op->param_vjp(op->ctx, Q, fws->v2, theta_bar) != 0) {
            st = KRY_ECALLBACK;
            break;
        }
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
