/* power.c — power iteration with Rayleigh quotients, true residuals from the product
   already computed, and a phase/shift strategy for the algebraic ends (module "power",
   MATH.md section 1).

   References: the power method and shifted power iteration as in Golub & Van Loan,
   "Matrix Computations", 4th ed., section 8.2.1, and Parlett, "The Symmetric Eigenvalue
   Problem", chapter 4 (residual bounds). The two-step test for a dominant +/- pair is
   power iteration on (A - sI)^2, whose products come for free from consecutive steps.

   The iteration itself lives in kry_power_engine_run(), which deflation.c shares: it sees
   the operator only through an apply hook, so the deflated and projected operators of
   deflation.c reuse exactly the same convergence logic and matvec accounting. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/power.h"
#include "kry/rng.h"
#include "vec.h"

#include "power_impl.h"

#define KRY_POWER_DEFAULT_MAX_ITER 1000
#define KRY_POWER_DEFAULT_TOL 1e-8

struct kry_power_ws {
    size_t n, max_iter;
    double *x0, *buf[3], *r;          /* 5 vectors of length n, one block */
    double *hist_lambda, *hist_resid; /* max_iter each, one block */
    size_t hist_len;
};

kry_power_params kry_power_params_default(void)
{
    kry_power_params p;
    memset(&p, 0, sizeof p);
    p.max_iter = KRY_POWER_DEFAULT_MAX_ITER;
    p.tol = KRY_POWER_DEFAULT_TOL;
    p.atol = 0.0;
    p.which = KRY_POWER_LM;
    p.shift = 0.0;
    p.seed = 0x5eed;
    p.fail_if_not_converged = 0;
    return p;
}

kry_status kry_power_params_resolve(const kry_power_params *in, kry_power_params *out)
{
    *out = in != NULL ? *in : kry_power_params_default();
    if (out->max_iter == 0)
        out->max_iter = KRY_POWER_DEFAULT_MAX_ITER;
    KRY_REQUIRE(isfinite(out->tol), KRY_EINVAL);
    if (out->tol <= 0.0)
        out->tol = KRY_POWER_DEFAULT_TOL;
    KRY_REQUIRE(isfinite(out->atol) && out->atol >= 0.0, KRY_EINVAL);
    KRY_REQUIRE(isfinite(out->shift), KRY_EINVAL);
    KRY_REQUIRE((unsigned)out->which <= (unsigned)KRY_POWER_SA, KRY_EINVAL);
    return KRY_OK;
}

/* x /= nrm without overflowing 1/nrm when nrm is subnormal. */
static void scale_down(size_t n, double nrm, double *x)
{
    if (nrm >= DBL_MIN) {
        kry_vec_scal(n, 1.0 / nrm, x);
    } else {
        const double big = 0x1p600;
        kry_vec_scal(n, big, x);
        kry_vec_scal(n, 1.0 / (nrm * big), x);
    }
}

kry_status kry_power_normalize_start(const kry_space *sp, size_t n, double *x)
{
    double nrm;
    KRY_REQUIRE(kry_vec_isfinite(n, x), KRY_ENONFINITE);
    KRY_TRY(kry_vec_nrm2(sp, n, x, &nrm));
    KRY_REQUIRE(nrm > 0.0, KRY_EINVAL);
    KRY_REQUIRE(isfinite(nrm), KRY_ERANGE);
    scale_down(n, nrm, x);
    return KRY_OK;
}

static void record(const kry_power_engine *e, size_t i, double lambda, double resid)
{
    if (e->hist_lambda != NULL)
        e->hist_lambda[i] = lambda;
    if (e->hist_resid != NULL)
        e->hist_resid[i] = resid;
}

kry_status kry_power_engine_run(const kry_power_engine *e, const kry_power_params *p,
                                const double **x_out, kry_power_result *res)
{
    const size_t n = e->n;
    const kry_space *sp = e->space;
    const double n_global =
        (sp != NULL && sp->n_global != 0) ? (double)sp->n_global : (double)n;
    /* Attainable accuracy of a residual: rounding in the product and in w - theta x. */
    const double floor_c = 16.0 * sqrt(n_global) * DBL_EPSILON;
    /* +1: want the top of the spectrum, -1: the bottom, 0: farthest from the shift. */
    const double side =
        p->which == KRY_POWER_LA ? 1.0 : (p->which == KRY_POWER_SA ? -1.0 : 0.0);
    const double sqrt_tol = sqrt(p->tol);
    double *x = e->buf[0], *w = e->buf[1], *xp = e->buf[2];
    double sigma = p->shift, anorm = e->anorm0, wprev = 0.0;
    size_t phase_it = 0; /* products made with the current shift */

    memset(res, 0, sizeof *res);
    res->phases = 1;
    res->shift = sigma;
    res->reason = KRY_RUNNING;
    kry_vec_copy(n, e->x0, x);
    *x_out = x;

    while (res->iters < p->max_iter) {
        double theta, wn, rn, lam, fl, thresh, ax2;
        size_t i = res->iters;

        res->matvecs++;
        KRY_TRY(e->apply(e->apply_ctx, x, w));
        res->iters++;
        if (sigma != 0.0)
            kry_vec_axpy(n, -sigma, x, w);
        KRY_TRY(kry_vec_dot(sp, n, x, w, &theta));
        KRY_TRY(kry_vec_nrm2(sp, n, w, &wn));

        /* |B x|^2 = |w + sigma x|^2 for unit x: a running lower bound on |B|. */
        ax2 = wn * wn + 2.0 * sigma * theta + sigma * sigma;
        if (ax2 > 0.0)
            anorm = fmax(anorm, sqrt(ax2));
        fl = p->atol > 0.0 ? p->atol : floor_c * (anorm + fabs(sigma));

        if (wn == 0.0) {
            /* (B - sigma I) x = 0 exactly: x spans an invariant subspace. */
            record(e, i, sigma, 0.0);
            res->lambda = sigma;
            res->resid = 0.0;
            res->reason = KRY_CONVERGED_INVARIANT;
            break;
        }

        lam = theta + sigma;
        kry_vec_copy(n, w, e->r);
        kry_vec_axpy(n, -theta, x, e->r);
        KRY_TRY(kry_vec_nrm2(sp, n, e->r, &rn));
        record(e, i, lam, rn);
        res->lambda = lam;
        res->resid = rn;
        thresh = fmax(p->tol * fabs(lam), fl);

        if (rn <= thresh) {
            if (side == 0.0 || side * theta >= -thresh) {
                res->reason = KRY_CONVERGED_TOL;
                break;
            }
            /* Converged to the opposite end: restart with the shift there, where the
               wanted end is the farthest eigenvalue. */
            if (res->iters == p->max_iter)
                break;
            sigma = lam;
            kry_vec_copy(n, e->x0, x);
            res->phases++;
            res->shift = sigma;
            phase_it = 0;
            continue;
        }

        if (side != 0.0 && res->phases == 1 && phase_it >= 1) {
            /* Two-step residual of x_prev: (B - sI)^2 x_prev = wprev * w, rho = wprev^2,
               so |(B - sI)^2 x_prev - rho x_prev| / wprev = |w - wprev x_prev|. Only in
               phase 1: later phases iterate with the shift at an end of the spectrum,
               where no +/- pair can occur. */
            double r2;
            kry_vec_copy(n, w, e->r);
            kry_vec_axpy(n, -wprev, xp, e->r);
            KRY_TRY(kry_vec_nrm2(sp, n, e->r, &r2));
            if (r2 <= fmax(p->tol * wprev, fl)) {
                int near = rn <= sqrt_tol * fabs(theta);
                if (near && side * theta < 0.0) {
                    /* Nearly converged to the opposite end: restart from there now. */
                    if (res->iters == p->max_iter)
                        break;
                    sigma = lam;
                    res->phases++;
                    res->shift = sigma;
                    phase_it = 0;
                    kry_vec_copy(n, e->x0, x);
                    continue;
                }
                if (!near) {
                    /* Both ends at distance ~wn from sigma and x mixes them: move the
                       shift past the opposite end and keep the iterate. */
                    if (res->iters == p->max_iter)
                        break;
                    sigma -= side * wn;
                    res->phases++;
                    res->shift = sigma;
                    phase_it = 0;
                }
                /* near and on the wanted side: phase 1 is about to converge; go on. */
            }
        }

        if (res->iters == p->max_iter)
            break;
        scale_down(n, wn, w);
        {
            double *t = xp;
            xp = x;
            x = w;
            w = t;
        }
        wprev = wn;
        phase_it++;
    }
    if (res->reason == KRY_RUNNING)
        res->reason = KRY_STOPPED_MAXIT;
    *x_out = x;
    return KRY_OK;
}

/* ---- Public API ---- */

static int mul_add_overflows(size_t a, size_t b, size_t c, size_t *out)
{
    /* *out = a * b + c */
    if (b != 0 && a > (SIZE_MAX - c) / b)
        return 1;
    *out = a * b + c;
    return 0;
}

/* Number of doubles a workspace holds, 0 on overflow. */
static size_t ws_doubles(size_t n, size_t max_iter)
{
    size_t d;
    if (mul_add_overflows(n, 5, 0, &d) || mul_add_overflows(max_iter, 2, d, &d))
        return 0;
    if (d > SIZE_MAX / sizeof(double))
        return 0;
    return d;
}

size_t kry_power_ws_bytes(size_t n, size_t max_iter)
{
    if (n == 0)
        return 0;
    if (max_iter == 0)
        max_iter = KRY_POWER_DEFAULT_MAX_ITER;
    size_t d = ws_doubles(n, max_iter);
    if (d == 0 || d * sizeof(double) > SIZE_MAX - sizeof(struct kry_power_ws))
        return 0;
    return sizeof(struct kry_power_ws) + d * sizeof(double);
}

kry_power_ws *kry_power_ws_alloc(size_t n, size_t max_iter)
{
    kry_power_ws *ws = NULL;
    if (n == 0)
        return NULL;
    if (max_iter == 0)
        max_iter = KRY_POWER_DEFAULT_MAX_ITER;
    if (kry_power_ws_bytes(n, max_iter) == 0)
        return NULL;

    ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        goto fail;
    ws->n = n;
    ws->max_iter = max_iter;
    ws->x0 = malloc(5 * n * sizeof(double));
    if (ws->x0 == NULL)
        goto fail;
    ws->buf[0] = ws->x0 + n;
    ws->buf[1] = ws->x0 + 2 * n;
    ws->buf[2] = ws->x0 + 3 * n;
    ws->r = ws->x0 + 4 * n;
    ws->hist_lambda = malloc(2 * max_iter * sizeof(double));
    if (ws->hist_lambda == NULL)
        goto fail;
    ws->hist_resid = ws->hist_lambda + max_iter;
    ws->hist_len = 0;
    return ws;

fail:
    kry_power_ws_free(ws);
    return NULL;
}

void kry_power_ws_free(kry_power_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->x0);
    free(ws->hist_lambda);
    free(ws);
}

static kry_status apply_operator(void *ctx, const double *x, double *y)
{
    return kry_operator_apply((const kry_operator *)ctx, x, y);
}

kry_status kry_power_run(const kry_operator *op, const double *v0,
                         const kry_power_params *params, kry_power_ws *ws, double *v,
                         kry_power_result *res)
{
    kry_power_params p;
    kry_power_engine e;
    kry_operator opc; /* a private copy, so the apply hook's ctx need not cast away const */
    const double *x = NULL;
    kry_status st;

    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(ws != NULL && v != NULL && res != NULL, KRY_EINVAL);
    memset(res, 0, sizeof *res);
    KRY_TRY(kry_power_params_resolve(params, &p));
    KRY_REQUIRE(kry_fits_blas_int(op->n), KRY_ERANGE);
    KRY_REQUIRE(ws->n == op->n && p.max_iter <= ws->max_iter, KRY_EDIM);

    ws->hist_len = 0;
    if (v0 != NULL)
        kry_vec_copy(op->n, v0, ws->x0);
    else
        kry_vec_random(op->space, op->n, p.seed, KRY_RNG_STREAM_START, ws->x0);
    KRY_TRY(kry_power_normalize_start(op->space, op->n, ws->x0));

    memset(&e, 0, sizeof e);
    e.n = op->n;
    e.space = op->space;
    e.apply = apply_operator;
    opc = *op;
    e.apply_ctx = &opc;
    e.x0 = ws->x0;
    e.buf[0] = ws->buf[0];
    e.buf[1] = ws->buf[1];
    e.buf[2] = ws->buf[2];
    e.r = ws->r;
    e.hist_lambda = ws->hist_lambda;
    e.hist_resid = ws->hist_resid;
    e.anorm0 = 0.0;

    st = kry_power_engine_run(&e, &p, &x, res);
    ws->hist_len = res->iters;
    if (st != KRY_OK)
        return st;
    kry_vec_copy(op->n, x, v);
    if (p.fail_if_not_converged && res->reason == KRY_STOPPED_MAXIT)
        return KRY_ENOTCONV;
    return KRY_OK;
}

kry_status kry_power_history(const kry_power_ws *ws, const double **lambda,
                             const double **resid, size_t *len)
{
    KRY_REQUIRE(ws != NULL, KRY_EINVAL);
    if (lambda != NULL)
        *lambda = ws->hist_lambda;
    if (resid != NULL)
        *resid = ws->hist_resid;
    if (len != NULL)
        *len = ws->hist_len;
    return KRY_OK;
}
