/* test_topk.c — the thick-restart top-k driver (kry/topk.h) and the block Gram-Schmidt
   module (src/orth.h). References: analytic spectra (1-D/2-D Laplacians, diagonal
   matrices), LAPACK dsyevr on dense matrices, residuals recomputed here with naive loops. */
#include <float.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "kry/problems.h"
#include "kry/rng.h"
#include "kry/topk.h"
#include "orth.h"
#include "testops.h"

/* ---- Helpers ---- */

/* The k wanted values of the ascending spectrum ev[0..n) in kry's output order. */
static void expected(kry_which which, const double *ev, size_t n, size_t k, double *out)
{
    size_t lo = 0, hi = n;
    for (size_t i = 0; i < k; ++i) {
        switch (which) {
        case KRY_WHICH_LA: out[i] = ev[n - 1 - i]; break;
        case KRY_WHICH_SA: out[i] = ev[i]; break;
        case KRY_WHICH_LM: {
            double a = fabs(ev[lo]), b = fabs(ev[hi - 1]);
            if (a - b > 64.0 * DBL_EPSILON * a)
                out[i] = ev[lo++];
            else
                out[i] = ev[--hi];
            break;
        }
        default: out[i] = i % 2 == 0 ? ev[--hi] : ev[lo++]; break;
        }
    }
}

/* Everything one solve returns, with the arrays owned here. */
typedef struct run {
    size_t n, k;
    double *theta, *vecs, *bound;
    int *conv;
    kry_topk_result res;
    kry_status st;
} run;

static run run_solve(const kry_operator *op, size_t k, const kry_topk_params *p,
                     const double *warm, size_t nwarm)
{
    run r;
    memset(&r, 0, sizeof r);
    r.n = op->n;
    r.k = k;
    r.theta = malloc(k * sizeof(double));
    r.vecs = malloc(op->n * k * sizeof(double));
    r.bound = malloc(k * sizeof(double));
    r.conv = malloc(k * sizeof(int));
    ck_assert(r.theta && r.vecs && r.bound && r.conv);
    size_t basis = p && p->basis ? p->basis : 0;
    kry_topk_ws *ws = kry_topk_ws_alloc(op->n, k, basis);
    ck_assert_ptr_nonnull(ws);
    r.st = kry_topk_solve(op, k, p, warm, op->n, nwarm, ws, r.theta, r.vecs, op->n, r.bound,
                          r.conv, &r.res);
    kry_topk_ws_free(ws);
    return r;
}

static void run_free(run *r)
{
    free(r->theta);
    free(r->vecs);
    free(r->bound);
    free(r->conv);
}

/* Checks a converged run against the ascending spectrum ev: values to tol_abs, all
   converged, orthonormal vectors, true residuals (naive loop through op) within the
   tolerance. */
static void check_run(const run *r, const kry_operator *op, kry_which which, const double *ev,
                      double tol_abs, double tol_rel)
{
    ck_assert_int_eq(r->st, KRY_OK);
    ck_assert_uint_eq(r->res.nconv, r->k);
    ck_assert(r->res.reason == KRY_CONVERGED_TOL || r->res.reason == KRY_CONVERGED_INVARIANT);
    double *want = malloc(r->k * sizeof(double)), *ax = malloc(r->n * sizeof(double));
    ck_assert(want && ax);
    expected(which, ev, r->n, r->k, want);
    double anorm = fmax(fabs(ev[0]), fabs(ev[r->n - 1]));
    for (size_t i = 0; i < r->k; ++i) {
        ck_assert_msg(fabs(r->theta[i] - want[i]) <= tol_abs,
                      "theta[%zu] = %.17g, expected %.17g (which %s)", i, r->theta[i],
                      want[i], kry_which_name(which));
        ck_assert_int_eq(r->conv[i], 1);
        /* True residual, computed here. */
        const double *y = r->vecs + i * r->n;
        ck_assert_int_eq(op->matvec(op->ctx, y, ax), 0);
        double s2 = 0.0;
        for (size_t l = 0; l < r->n; ++l) {
            double d = ax[l] - r->theta[i] * y[l];
            s2 += d * d;
        }
        double scale = fmax(fabs(r->theta[i]), pow(DBL_EPSILON, 2.0 / 3.0) * anorm);
        ck_assert_msg(sqrt(s2) <= 10.0 * tol_rel * scale, "resid[%zu] = %g, scale %g", i,
                      sqrt(s2), scale);
    }
    ck_assert_double_le(test_orth_error(r->n, r->k, r->vecs, r->n), 1e-12);
    free(want);
    free(ax);
}

/* A CSR operator of a built-in problem, with its ascending analytic spectrum. */
typedef struct prob {
    kry_csr *a;
    kry_operator op;
    double *ev;
    size_t n;
} prob;

static prob prob_make(const char *spec, size_t m, size_t p)
{
    prob r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(kry_problem_build(spec, &r.a, NULL, 0), KRY_OK);
    ck_assert_int_eq(kry_operator_csr(r.a, &r.op), KRY_OK);
    r.n = r.op.n;
    r.ev = malloc(r.n * sizeof(double));
    ck_assert_ptr_nonnull(r.ev);
    if (p == 0)
        test_laplace1d_eigs(m, r.ev);
    else
        test_laplace2d_eigs(m, p, r.ev);
    return r;
}

static void prob_free(prob *r)
{
    kry_operator_destroy(&r->op);
    kry_csr_free(r->a);
    free(r->ev);
}

/* A diagonal test operator with the given entries (copied). */
static test_diag diag_make(size_t n, const double *d)
{
    test_diag t;
    t.n = n;
    t.d = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(t.d);
    memcpy(t.d, d, n * sizeof(double));
    t.matvecs = 0;
    return t;
}

/* diag with the top values 9.75, 9.75, 9.75 (mult[0] copies), 9.5 (mult[1]), ... and the
   remaining entries spread evenly over [0.125, 8]; entries permuted so that the
   copies are not neighbours. Fills the ascending spectrum too. */
static test_diag diag_mult(size_t n, const size_t *mult, size_t nm, double *ev)
{
    double *d = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(d);
    size_t t = 0;
    for (size_t i = 0; i < nm; ++i)
        for (size_t c = 0; c < mult[i]; ++c)
            d[t++] = 9.75 - 0.25 * (double)i;
    size_t rest = n - t;
    for (size_t i = 0; i < rest; ++i)
        d[t + i] = 0.125 + 7.875 * (double)i / (double)(rest > 1 ? rest - 1 : 1);
    memcpy(ev, d, n * sizeof(double));
    qsort(ev, n, sizeof(double), test_cmp_double);
    /* A fixed permutation: stride 7 through the entries (n coprime to 7 in the tests). */
    double *pd = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(pd);
    for (size_t i = 0; i < n; ++i)
        pd[(i * 7) % n] = d[i];
    test_diag r = diag_make(n, pd);
    free(d);
    free(pd);
    return r;
}

/* ---- core ---- */

START_TEST(test_laplace1d_all_which)
{
    prob P = prob_make("laplace1d:300", 300, 0);
    for (int w = 0; w < KRY_WHICH_COUNT; ++w) {
        kry_topk_params p = kry_topk_params_default();
        p.which = (kry_which)w;
        p.tol = 1e-10;
        run r = run_solve(&P.op, 7, &p, NULL, 0);
        check_run(&r, &P.op, p.which, P.ev, 1e-12 * 4.0, p.tol);
        ck_assert_uint_gt(r.res.matvecs, 7);
        run_free(&r);
    }
    prob_free(&P);
}
END_TEST

START_TEST(test_laplace2d_la_sa)
{
    /* 23 x 29: no two grid sizes alike, so no exact multiplicities. */
    prob P = prob_make("laplace2d:23x29", 23, 29);
    for (int w = 0; w < 2; ++w) {
        kry_topk_params p = kry_topk_params_default();
        p.which = w == 0 ? KRY_WHICH_LA : KRY_WHICH_SA;
        run r = run_solve(&P.op, 10, &p, NULL, 0);
        check_run(&r, &P.op, p.which, P.ev, 1e-12 * 8.0, 1e-8);
        /* the multiplicity check ran and found nothing */
        ck_assert_uint_ge(r.res.verify_rounds, 1);
        ck_assert_uint_eq(r.res.copies_found, 0);
        ck_assert_uint_gt(r.res.verify_matvecs, 0);
        run_free(&r);
    }
    prob_free(&P);
}
END_TEST

START_TEST(test_diag_all_which)
{
    /* 401 evenly spaced values in [-3.25, 7.5] (LM and BE see both ends). */
    size_t n = 401;
    double *d = malloc(n * sizeof(double)), *ev = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; ++i)
        d[(i * 13) % n] = ev[i] = -3.25 + 10.75 * (double)i / (double)(n - 1);
    test_diag t = diag_make(n, d);
    kry_operator op = test_diag_op(&t);
    for (int w = 0; w < KRY_WHICH_COUNT; ++w) {
        kry_topk_params p = kry_topk_params_default();
        p.which = (kry_which)w;
        run r = run_solve(&op, 6, &p, NULL, 0);
        check_run(&r, &op, p.which, ev, 1e-12 * 7.5, 1e-8);
        run_free(&r);
    }
    free(t.d);
    free(d);
    free(ev);
}
END_TEST

START_TEST(test_random_dense_vs_lapack)
{
    size_t n = 120;
    double *a = test_random_gaussian_symmetric(n, 2385), *ev = malloc(n * sizeof(double));
    ck_assert_int_eq(test_dsyevr(n, a, ev, NULL), 0);
    test_dense t = {n, a, 0};
    kry_operator op = test_dense_op(&t);
    for (int w = 0; w < KRY_WHICH_COUNT; ++w) {
        kry_topk_params p = kry_topk_params_default();
        p.which = (kry_which)w;
        p.basis = 30;
        p.tol = 1e-10;
        t.matvecs = 0;
        run r = run_solve(&op, 8, &p, NULL, 0);
        ck_assert_uint_eq(t.matvecs, r.res.matvecs); /* every product is counted */
        double anorm = fmax(fabs(ev[0]), fabs(ev[n - 1]));
        check_run(&r, &op, p.which, ev, 1e-12 * anorm, p.tol);
        run_free(&r);
    }
    free(a);
    free(ev);
}
END_TEST

START_TEST(test_many_restarts)
{
    /* Basis k + 4: each restart keeps the wanted vectors and grows by a few steps. */
    prob P = prob_make("laplace1d:120", 120, 0);
    kry_topk_params p = kry_topk_params_default();
    p.basis = 8;
    p.tol = 1e-9;
    run r = run_solve(&P.op, 4, &p, NULL, 0);
    check_run(&r, &P.op, KRY_WHICH_LA, P.ev, 1e-11, p.tol);
    ck_assert_uint_ge(r.res.restarts, 30);
    ck_assert_uint_eq(r.res.basis, 8);
    run_free(&r);
    prob_free(&P);
}
END_TEST

START_TEST(test_warm_start)
{
    /* Cold start, then a warm start from the returned vectors perturbed by 1e-6:
       far fewer matvecs, same answer. */
    prob P = prob_make("laplace2d:31x37", 31, 37);
    size_t k = 8, n = P.n;
    kry_topk_params p = kry_topk_params_default();
    run cold = run_solve(&P.op, k, &p, NULL, 0);
    check_run(&cold, &P.op, KRY_WHICH_LA, P.ev, 1e-11, 1e-8);
    double *w = malloc(n * k * sizeof(double)), *g = malloc(n * k * sizeof(double));
    memcpy(w, cold.vecs, n * k * sizeof(double));
    kry_rng_fill_normal(77, KRY_RNG_STREAM_TEST, 0, n * k, g);
    for (size_t i = 0; i < n * k; ++i)
        w[i] += 1e-6 * g[i] / sqrt((double)n);
    run warm = run_solve(&P.op, k, &p, w, k);
    check_run(&warm, &P.op, KRY_WHICH_LA, P.ev, 1e-11, 1e-8);
    /* The solve proper (without the fixed-cost multiplicity check) and the total. */
    size_t wm = warm.res.matvecs - warm.res.verify_matvecs;
    size_t cm = cold.res.matvecs - cold.res.verify_matvecs;
    ck_assert_msg(wm * 3 < cm, "warm %zu vs cold %zu matvecs", wm, cm);
    ck_assert_msg(warm.res.matvecs * 2 < cold.res.matvecs, "warm %zu vs cold %zu matvecs",
                  warm.res.matvecs, cold.res.matvecs);
    /* A single warm vector (one eigenvector, perturbed) is a start vector. */
    run one = run_solve(&P.op, 1, &p, w, 1);
    ck_assert_int_eq(one.st, KRY_OK);
    ck_assert_double_le(fabs(one.theta[0] - P.ev[n - 1]), 1e-11);
    run_free(&one);
    run_free(&cold);
    run_free(&warm);
    free(w);
    free(g);
    prob_free(&P);
}
END_TEST

/* Monitor: records the calls, stops at call `stop_at` (0: never). */
typedef struct mon_rec {
    size_t calls, stop_at, last_matvecs, bad;
} mon_rec;

static int monitor_fn(void *ctx, const kry_topk_progress *pr)
{
    mon_rec *m = ctx;
    m->calls++;
    if (pr->matvecs < m->last_matvecs || pr->nvals > pr->k || pr->nconv > pr->k ||
        pr->theta == NULL || pr->bound == NULL)
        m->bad++;
    for (size_t i = 0; i < pr->nvals; ++i)
        if (!(pr->bound[i] >= 0.0) || !isfinite(pr->theta[i]))
            m->bad++;
    for (size_t i = 1; i < pr->nvals && pr->phase == 0; ++i)
        if (pr->theta[i] > pr->theta[i - 1]) /* LA order */
            m->bad++;
    m->last_matvecs = pr->matvecs;
    return m->stop_at != 0 && m->calls >= m->stop_at;
}

START_TEST(test_monitor_and_stop)
{
    prob P = prob_make("laplace1d:150", 150, 0);
    kry_topk_params p = kry_topk_params_default();
    p.basis = 12;
    mon_rec m = {0, 0, 0, 0};
    p.monitor = monitor_fn;
    p.monitor_ctx = &m;
    run full = run_solve(&P.op, 4, &p, NULL, 0);
    check_run(&full, &P.op, KRY_WHICH_LA, P.ev, 1e-11, 1e-8);
    ck_assert_uint_eq(m.calls, full.res.restarts);
    ck_assert_uint_gt(m.calls, 3);
    ck_assert_uint_eq(m.bad, 0);
    /* Stop at the third restart: partial results, reason user. */
    mon_rec m2 = {0, 3, 0, 0};
    p.monitor_ctx = &m2;
    run part = run_solve(&P.op, 4, &p, NULL, 0);
    ck_assert_int_eq(part.st, KRY_OK);
    ck_assert_int_eq(part.res.reason, KRY_STOPPED_USER);
    ck_assert_uint_eq(m2.calls, 3);
    ck_assert_uint_lt(part.res.matvecs, full.res.matvecs);
    ck_assert_uint_lt(part.res.nconv, 4);
    for (size_t i = 0; i < 4; ++i) { /* approximations: finite, below the top */
        ck_assert(isfinite(part.theta[i]));
        ck_assert_double_le(part.theta[i], P.ev[149] + 1e-12);
        ck_assert_int_eq(part.conv[i], part.bound[i] <= 1e-8 * fabs(part.theta[i]));
    }
    run_free(&full);
    run_free(&part);
    prob_free(&P);
}
END_TEST

START_TEST(test_budget_partial)
{
    prob P = prob_make("laplace1d:400", 400, 0);
    kry_topk_params p = kry_topk_params_default();
    p.max_matvecs = 60;
    run r = run_solve(&P.op, 5, &p, NULL, 0);
    ck_assert_int_eq(r.st, KRY_OK);
    ck_assert_int_eq(r.res.reason, KRY_STOPPED_MAXIT);
    ck_assert_uint_eq(r.res.matvecs, 60);
    ck_assert_uint_lt(r.res.nconv, 5);
    for (size_t i = 0; i < 5; ++i)
        ck_assert(isfinite(r.theta[i]) && r.bound[i] > 0.0);
    run_free(&r);
    /* Budget below k: fewer Ritz values than wanted, the rest NaN. */
    p.max_matvecs = 3;
    run s = run_solve(&P.op, 5, &p, NULL, 0);
    ck_assert_int_eq(s.st, KRY_OK);
    ck_assert_int_eq(s.res.reason, KRY_STOPPED_MAXIT);
    ck_assert(isfinite(s.theta[0]) && isfinite(s.theta[2]));
    ck_assert(isnan(s.theta[3]) && isnan(s.theta[4]));
    ck_assert(isinf(s.bound[4]) && s.conv[4] == 0);
    run_free(&s);
    prob_free(&P);
}
END_TEST

START_TEST(test_solution_checks)
{
    size_t n = 90;
    double *lam = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; ++i)
        lam[i] = -2.0 + 0.0625 * (double)i;
    double *a = test_random_symmetric(n, lam, 4242);
    test_dense t = {n, a, 0};
    kry_operator op = test_dense_op(&t);
    kry_topk_params p = kry_topk_params_default();
    p.which = KRY_WHICH_BE;
    p.basis = 24;
    size_t k = 6;
    kry_topk_ws *ws = kry_topk_ws_alloc(n, k, 24);
    double theta[6], bound[6], tr[6], *v = malloc(n * k * sizeof(double));
    int conv[6];
    kry_topk_result res;
    ck_assert_int_eq(kry_topk_solve(&op, k, &p, NULL, 0, 0, ws, theta, v, n, bound, conv, &res),
                     KRY_OK);
    size_t mv = t.matvecs;
    kry_topk_check c;
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, k, theta, v, n, bound, res.anorm, tr, &c),
                     KRY_OK);
    ck_assert_uint_eq(c.matvecs, k);
    ck_assert_uint_eq(t.matvecs - mv, k);
    /* Independent: residuals and orthogonality by naive loops on the dense matrix. */
    double worst = 0.0;
    for (size_t i = 0; i < k; ++i) {
        double s2 = 0.0;
        for (size_t r = 0; r < n; ++r) {
            double s = -theta[i] * v[i * n + r];
            for (size_t l = 0; l < n; ++l)
                s += a[r * n + l] * v[i * n + l];
            s2 += s * s;
        }
        ck_assert_double_le(fabs(sqrt(s2) - tr[i]), 1e-13 + 1e-6 * tr[i]);
        worst = fmax(worst, sqrt(s2));
        ck_assert_double_le(sqrt(s2), 1e-8 * fabs(theta[i]) * 1.01 + 1e-14);
    }
    ck_assert_double_le(fabs(c.max_resid - worst), 1e-13 + 1e-6 * worst);
    ck_assert_double_eq_tol(c.orth, test_orth_error(n, k, v, n), 1e-15);
    ck_assert_double_le(c.orth, 1e-12);
    ck_assert_double_le(c.max_rel_resid, 1.01e-8);
    ck_assert_double_le(c.max_ratio, 2.0); /* bounds are honest */
    /* A damaged vector shows up: y_0 <- (y_0 + 1e-3 y_1) unnormalised. */
    for (size_t r = 0; r < n; ++r)
        v[r] += 1e-3 * v[n + r];
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, k, theta, v, n, bound, 0.0, tr, &c),
                     KRY_OK);
    ck_assert_double_ge(c.orth, 1e-3 * 0.99);
    ck_assert_double_ge(c.max_ratio, 1e3);
    kry_topk_ws_free(ws);
    free(v);
    free(a);
    free(lam);
}
END_TEST

START_TEST(test_orth_module)
{
    /* CGS2 against a random orthonormal block, and the selective variant: coefficients
       and orthogonality checked with naive loops. */
    size_t n = 200, k = 12;
    double *Q = malloc(n * k * sizeof(double)), *w = malloc(n * sizeof(double));
    double *w0 = malloc(n * sizeof(double)), c[13], work[13], nrm, nin;
    kry_rng_fill_normal(5, KRY_RNG_STREAM_TEST, 0, n * k, Q);
    /* orthonormalise Q by modified Gram-Schmidt here (independent of orth.c) */
    for (size_t j = 0; j < k; ++j) {
        for (size_t i = 0; i < j; ++i) {
            double s = 0.0;
            for (size_t r = 0; r < n; ++r)
                s += Q[i * n + r] * Q[j * n + r];
            for (size_t r = 0; r < n; ++r)
                Q[j * n + r] -= s * Q[i * n + r];
        }
        double s = 0.0;
        for (size_t r = 0; r < n; ++r)
            s += Q[j * n + r] * Q[j * n + r];
        for (size_t r = 0; r < n; ++r)
            Q[j * n + r] /= sqrt(s);
    }
    kry_rng_fill_normal(6, KRY_RNG_STREAM_TEST, 0, n, w0);
    memcpy(w, w0, n * sizeof(double));
    ck_assert_int_eq(kry_orth_cgs2(NULL, n, Q, n, k, w, c, work, &nrm), KRY_OK);
    for (size_t i = 0; i < k; ++i) {
        double s = 0.0, s0 = 0.0;
        for (size_t r = 0; r < n; ++r) {
            s += Q[i * n + r] * w[r];
            s0 += Q[i * n + r] * w0[r];
        }
        ck_assert_double_le(fabs(s), 1e-14);
        ck_assert_double_le(fabs(s0 - c[i]), 1e-13);
    }
    double s = 0.0;
    for (size_t r = 0; r < n; ++r)
        s += w[r] * w[r];
    ck_assert_double_le(fabs(sqrt(s) - nrm), 1e-13);
    /* Selective, three blocks: block 1 = Q[:, 0:4] and block 3 = Q[:, 10:12] removed in
       full; block 2 = Q[:, 4:10] coefficient of size 1e-16 |w| left in place, 1e-9 |w|
       removed. */
    double *x = malloc(n * sizeof(double));
    memcpy(x, w, n * sizeof(double)); /* x is orthogonal to Q */
    double xn = nrm;
    for (size_t r = 0; r < n; ++r)
        x[r] += xn * (0.25 * Q[6 * n + r] + 1e-16 * Q[5 * n + r] + 1e-9 * Q[7 * n + r]);
    kry_orth_basis b = {Q, n, 4, Q + 4 * n, n, 6, Q + 10 * n, n, 2};
    int np;
    ck_assert_int_eq(kry_orth_cgs_sel(NULL, n, &b, 1e-14, 1e-3, x, c, work, &nin, &nrm, &np),
                     KRY_OK);
    ck_assert_int_eq(np, 2); /* 0.25 > kappa in block 2: full CGS2 */
    ck_assert_double_le(fabs(c[6] - 0.25 * xn), 1e-13);
    memcpy(x, w, n * sizeof(double));
    for (size_t r = 0; r < n; ++r)
        x[r] += xn * (1e-5 * Q[r] + 1e-16 * Q[5 * n + r] + 1e-9 * Q[7 * n + r] +
                      0.5 * Q[11 * n + r]);
    ck_assert_int_eq(kry_orth_cgs_sel(NULL, n, &b, 1e-14, 1e-3, x, c, work, &nin, &nrm, &np),
                     KRY_OK);
    ck_assert_int_eq(np, 1);
    ck_assert_double_le(fabs(c[0] - 1e-5 * xn), 1e-15 * xn + 1e-18);
    ck_assert_double_eq(c[4 + 1], 0.0); /* left in place */
    ck_assert_double_le(fabs(c[4 + 3] - 1e-9 * xn), 1e-15 * xn);
    ck_assert_double_le(fabs(c[11] - 0.5 * xn), 1e-14 * xn);
    for (size_t i = 0; i < k; ++i) {
        double t = 0.0;
        for (size_t r = 0; r < n; ++r)
            t += Q[i * n + r] * x[r];
        ck_assert_double_le(fabs(t), i == 5 ? 2e-16 * xn : 1e-14 * xn);
    }
    s = 0.0;
    for (size_t r = 0; r < n; ++r)
        s += x[r] * x[r];
    ck_assert_double_le(fabs(sqrt(s) - nrm), 1e-14 * nrm);
    free(x);
    free(Q);
    free(w);
    free(w0);
}
END_TEST

/* Two "ranks" as threads, each holding half of a diagonal operator; the reduction hook
   sums their partial values through a barrier (the same order on both). Both ranks must
   return identical eigenvalues, equal to the serial ones to rounding, and their local
   blocks of the eigenvectors must match the serial vectors (up to sign). */
typedef struct rank_ctx {
    test_rank tr; /* first: the reduction hook's view */
    size_t n_local;
    const double *d_local;
    kry_space space;
    double theta[6], vecs[6 * 100];
    kry_topk_result res;
    kry_status st;
} rank_ctx;

static int rank_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    rank_ctx *r = ctx;
    for (size_t i = 0; i < r->n_local; ++i)
        y[i] = r->d_local[i] * x[i];
    return 0;
}

static void *rank_main(void *arg)
{
    rank_ctx *r = arg;
    kry_operator op;
    memset(&op, 0, sizeof op);
    op.n = r->n_local;
    op.matvec = rank_matvec;
    op.ctx = r;
    op.space = &r->space;
    kry_topk_ws *ws = kry_topk_ws_alloc(r->n_local, 6, 0);
    r->st = ws ? kry_topk_solve(&op, 6, NULL, NULL, 0, 0, ws, r->theta, r->vecs, r->n_local,
                                NULL, NULL, &r->res)
               : KRY_ENOMEM;
    kry_topk_ws_free(ws);
    return NULL;
}

START_TEST(test_two_ranks)
{
    /* 200 values in [0.5, 6.25] plus a double eigenvalue 7.125 at the top, so that the
       run also goes through the multiplicity check. */
    const size_t n = 200, half = 100;
    double d[200], ev[200];
    for (size_t i = 0; i < n; ++i)
        d[(i * 7) % n] = 0.5 + 5.75 * (double)i / (double)(n - 1);
    d[13] = d[150] = 7.125;
    memcpy(ev, d, sizeof d);
    qsort(ev, n, sizeof(double), test_cmp_double);
    test_diag td = diag_make(n, d);
    kry_operator op = test_diag_op(&td);
    run ser = run_solve(&op, 6, NULL, NULL, 0);
    check_run(&ser, &op, KRY_WHICH_LA, ev, 1e-12 * 7.125, 1e-8);

    test_team t;
    rank_ctx rk[2];
    pthread_t th[2];
    ck_assert_int_eq(test_team_init(&t), 0);
    for (int r = 0; r < 2; ++r) {
        memset(&rk[r], 0, sizeof rk[r]);
        rk[r].tr.team = &t;
        rk[r].tr.rank = r;
        rk[r].n_local = half;
        rk[r].d_local = d + (size_t)r * half;
        rk[r].space.allreduce = test_team_allreduce;
        rk[r].space.ctx = &rk[r];
        rk[r].space.offset = (uint64_t)r * half;
        rk[r].space.n_global = n;
        ck_assert_int_eq(pthread_create(&th[r], NULL, rank_main, &rk[r]), 0);
    }
    for (int r = 0; r < 2; ++r)
        pthread_join(th[r], NULL);
    test_team_destroy(&t);
    ck_assert_int_eq(t.overflow, 0);
    for (int r = 0; r < 2; ++r) {
        ck_assert_int_eq(rk[r].st, KRY_OK);
        ck_assert_uint_eq(rk[r].res.nconv, 6);
        ck_assert_uint_ge(rk[r].res.verify_rounds, 1);
        for (size_t i = 0; i < 6; ++i) {
            ck_assert_double_eq(rk[r].theta[i], rk[0].theta[i]); /* ranks agree exactly */
            ck_assert_double_le(fabs(rk[r].theta[i] - ser.theta[i]), 1e-12 * 7.125);
        }
        /* Simple eigenvalues (i >= 2): local blocks match the serial vectors up to sign. */
        for (size_t i = 2; i < 6; ++i) {
            const double *a = rk[r].vecs + i * half, *b = ser.vecs + i * n + (size_t)r * half;
            double sgn = 0.0;
            for (size_t l = 0; l < half && sgn == 0.0; ++l)
                if (fabs(b[l]) > 0.1)
                    sgn = a[l] * b[l] > 0.0 ? 1.0 : -1.0;
            for (size_t l = 0; l < half; ++l)
                ck_assert_double_le(fabs(a[l] - sgn * b[l]), 1e-7);
        }
    }
    run_free(&ser);
    free(td.d);
}
END_TEST

/* ---- multiplicity ---- */

START_TEST(test_diag_triple_top)
{
    /* Top value 9.75 three times, k = 4: a single Krylov sequence returns one copy (it
       converges in a few dozen steps, before rounding can grow the others). */
    size_t n = 601, mult[] = {3, 1, 1, 1};
    double *ev = malloc(n * sizeof(double));
    test_diag t = diag_mult(n, mult, 4, ev);
    kry_operator op = test_diag_op(&t);
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        kry_topk_params p = kry_topk_params_default();
        p.seed = seed;
        run r = run_solve(&op, 4, &p, NULL, 0);
        check_run(&r, &op, KRY_WHICH_LA, ev, 1e-12 * 9.75, 1e-8);
        ck_assert_double_eq_tol(r.theta[2], 9.75, 1e-12);
        ck_assert_double_eq_tol(r.theta[3], 9.5, 1e-12);
        ck_assert_uint_ge(r.res.copies_found, 1);
        run_free(&r);
    }
    free(t.d);
    free(ev);
}
END_TEST

START_TEST(test_diag_mixed_multiplicities)
{
    /* 9.75 x2, 9.5, 9.25, ..., then 8.25 x2; k = 8 wants both pairs. LM as well (all
       positive, so the same set). */
    size_t n = 703, mult[] = {2, 1, 1, 1, 1, 1, 2};
    double *ev = malloc(n * sizeof(double));
    test_diag t = diag_mult(n, mult, 7, ev);
    kry_operator op = test_diag_op(&t);
    for (int w = 0; w < 2; ++w) {
        kry_topk_params p = kry_topk_params_default();
        p.which = w == 0 ? KRY_WHICH_LA : KRY_WHICH_LM;
        run r = run_solve(&op, 9, &p, NULL, 0);
        check_run(&r, &op, p.which, ev, 1e-12 * 9.75, 1e-8);
        run_free(&r);
    }
    free(t.d);
    free(ev);
}
END_TEST

START_TEST(test_square_grid_pairs)
{
    /* The m x m grid: lambda(i, j) = lambda(j, i), so the top (and bottom) values come in
       pairs; every copy must come back. */
    prob P = prob_make("laplace2d:32x32", 32, 32);
    for (int w = 0; w < 3; ++w) {
        kry_topk_params p = kry_topk_params_default();
        p.which = w == 0 ? KRY_WHICH_LA : w == 1 ? KRY_WHICH_SA : KRY_WHICH_BE;
        run r = run_solve(&P.op, 10, &p, NULL, 0);
        check_run(&r, &P.op, p.which, P.ev, 1e-12 * 8.0, 1e-8);
        run_free(&r);
    }
    prob_free(&P);
}
END_TEST

/* ---- args ---- */

static int fail3_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    size_t *calls = ctx;
    for (size_t i = 0; i < 50; ++i)
        y[i] = (double)(i + 1) * x[i];
    return ++*calls >= 3;
}

static int nan5_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    size_t *calls = ctx;
    for (size_t i = 0; i < 50; ++i)
        y[i] = (double)(i + 1) * x[i];
    if (++*calls >= 5)
        y[7] = NAN;
    return 0;
}

static int diag50_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    for (size_t i = 0; i < 50; ++i)
        y[i] = (double)(i + 1) * x[i];
    return 0;
}

static int fail_reduce(void *ctx, double *buf, size_t count)
{
    size_t *calls = ctx;
    (void)buf;
    (void)count;
    return ++*calls >= 9;
}

START_TEST(test_args_solve)
{
    size_t n = 50, k = 3, calls = 0;
    kry_operator op;
    ck_assert_int_eq(kry_operator_callback(n, diag50_matvec, NULL, &op), KRY_OK);
    kry_topk_ws *ws = kry_topk_ws_alloc(n, 4, 20);
    ck_assert_ptr_nonnull(ws);
    double th[4], b[4], *v = malloc(n * 4 * sizeof(double)), warm[50 * 2];
    int cv[4];
    kry_topk_result res;
    kry_topk_params p = kry_topk_params_default();
    p.basis = 20;
#define SOLVE(opp, kk, pp, w, ldw, nw, wss, t, vv, ld) \
    kry_topk_solve(opp, kk, pp, w, ldw, nw, wss, t, vv, ld, b, cv, &res)
    ck_assert_int_eq(SOLVE(&op, k, &p, NULL, 0, 0, ws, th, v, n), KRY_OK);
    ck_assert_double_eq_tol(th[0], 50.0, 1e-10);
    /* NULL pointers, invalid operator */
    ck_assert_int_eq(SOLVE(NULL, k, &p, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    ck_assert_int_eq(SOLVE(&op, k, &p, NULL, 0, 0, NULL, th, v, n), KRY_EINVAL);
    ck_assert_int_eq(SOLVE(&op, k, &p, NULL, 0, 0, ws, NULL, v, n), KRY_EINVAL);
    kry_operator bad = op;
    bad.matvec = NULL;
    ck_assert_int_eq(SOLVE(&bad, k, &p, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    /* k = 0, k > n */
    ck_assert_int_eq(SOLVE(&op, 0, &p, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    kry_topk_ws *big = kry_topk_ws_alloc(n, 60, 60);
    ck_assert_int_eq(SOLVE(&op, 51, NULL, NULL, 0, 0, big, th, NULL, n), KRY_EINVAL);
    kry_topk_ws_free(big);
    /* basis below its minimum k + 2 */
    kry_topk_params q = p;
    q.basis = k + 1;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q.basis = k + 2;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_OK);
    /* bad params */
    q = p;
    q.which = KRY_WHICH_COUNT;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q = p;
    q.tol = NAN;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q.tol = 1.0;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q = p;
    q.keep_frac = 1.0;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q.keep_frac = INFINITY;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q = p;
    q.verify_tol = NAN;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q = p;
    q.breakdown_tol = INFINITY;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    q = p;
    q.reorth_tol = 1e-3;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EINVAL);
    /* workspace too small, dimensions */
    ck_assert_int_eq(SOLVE(&op, 5, &p, NULL, 0, 0, ws, th, NULL, n), KRY_EDIM);
    q = p;
    q.basis = 21;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_EDIM);
    kry_topk_ws *ws49 = kry_topk_ws_alloc(n - 1, 4, 20);
    ck_assert_int_eq(SOLVE(&op, k, &p, NULL, 0, 0, ws49, th, v, n), KRY_EDIM);
    kry_topk_ws_free(ws49);
    ck_assert_int_eq(SOLVE(&op, k, &p, NULL, 0, 0, ws, th, v, n - 1), KRY_EDIM);
    for (size_t i = 0; i < 2 * n; ++i)
        warm[i] = 0.5 + (double)(i % 7);
    ck_assert_int_eq(SOLVE(&op, k, &p, warm, n - 1, 2, ws, th, v, n), KRY_EDIM);
    ck_assert_int_eq(SOLVE(&op, k, &p, NULL, n, 2, ws, th, v, n), KRY_EINVAL);
    ck_assert_int_eq(SOLVE(&op, k, &p, warm, n, 2, ws, th, v, n), KRY_OK);
    /* ERANGE: a leading dimension beyond a BLAS int (nothing is touched) */
    ck_assert_int_eq(SOLVE(&op, k, &p, NULL, 0, 0, ws, th, v, (size_t)INT_MAX + 1),
                     KRY_ERANGE);
    /* non-finite warm vectors */
    warm[3] = NAN;
    ck_assert_int_eq(SOLVE(&op, k, &p, warm, n, 2, ws, th, v, n), KRY_ENONFINITE);
    /* failing matvec, NaN from the matvec */
    kry_operator f;
    ck_assert_int_eq(kry_operator_callback(n, fail3_matvec, &calls, &f), KRY_OK);
    ck_assert_int_eq(SOLVE(&f, k, &p, NULL, 0, 0, ws, th, v, n), KRY_ECALLBACK);
    ck_assert_uint_eq(res.matvecs, 2);
    calls = 0;
    ck_assert_int_eq(kry_operator_callback(n, nan5_matvec, &calls, &f), KRY_OK);
    ck_assert_int_eq(SOLVE(&f, k, &p, NULL, 0, 0, ws, th, v, n), KRY_ENONFINITE);
    /* failing reduction hook */
    size_t rcalls = 0;
    kry_space sp = {fail_reduce, &rcalls, 0, 0};
    kry_operator r = op;
    r.space = &sp;
    ck_assert_int_eq(SOLVE(&r, k, &p, NULL, 0, 0, ws, th, v, n), KRY_ECALLBACK);
    /* fail_if_not_converged */
    q = p;
    q.max_matvecs = 10;
    q.fail_if_not_converged = 1;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_ENOTCONV);
    ck_assert_int_eq(res.reason, KRY_STOPPED_MAXIT);
    ck_assert(isfinite(th[0])); /* outputs still filled */
    q.fail_if_not_converged = 0;
    ck_assert_int_eq(SOLVE(&op, k, &q, NULL, 0, 0, ws, th, v, n), KRY_OK);
#undef SOLVE
    kry_topk_ws_free(ws);
    free(v);
}
END_TEST

START_TEST(test_args_ws_and_check)
{
    ck_assert_ptr_null(kry_topk_ws_alloc(0, 3, 10));
    ck_assert_ptr_null(kry_topk_ws_alloc(10, 0, 10));
    ck_assert_ptr_null(kry_topk_ws_alloc(SIZE_MAX / 4, 3, 10));
    kry_topk_ws_free(NULL);
    ck_assert_uint_eq(kry_topk_ws_bytes(0, 3, 10), 0);
    ck_assert_uint_eq(kry_topk_ws_bytes(SIZE_MAX / 2, 3, 10), 0);
    ck_assert_uint_gt(kry_topk_ws_bytes(100, 3, 0), 100 * 8 * (2 * 3 + 2 * 40));
    kry_topk_params d = kry_topk_params_default();
    ck_assert_int_eq(d.which, KRY_WHICH_LA);
    ck_assert_int_eq(d.verify, 1);
    ck_assert_uint_eq(d.seed, 1);

    size_t n = 50, calls = 0;
    kry_operator op, f;
    ck_assert_int_eq(kry_operator_callback(n, diag50_matvec, NULL, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_callback(n, fail3_matvec, &calls, &f), KRY_OK);
    kry_topk_ws *ws = kry_topk_ws_alloc(n, 3, 10);
    double th[4] = {50, 49, 48, 47}, v[200] = {0}, tr[4];
    for (size_t i = 0; i < 4; ++i)
        v[i * n + 49 - i] = 1.0;
    kry_topk_check c;
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, 3, th, v, n, NULL, 0.0, tr, &c), KRY_OK);
    ck_assert_double_eq(c.max_resid, 0.0);
    ck_assert_double_eq(c.orth, 0.0);
    ck_assert_double_eq(c.max_ratio, 0.0);
    ck_assert_int_eq(kry_topk_check_solution(NULL, ws, 3, th, v, n, NULL, 0, tr, &c),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_topk_check_solution(&op, NULL, 3, th, v, n, NULL, 0, tr, &c),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, 0, th, v, n, NULL, 0, tr, &c),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, 3, NULL, v, n, NULL, 0, tr, &c),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, 3, th, v, n, NULL, 0, tr, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, 4, th, v, n, NULL, 0, tr, &c),
                     KRY_EDIM);
    ck_assert_int_eq(kry_topk_check_solution(&op, ws, 3, th, v, n - 1, NULL, 0, tr, &c),
                     KRY_EDIM);
    ck_assert_int_eq(kry_topk_check_solution(&f, ws, 3, th, v, n, NULL, 0, tr, &c),
                     KRY_ECALLBACK);
    kry_topk_ws_free(ws);
}
END_TEST

/* ---- edge ---- */

START_TEST(test_n1)
{
    double d = 2.385;
    test_diag t = diag_make(1, &d);
    kry_operator op = test_diag_op(&t);
    for (int w = 0; w < KRY_WHICH_COUNT; ++w) {
        kry_topk_params p = kry_topk_params_default();
        p.which = (kry_which)w;
        run r = run_solve(&op, 1, &p, NULL, 0);
        ck_assert_int_eq(r.st, KRY_OK);
        ck_assert_double_eq_tol(r.theta[0], 2.385, 1e-15);
        ck_assert_double_eq_tol(fabs(r.vecs[0]), 1.0, 1e-15);
        ck_assert_int_eq(r.res.reason, KRY_CONVERGED_INVARIANT);
        ck_assert_uint_eq(r.res.matvecs, 1);
        run_free(&r);
    }
    free(t.d);
}
END_TEST

START_TEST(test_whole_space_and_k_eq_n)
{
    /* n <= basis: the whole space fits, the answer is exact. k = n: every eigenvalue. */
    size_t n = 17;
    double *a = test_random_gaussian_symmetric(n, 99), ev[17];
    ck_assert_int_eq(test_dsyevr(n, a, ev, NULL), 0);
    test_dense t = {n, a, 0};
    kry_operator op = test_dense_op(&t);
    double anorm = fmax(fabs(ev[0]), fabs(ev[n - 1]));
    size_t ks[] = {3, 17};
    for (size_t c = 0; c < 2; ++c)
        for (int w = 0; w < KRY_WHICH_COUNT; ++w) {
            kry_topk_params p = kry_topk_params_default();
            p.which = (kry_which)w;
            run r = run_solve(&op, ks[c], &p, NULL, 0);
            check_run(&r, &op, p.which, ev, 1e-13 * anorm, 1e-8);
            ck_assert_int_eq(r.res.reason, KRY_CONVERGED_INVARIANT);
            ck_assert_uint_le(r.res.matvecs, n);
            ck_assert_uint_eq(r.res.basis, n);
            run_free(&r);
        }
    free(a);
}
END_TEST

START_TEST(test_invariant_start)
{
    /* Warm start inside a 2-dimensional invariant subspace (two eigenvectors of a
       diagonal matrix): the sequence breaks down after 2 steps and must continue with a
       fresh vector to find the 5 wanted values. */
    size_t n = 300;
    double *d = malloc(n * sizeof(double)), *ev = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; ++i)
        d[i] = ev[i] = 0.5 + 0.03125 * (double)i;
    test_diag t = diag_make(n, d);
    kry_operator op = test_diag_op(&t);
    double *w = calloc(2 * n, sizeof(double));
    w[10] = 1.0;      /* eigenvalue 0.8125, not wanted */
    w[n + 299] = 1.0; /* the top one */
    kry_topk_params p = kry_topk_params_default();
    run r = run_solve(&op, 5, &p, w, 2);
    check_run(&r, &op, KRY_WHICH_LA, ev, 1e-12 * 10.0, 1e-8);
    run_free(&r);
    free(w);
    free(t.d);
    free(d);
    free(ev);
}
END_TEST

START_TEST(test_tied_values)
{
    /* +-lambda pairs for LM (ties in magnitude: the positive one first), and a matrix
       with only two distinct eigenvalues (every Krylov space breaks down at step 2). */
    size_t n = 64;
    double *d = malloc(n * sizeof(double)), *ev = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; ++i)
        d[i] = (i % 2 ? -1.0 : 1.0) * (1.0 + 0.125 * (double)(i / 2));
    memcpy(ev, d, n * sizeof(double));
    qsort(ev, n, sizeof(double), test_cmp_double);
    test_diag t = diag_make(n, d);
    kry_operator op = test_diag_op(&t);
    kry_topk_params p = kry_topk_params_default();
    p.which = KRY_WHICH_LM;
    run r = run_solve(&op, 6, &p, NULL, 0);
    check_run(&r, &op, KRY_WHICH_LM, ev, 1e-12 * 5.0, 1e-8);
    ck_assert_double_gt(r.theta[0], 0.0);
    ck_assert_double_lt(r.theta[1], 0.0);
    run_free(&r);
    for (size_t i = 0; i < n; ++i)
        t.d[i] = ev[i] = i < 40 ? -0.75 : 2.385;
    qsort(ev, n, sizeof(double), test_cmp_double);
    for (int w = 0; w < 2; ++w) {
        p.which = w == 0 ? KRY_WHICH_LA : KRY_WHICH_SA;
        run s = run_solve(&op, 5, &p, NULL, 0);
        check_run(&s, &op, p.which, ev, 1e-13 * 2.385, 1e-8);
        run_free(&s);
    }
    free(t.d);
    free(d);
    free(ev);
}
END_TEST

Suite *topk_suite(void);
Suite *topk_suite(void)
{
    Suite *s = suite_create("topk");
    TCase *core = tcase_create("core"), *mult = tcase_create("multiplicity"),
          *args = tcase_create("args"), *edge = tcase_create("edge");
    tcase_add_test(core, test_laplace1d_all_which);
    tcase_add_test(core, test_laplace2d_la_sa);
    tcase_add_test(core, test_diag_all_which);
    tcase_add_test(core, test_random_dense_vs_lapack);
    tcase_add_test(core, test_many_restarts);
    tcase_add_test(core, test_warm_start);
    tcase_add_test(core, test_monitor_and_stop);
    tcase_add_test(core, test_budget_partial);
    tcase_add_test(core, test_solution_checks);
    tcase_add_test(core, test_orth_module);
    tcase_add_test(core, test_two_ranks);
    tcase_add_test(mult, test_diag_triple_top);
    tcase_add_test(mult, test_diag_mixed_multiplicities);
    tcase_add_test(mult, test_square_grid_pairs);
    tcase_add_test(args, test_args_solve);
    tcase_add_test(args, test_args_ws_and_check);
    tcase_add_test(edge, test_n1);
    tcase_add_test(edge, test_whole_space_and_k_eq_n);
    tcase_add_test(edge, test_invariant_start);
    tcase_add_test(edge, test_tied_values);
    suite_add_tcase(s, core);
    suite_add_tcase(s, mult);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(topk_suite)
