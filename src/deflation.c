/* deflation.c — top-k eigenpairs by power iteration on successively deflated operators
   (module "deflation", MATH.md section 1).

   References: Hotelling deflation, B = A - lambda_1 v_1 v_1^T, as in Saad, "Numerical
   Methods for Large Eigenvalue Problems", 2nd ed., section 4.2 (Wielandt deflation with
   the symmetric choice of vectors); projection onto the complement of the found
   vectors as the orthogonalising variant. The power iteration engine, its stopping
   test and its matvec accounting are those of power.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/deflation.h"
#include "kry/rng.h"
#include "vec.h"

#include "power_impl.h"

#define KRY_DEFLATION_DEFAULT_MAX_ITER 1000

struct kry_deflation_ws {
    size_t n, k, max_iter;
    double *x0, *buf[3], *r, *ax; /* 6 vectors of length n, one block starting at x0 */
    double *c;                    /* k coefficients */
    double *hist;     /* k * max_iter Rayleigh quotients, then as many residuals */
    size_t *hist_len; /* k */
};

/* The deflated (or projected) operator seen by the engine for pair j. */
typedef struct defl_op {
    kry_operator op;  /* the user's operator (copied) */
    size_t n, j, ldv; /* j: vectors found so far */
    const double *V;  /* n x j found vectors */
    const double *lambda;
    double *c;  /* j coefficients */
    double *ax; /* A x of the latest product (for the true residual) */
    int orth;
} defl_op;

kry_deflation_params kry_deflation_params_default(void)
{
    kry_deflation_params p;
    memset(&p, 0, sizeof p);
    p.power = kry_power_params_default();
    p.orthogonalize = 0;
    return p;
}

/* Number of doubles of a workspace, 0 on overflow. */
static size_t ws_doubles(size_t n, size_t k, size_t max_iter)
{
    size_t vec, hist;
    if (n > SIZE_MAX / 6 || max_iter > SIZE_MAX / 2 / k)
        return 0;
    vec = 6 * n;
    hist = 2 * k * max_iter;
    if (vec > SIZE_MAX - hist || vec + hist > SIZE_MAX - k)
        return 0;
    if (vec + hist + k > SIZE_MAX / sizeof(double))
        return 0;
    return vec + hist + k;
}

size_t kry_deflation_ws_bytes(size_t n, size_t k, size_t max_iter)
{
    size_t d, extra;
    if (n == 0 || k == 0)
        return 0;
    if (max_iter == 0)
        max_iter = KRY_DEFLATION_DEFAULT_MAX_ITER;
    d = ws_doubles(n, k, max_iter);
    if (d == 0 || k > SIZE_MAX / sizeof(size_t))
        return 0;
    extra = sizeof(struct kry_deflation_ws) + k * sizeof(size_t);
    if (d * sizeof(double) > SIZE_MAX - extra)
        return 0;
    return d * sizeof(double) + extra;
}

kry_deflation_ws *kry_deflation_ws_alloc(size_t n, size_t k, size_t max_iter)
{
    kry_deflation_ws *ws = NULL;
    if (n == 0 || k == 0)
        return NULL;
    if (max_iter == 0)
        max_iter = KRY_DEFLATION_DEFAULT_MAX_ITER;
    if (kry_deflation_ws_bytes(n, k, max_iter) == 0)
        return NULL;

    ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        goto fail;
    ws->n = n;
    ws->k = k;
    ws->max_iter = max_iter;
    ws->x0 = malloc(6 * n * sizeof(double));
    if (ws->x0 == NULL)
        goto fail;
    ws->buf[0] = ws->x0 + n;
    ws->buf[1] = ws->x0 + 2 * n;
    ws->buf[2] = ws->x0 + 3 * n;
    ws->r = ws->x0 + 4 * n;
    ws->ax = ws->x0 + 5 * n;
    ws->c = malloc(k * sizeof(double));
    ws->hist = malloc(2 * k * max_iter * sizeof(double));
    ws->hist_len = calloc(k, sizeof(size_t));
    if (ws->c == NULL || ws->hist == NULL || ws->hist_len == NULL)
        goto fail;
    return ws;

fail:
    kry_deflation_ws_free(ws);
    return NULL;
}

void kry_deflation_ws_free(kry_deflation_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->x0);
    free(ws->c);
    free(ws->hist);
    free(ws->hist_len);
    free(ws);
}

static kry_status defl_apply(void *ctx, const double *x, double *y)
{
    defl_op *d = ctx;
    const kry_space *sp = d->op.space;

    KRY_TRY(kry_operator_apply(&d->op, x, d->ax));
    kry_vec_copy(d->n, d->ax, y);
    if (d->j == 0)
        return KRY_OK;
    if (d->orth) {
        /* y = (I - V V^T) A x; the deflation term lies in span(V) and drops out. */
        KRY_TRY(kry_vec_gemv_t(sp, d->n, d->j, d->V, d->ldv, d->ax, d->c));
    } else {
        /* y = A x - V diag(lambda) V^T x. */
        KRY_TRY(kry_vec_gemv_t(sp, d->n, d->j, d->V, d->ldv, x, d->c));
        for (size_t i = 0; i < d->j; ++i)
            d->c[i] *= d->lambda[i];
    }
    kry_vec_gemv_n(d->n, d->j, -1.0, d->V, d->ldv, d->c, y);
    return KRY_OK;
}

kry_status kry_deflation_run(const kry_operator *op, size_t k,
                             const kry_deflation_params *params, kry_deflation_ws *ws,
                             double *lambda, double *V, size_t ldv, double *resid,
                             int *converged, kry_deflation_result *res)
{
    kry_deflation_params dp;
    kry_power_params p;
    kry_power_engine e;
    defl_op d;
    double anorm = 0.0;
    int any_invariant = 0;
    size_t n;

    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(ws != NULL && lambda != NULL && V != NULL && res != NULL, KRY_EINVAL);
    memset(res, 0, sizeof *res);
    res->reason = KRY_RUNNING;
    n = op->n;
    KRY_REQUIRE(k >= 1 && k <= n, KRY_EINVAL);
    dp = params != NULL ? *params : kry_deflation_params_default();
    KRY_TRY(kry_power_params_resolve(&dp.power, &p));
    KRY_REQUIRE(kry_fits_blas_int(n) && kry_fits_blas_int(ldv), KRY_ERANGE);
    KRY_REQUIRE(ldv >= n, KRY_EDIM);
    KRY_REQUIRE(ws->n == n && k <= ws->k && p.max_iter <= ws->max_iter, KRY_EDIM);

    for (size_t j = 0; j < ws->k; ++j)
        ws->hist_len[j] = 0;

    memset(&d, 0, sizeof d);
    d.op = *op;
    d.n = n;
    d.ldv = ldv;
    d.V = V;
    d.lambda = lambda;
    d.c = ws->c;
    d.ax = ws->ax;
    d.orth = dp.orthogonalize || p.which != KRY_POWER_LM || p.shift != 0.0;

    memset(&e, 0, sizeof e);
    e.n = n;
    e.space = op->space;
    e.apply = defl_apply;
    e.apply_ctx = &d;
    e.x0 = ws->x0;
    e.buf[0] = ws->buf[0];
    e.buf[1] = ws->buf[1];
    e.buf[2] = ws->buf[2];
    e.r = ws->r;

    for (size_t j = 0; j < k; ++j) {
        kry_power_result pr;
        const double *x = NULL;
        double lam, rn;
        double *vj = V + j * ldv;
        uint64_t seed = j == 0 ? p.seed : kry_rng_u64(p.seed, KRY_RNG_STREAM_RESTART, j);

        /* Fresh start vector, projected twice against the found vectors. */
        kry_vec_random(op->space, n, seed, KRY_RNG_STREAM_START, ws->x0);
        for (int pass = 0; pass < 2 && j > 0; ++pass) {
            KRY_TRY(kry_vec_gemv_t(op->space, n, j, V, ldv, ws->x0, ws->c));
            kry_vec_gemv_n(n, j, -1.0, V, ldv, ws->c, ws->x0);
        }
        KRY_TRY(kry_power_normalize_start(op->space, n, ws->x0));

        d.j = j;
        e.hist_lambda = ws->hist + j * ws->max_iter;
        e.hist_resid = ws->hist + (ws->k + j) * ws->max_iter;
        e.anorm0 = anorm;
        kry_status st = kry_power_engine_run(&e, &p, &x, &pr);
        ws->hist_len[j] = pr.iters;
        res->matvecs += pr.matvecs;
        if (st != KRY_OK)
            return st;

        /* The last product was made at x, so ws->ax = A x: the Rayleigh quotient and the
           true residual of the undeflated A come without another matvec. */
        KRY_TRY(kry_vec_dot(op->space, n, x, ws->ax, &lam));
        kry_vec_copy(n, ws->ax, ws->r);
        kry_vec_axpy(n, -lam, x, ws->r);
        KRY_TRY(kry_vec_nrm2(op->space, n, ws->r, &rn));
        kry_vec_copy(n, x, vj);
        lambda[j] = lam;
        if (resid != NULL)
            resid[j] = rn;
        anorm = fmax(anorm, fabs(lam));

        int ok = pr.reason == KRY_CONVERGED_TOL || pr.reason == KRY_CONVERGED_INVARIANT;
        if (converged != NULL)
            converged[j] = ok;
        if (ok)
            res->nconv++;
        if (pr.reason == KRY_CONVERGED_INVARIANT)
            any_invariant = 1;
    }

    if (res->nconv < k)
        res->reason = KRY_STOPPED_MAXIT;
    else
        res->reason = any_invariant ? KRY_CONVERGED_INVARIANT : KRY_CONVERGED_TOL;
    if (p.fail_if_not_converged && res->reason == KRY_STOPPED_MAXIT)
        return KRY_ENOTCONV;
    return KRY_OK;
}

kry_status kry_deflation_history(const kry_deflation_ws *ws, size_t pair,
                                 const double **lambda, const double **resid, size_t *len)
{
    KRY_REQUIRE(ws != NULL && pair < ws->k, KRY_EINVAL);
    if (lambda != NULL)
        *lambda = ws->hist + pair * ws->max_iter;
    if (resid != NULL)
        *resid = ws->hist + (ws->k + pair) * ws->max_iter;
    if (len != NULL)
        *len = ws->hist_len[pair];
    return KRY_OK;
}
