/* test_ritz.c — Ritz pairs (ordering, vectors, bounds, the MATH.md convergence test),
   Cullum-Willoughby ghost flags, true residuals and the unrestarted eigensolver
   kry_lanczos_eigs. References: LAPACK dsyevr on the dense matrix, dstev on a copy of T,
   analytic spectra, and diagonal matrices. */
#include <float.h>
#include <string.h>

#include <lapacke.h>

#include "kry/lanczos.h"
#include "kry/ritz.h"
#include "testops.h"

/* ---- Helpers ---- */

/* |A y - theta y| for a dense row-major A (independent of kry's residual routine). */
static double dense_residual(const double *a, size_t n, const double *y, double theta)
{
    double s2 = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double s = -theta * y[i];
        for (size_t l = 0; l < n; ++l)
            s += a[i * n + l] * y[l];
        s2 += s * s;
    }
    return sqrt(s2);
}

/* diag(1, 2, ..., n), failing from the third call on. */
typedef struct failing {
    size_t n, calls;
} failing;

static int fail_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    failing *f = ctx;
    for (size_t i = 0; i < f->n; ++i)
        y[i] = (double)(i + 1) * x[i];
    return ++f->calls >= 3;
}

static int nan_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    y[0] = x[0] * NAN;
    y[1] = x[1];
    return 0;
}

static int bad_allreduce(void *ctx, double *buf, size_t count)
{
    size_t *calls = ctx;
    (void)buf;
    (void)count;
    return ++*calls >= 3;
}

/* Runs n steps (the whole space) with full reorthogonalisation on diag(d). */
static kry_lanczos_ws *full_run_diag(test_diag *t, kry_operator *op)
{
    *op = test_diag_op(t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(t->n, t->n);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.continue_on_breakdown = 1;
    ck_assert_int_eq(kry_lanczos_run(op, NULL, &p, ws, NULL), KRY_OK);
    ck_assert_uint_eq(kry_lanczos_steps(ws), t->n);
    return ws;
}

/* ---- core ---- */

START_TEST(test_which_order)
{
    double d[6] = {-3.5, 1.2, 3.5, -0.4, 2.25, -2.0};
    test_diag t = {6, d, 0};
    kry_operator op;
    kry_lanczos_ws *ws = full_run_diag(&t, &op);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(6);
    ck_assert_ptr_nonnull(rws);
    struct {
        kry_which which;
        size_t k;
        double want[6];
    } cases[] = {
        {KRY_WHICH_LA, 3, {3.5, 2.25, 1.2}},
        {KRY_WHICH_SA, 4, {-3.5, -2.0, -0.4, 1.2}},
        {KRY_WHICH_LM, 4, {3.5, -3.5, 2.25, -2.0}}, /* tie: the larger first */
        {KRY_WHICH_LM, 2, {3.5, -3.5}},             /* two ranges (2k < m) */
        {KRY_WHICH_BE, 5, {3.5, -3.5, 2.25, -2.0, 1.2}},
        {KRY_WHICH_BE, 1, {3.5}},
        {KRY_WHICH_LA, 6, {3.5, 2.25, 1.2, -0.4, -2.0, -3.5}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        double theta[6], vecs[36], bound[6];
        int conv[6];
        size_t k = cases[c].k;
        ck_assert_int_eq(kry_ritz_pairs(ws, rws, k, cases[c].which, 1e-12, theta, vecs, 6,
                                        bound, conv),
                         KRY_OK);
        for (size_t i = 0; i < k; ++i) {
            ck_assert_double_eq_tol(theta[i], cases[c].want[i], 1e-13);
            ck_assert_int_eq(conv[i], 1);
            /* The vector is +-e_r with d[r] = theta. */
            for (size_t r = 0; r < 6; ++r) {
                double expect = fabs(d[r] - theta[i]) < 1e-9 ? 1.0 : 0.0;
                ck_assert_double_eq_tol(fabs(vecs[i * 6 + r]), expect, 1e-12);
            }
        }
        /* Only theta requested. */
        double th2[6];
        ck_assert_int_eq(
            kry_ritz_pairs(ws, rws, k, cases[c].which, 0.0, th2, NULL, 0, NULL, NULL), KRY_OK);
        for (size_t i = 0; i < k; ++i)
            ck_assert_double_eq_tol(th2[i], theta[i], 1e-14);
    }
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_pairs_vs_dsyevr)
{
    /* Gaussian symmetric 150 x 150, 90 steps: the extreme Ritz pairs match dsyevr. */
    size_t n = 150, m = 90, k = 4;
    test_dense t = {n, test_random_gaussian_symmetric(n, 31), 0};
    double *ref = malloc(n * sizeof *ref), *z = malloc(n * n * sizeof *z);
    ck_assert_ptr_nonnull(ref);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(test_dsyevr(n, t.a, ref, z), 0);
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, m);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(m);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = m;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
    double scale = fmax(fabs(ref[0]), fabs(ref[n - 1]));
    double theta[4], vecs[150 * 4], bound[4];
    int conv[4];
    for (int which = 0; which < 2; ++which) {
        ck_assert_int_eq(kry_ritz_pairs(ws, rws, k, (kry_which)which, 1e-8, theta, vecs, n,
                                        bound, conv),
                         KRY_OK);
        ck_assert_double_le(test_orth_error(n, k, vecs, n), 1e-13);
        for (size_t i = 0; i < k; ++i) {
            size_t r = which == KRY_WHICH_LA ? n - 1 - i : i;
            ck_assert_int_eq(conv[i], 1);
            ck_assert_double_le(fabs(theta[i] - ref[r]), 1e-12 * scale);
            double dot = 0.0;
            for (size_t l = 0; l < n; ++l)
                dot += vecs[i * n + l] * z[r * n + l];
            ck_assert_double_eq_tol(fabs(dot), 1.0, 1e-8);
        }
    }
    free(ref);
    free(z);
    free(t.a);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_bound_equals_true_residual)
{
    /* Full reorthogonalisation, 60 steps on a 200 x 200 matrix with spectrum 1..100:
       beta_{m-1} |s_{m-1,i}| is the true residual |A y - theta y|, converged or not. */
    size_t n = 200, m = 60, k = 30;
    double lam[200];
    for (size_t i = 0; i < n; ++i)
        lam[i] = 1.0 + 99.0 * (double)(i * i) / (double)((n - 1) * (n - 1));
    test_dense t = {n, test_random_symmetric(n, lam, 12), 0};
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, m);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(m);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = m;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
    double theta[30], bound[30], resid[30], work[200];
    ck_assert_uint_le(k, m);
    double *vecs = malloc(n * k * sizeof *vecs);
    ck_assert_ptr_nonnull(vecs);
    ck_assert_int_eq(
        kry_ritz_pairs(ws, rws, k, KRY_WHICH_LA, 0.0, theta, vecs, n, bound, NULL), KRY_OK);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, k, theta, vecs, n, work, resid), KRY_OK);
    double bmax = 0.0, bmin = INFINITY;
    for (size_t i = 0; i < k; ++i) {
        double ref = dense_residual(t.a, n, vecs + i * n, theta[i]);
        ck_assert_double_le(fabs(resid[i] - ref), 1e-13 * 100.0);
        ck_assert_msg(fabs(bound[i] - ref) <= 1e-12 * fmax(ref, 100.0 * 1e-3),
                      "pair %zu: bound %.17g, true %.17g", i, bound[i], ref);
        bmax = fmax(bmax, bound[i]);
        bmin = fmin(bmin, bound[i]);
    }
    ck_assert_double_gt(bmax, 1.0);   /* some pairs far from converged */
    ck_assert_double_lt(bmin, 1e-6);  /* some converged */
    free(vecs);
    free(t.a);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_convergence_test_math)
{
    /* converged[i] == (beta|s_{m-1,i}| <= tol max(|theta_i|, eps^(2/3) |T|)), with the
       reference eigen-decomposition of T from LAPACK dstev. Zero is an eigenvalue, so
       the eps^(2/3) |T| floor decides for the Ritz value near it. */
    size_t n = 41, m = 25;
    double d[41];
    for (size_t i = 0; i < n; ++i)
        d[i] = -2.0 + 0.1 * (double)i; /* includes 0 at i = 20 */
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, m);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(m);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = m;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
    double w[25], e[25], s[625];
    memcpy(w, kry_lanczos_alpha(ws), m * sizeof *w);
    memcpy(e, kry_lanczos_beta(ws), m * sizeof *e);
    ck_assert_int_eq(LAPACKE_dstev(LAPACK_COL_MAJOR, 'V', (int)m, w, e, s, (int)m), 0);
    double tn = fmax(fabs(w[0]), fabs(w[m - 1]));
    double bl = kry_lanczos_beta(ws)[m - 1];
    const double tols[] = {1e-1, 1e-4, 1e-8, 1e-12};
    size_t ntrue = 0, nfalse = 0;
    for (size_t c = 0; c < 4; ++c) {
        double theta[25], bound[25];
        int conv[25];
        ck_assert_int_eq(
            kry_ritz_pairs(ws, rws, m, KRY_WHICH_SA, tols[c], theta, NULL, 0, bound, conv),
            KRY_OK);
        for (size_t i = 0; i < m; ++i) {
            double b = fabs(bl * s[i * m + m - 1]);
            ck_assert_double_eq_tol(theta[i], w[i], 1e-14);
            ck_assert_double_le(fabs(bound[i] - b), 1e-14 + 1e-8 * b);
            double lim = tols[c] * fmax(fabs(w[i]), pow(DBL_EPSILON, 2.0 / 3.0) * tn);
            if (fabs(b - lim) > 1e-6 * lim) { /* not a coin toss at the threshold */
                ck_assert_int_eq(conv[i], b <= lim);
                ntrue += conv[i] != 0;
                nfalse += conv[i] == 0;
            }
        }
    }
    ck_assert_uint_gt(ntrue, 0);
    ck_assert_uint_gt(nfalse, 0);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

/* Diagonal with a well-separated top pair, 0.1 .. 1.4 below. */
static double *ghost_diag(size_t n)
{
    double *d = malloc(n * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; ++i)
        d[i] = 0.1 + 1.3 * (double)i / (double)(n - 1);
    d[n - 1] = 3.7;
    d[n - 2] = 2.9;
    return d;
}

START_TEST(test_ghosts_none_vs_full)
{
    size_t n = 100, m = 80, k = 8;
    double *d = ghost_diag(n);
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, m);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(m);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    for (int mode = 0; mode < 2; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = mode == 0 ? KRY_REORTH_NONE : KRY_REORTH_FULL;
        p.max_steps = m;
        p.seed = 5;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
        double theta[8];
        int ghost[8];
        ck_assert_int_eq(
            kry_ritz_pairs(ws, rws, k, KRY_WHICH_LA, 0.0, theta, NULL, 0, NULL, NULL), KRY_OK);
        ck_assert_int_eq(kry_ritz_ghosts(ws, k, theta, 0.0, ghost), KRY_OK);
        size_t flagged = 0;
        for (size_t i = 0; i < k; ++i)
            flagged += ghost[i] != 0;
        if (mode == 0) {
            /* Copies of 3.7 and 2.9 fill the top of T: only the first of each is kept. */
            ck_assert_double_eq_tol(theta[0], 3.7, 1e-12);
            ck_assert_double_eq_tol(theta[1], 3.7, 1e-9); /* a ghost copy */
            ck_assert_int_eq(ghost[0], 0);
            ck_assert_int_eq(ghost[1], 1);
            size_t kept = 0;
            for (size_t i = 0; i < k; ++i)
                if (!ghost[i]) {
                    ++kept;
                    ck_assert(fabs(theta[i] - 3.7) < 1e-12 || fabs(theta[i] - 2.9) < 1e-12);
                }
            ck_assert_uint_eq(kept, 2);
            ck_assert_uint_ge(flagged, 4);
        } else {
            ck_assert_uint_eq(flagged, 0);
        }
    }
    free(d);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_ghosts_whole_spectrum)
{
    /* Without reorthogonalisation and m = 2n steps every eigenvalue has converged, many
       several times, and spurious values sit in between: the unflagged Ritz values
       are exactly the n eigenvalues, each once. */
    size_t n = 100, m = 200;
    double *d = ghost_diag(n);
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, m);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(m);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    double *theta = malloc(m * sizeof *theta);
    int *ghost = malloc(m * sizeof *ghost), *hits = calloc(n, sizeof *hits);
    ck_assert(theta && ghost && hits);
    for (uint64_t seed = 1; seed <= 3; ++seed) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = KRY_REORTH_NONE;
        p.max_steps = m;
        p.seed = seed;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
        ck_assert_int_eq(
            kry_ritz_pairs(ws, rws, m, KRY_WHICH_SA, 0.0, theta, NULL, 0, NULL, NULL), KRY_OK);
        ck_assert_int_eq(kry_ritz_ghosts(ws, m, theta, 0.0, ghost), KRY_OK);
        memset(hits, 0, n * sizeof *hits);
        size_t kept = 0;
        for (size_t i = 0; i < m; ++i) {
            if (ghost[i])
                continue;
            ++kept;
            size_t best = 0;
            for (size_t r = 1; r < n; ++r)
                if (fabs(d[r] - theta[i]) < fabs(d[best] - theta[i]))
                    best = r;
            ck_assert_double_le(fabs(d[best] - theta[i]), 1e-9);
            hits[best]++;
        }
        ck_assert_uint_eq(kept, n);
        for (size_t r = 0; r < n; ++r)
            ck_assert_int_eq(hits[r], 1);
    }
    free(theta);
    free(ghost);
    free(hits);
    free(d);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_ghosts_genuine_multiplicity_kept)
{
    /* A double eigenvalue found by restarting (two blocks) is not a ghost. */
    double d[6] = {5.1, 3.2, 5.1, 2.4, 1.7, 0.9};
    test_diag t = {6, d, 0};
    kry_operator op;
    kry_lanczos_ws *ws = full_run_diag(&t, &op);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(6);
    ck_assert_ptr_nonnull(rws);
    double theta[3];
    int ghost[3];
    ck_assert_int_eq(kry_ritz_pairs(ws, rws, 3, KRY_WHICH_LA, 0.0, theta, NULL, 0, NULL, NULL),
                     KRY_OK);
    ck_assert_double_eq_tol(theta[0], 5.1, 1e-13);
    ck_assert_double_eq_tol(theta[1], 5.1, 1e-13);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 3, theta, 0.0, ghost), KRY_OK);
    ck_assert_int_eq(ghost[0] + ghost[1] + ghost[2], 0);
    /* The same value passed twice more than the blocks hold: the extra one is flagged. */
    double three[3] = {5.1, 5.1, 5.1};
    ck_assert_int_eq(kry_ritz_ghosts(ws, 3, three, 0.0, ghost), KRY_OK);
    ck_assert_int_eq(ghost[0], 0);
    ck_assert_int_eq(ghost[1], 0);
    ck_assert_int_eq(ghost[2], 1);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

/* The eigensolver on U diag(lam) U^T (n = 300), every `which`, k = 5. */
START_TEST(test_eigs_k5_all_which)
{
    size_t n = 300, k = 5;
    double lam[300];
    for (size_t i = 0; i < n; ++i) { /* -7.3 .. 9.1, denser in the middle */
        double x = 2.0 * (double)i / (double)(n - 1) - 1.0;
        lam[i] = -7.3 + 16.4 * (0.5 + 0.5 * x * x * x);
    }
    test_dense t = {n, test_random_symmetric(n, lam, 99), 0};
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 0);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(0);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    const double want[4][5] = {
        {lam[299], lam[298], lam[297], lam[296], lam[295]},
        {lam[0], lam[1], lam[2], lam[3], lam[4]},
        {lam[299], lam[298], lam[297], lam[296], lam[295]}, /* |9.1| > |-7.3| */
        {lam[299], lam[0], lam[298], lam[1], lam[297]},
    };
    double tol = 1e-10;
    for (int which = 0; which < KRY_WHICH_COUNT; ++which) {
        double theta[5], bound[5], resid[5], work[300];
        double *vecs = malloc(n * k * sizeof *vecs);
        int conv[5];
        kry_eigs_result res;
        ck_assert_int_eq(kry_lanczos_eigs(&op, k, (kry_which)which, tol, NULL, NULL, ws, rws,
                                          theta, vecs, n, bound, conv, &res),
                         KRY_OK);
        ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
        ck_assert_uint_eq(res.nconv, k);
        ck_assert_uint_eq(res.matvecs, res.steps);
        ck_assert_uint_lt(res.steps, 200);
        ck_assert_int_eq(kry_ritz_true_residuals(&op, k, theta, vecs, n, work, resid), KRY_OK);
        for (size_t i = 0; i < k; ++i) {
            ck_assert_msg(fabs(theta[i] - want[which][i]) <= 1e-12 * 9.1, "%s %zu: %.17g %.17g",
                          kry_which_name((kry_which)which), i, theta[i], want[which][i]);
            ck_assert_int_eq(conv[i], 1);
            ck_assert_double_le(bound[i], tol * fabs(theta[i]));
            ck_assert_double_le(resid[i], 2.0 * tol * fabs(theta[i]) + 1e-13);
        }
        ck_assert_double_le(test_orth_error(n, k, vecs, n), 1e-12);
        free(vecs);
    }
    free(t.a);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_eigs_laplace2d_and_modes)
{
    /* Top 4 of the 2-D Laplacian on a 14 x 11 grid against the analytic spectrum, by
       every reorthogonalisation mode except none (ghost copies would fill the top). */
    size_t gm = 14, gp = 11, n = gm * gp, k = 4;
    test_dense t = {n, test_laplace2d_dense(gm, gp), 0};
    double ref[154];
    test_laplace2d_eigs(gm, gp, ref);
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, n);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(n);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    for (int mode = 1; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        p.max_steps = n;
        double theta[4];
        kry_eigs_result res;
        ck_assert_int_eq(kry_lanczos_eigs(&op, k, KRY_WHICH_LA, 1e-11, NULL, &p, ws, rws,
                                          theta, NULL, 0, NULL, NULL, &res),
                         KRY_OK);
        ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
        for (size_t i = 0; i < k; ++i)
            ck_assert_msg(fabs(theta[i] - ref[n - 1 - i]) <= 1e-10, "%s: %.17g vs %.17g",
                          kry_reorth_name((kry_reorth)mode), theta[i], ref[n - 1 - i]);
    }
    free(t.a);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_eigs_budget)
{
    /* Too few steps: reason max_iterations, converged flags say which are done. */
    size_t n = 400;
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 20);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(20);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(rws);
    double *d = malloc(n * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; ++i)
        d[i] = 2.0 - 2.0 * cos((double)(i + 1) * M_PI / (double)(n + 1));
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    double theta[3], bound[3];
    int conv[3];
    kry_eigs_result res;
    ck_assert_int_eq(kry_lanczos_eigs(&op, 3, KRY_WHICH_SA, 1e-10, NULL, NULL, ws, rws, theta,
                                      NULL, 0, bound, conv, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_STOPPED_MAXIT);
    ck_assert_uint_eq(res.steps, 20);
    ck_assert_uint_eq(res.matvecs, 20);
    ck_assert_uint_lt(res.nconv, 3);
    for (size_t i = 0; i < 3; ++i) {
        ck_assert_int_eq(conv[i], bound[i] <= 1e-10 * fabs(theta[i]));
        ck_assert_double_ge(theta[i], d[i] - 1e-14); /* Ritz values lie inside */
    }
    free(d);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_names)
{
    const char *names[] = {"LA", "SA", "LM", "BE"};
    for (int w = 0; w < KRY_WHICH_COUNT; ++w) {
        ck_assert_str_eq(kry_which_name((kry_which)w), names[w]);
        kry_which out = KRY_WHICH_COUNT;
        ck_assert_int_eq(kry_which_parse(names[w], &out), KRY_OK);
        ck_assert_int_eq(out, w);
    }
    kry_which out;
    ck_assert_int_eq(kry_which_parse("be", &out), KRY_OK);
    ck_assert_int_eq(out, KRY_WHICH_BE);
    ck_assert_str_eq(kry_which_name(KRY_WHICH_COUNT), "unknown");
    ck_assert_uint_gt(kry_ritz_ws_bytes(100), 100 * 100 * sizeof(double));
    ck_assert_uint_eq(kry_ritz_ws_bytes(SIZE_MAX / 4), 0);
    ck_assert_ptr_null(kry_ritz_ws_alloc(SIZE_MAX / 4));
    kry_ritz_ws_free(NULL);
}
END_TEST

/* ---- args ---- */

START_TEST(test_args_pairs_and_ghosts)
{
    double d[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    test_diag t = {10, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(10, 8);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(8), *small = kry_ritz_ws_alloc(5);
    ck_assert(ws && rws && small);
    double theta[8], vecs[80];
    int flags[8];
    /* Not started: no steps. */
    ck_assert_int_eq(kry_ritz_pairs(ws, rws, 1, KRY_WHICH_LA, 0, theta, NULL, 0, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 1, theta, 0.0, flags), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, ws, NULL), KRY_OK);
    ck_assert_int_eq(kry_ritz_pairs(NULL, rws, 1, KRY_WHICH_LA, 0, theta, NULL, 0, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_pairs(ws, NULL, 1, KRY_WHICH_LA, 0, theta, NULL, 0, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_pairs(ws, rws, 1, KRY_WHICH_LA, 0, NULL, NULL, 0, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_pairs(ws, rws, 0, KRY_WHICH_LA, 0, theta, NULL, 0, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_pairs(ws, rws, 9, KRY_WHICH_LA, 0, theta, NULL, 0, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(
        kry_ritz_pairs(ws, rws, 1, (kry_which)7, 0, theta, NULL, 0, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(
        kry_ritz_pairs(ws, rws, 1, KRY_WHICH_LA, -1e-3, theta, NULL, 0, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(
        kry_ritz_pairs(ws, rws, 1, KRY_WHICH_LA, NAN, theta, NULL, 0, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(
        kry_ritz_pairs(ws, small, 1, KRY_WHICH_LA, 0, theta, NULL, 0, NULL, NULL), KRY_EDIM);
    ck_assert_int_eq(
        kry_ritz_pairs(ws, rws, 2, KRY_WHICH_LA, 0, theta, vecs, 9, NULL, NULL), KRY_EDIM);
    ck_assert_int_eq(
        kry_ritz_pairs(ws, rws, 2, KRY_WHICH_LA, 0, theta, vecs, 10, NULL, NULL), KRY_OK);

    ck_assert_int_eq(kry_ritz_ghosts(NULL, 1, theta, 0.0, flags), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 1, NULL, 0.0, flags), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 1, theta, 0.0, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 0, theta, 0.0, flags), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 1, theta, -1.0, flags), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 1, theta, INFINITY, flags), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_ghosts(ws, 2, theta, 1e-10, flags), KRY_OK);

    kry_which w = KRY_WHICH_SA;
    ck_assert_int_eq(kry_which_parse("LAR", &w), KRY_EINVAL);
    ck_assert_int_eq(kry_which_parse("L", &w), KRY_EINVAL);
    ck_assert_int_eq(kry_which_parse("", &w), KRY_EINVAL);
    ck_assert_int_eq(kry_which_parse(NULL, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_which_parse("LA", NULL), KRY_EINVAL);
    ck_assert_int_eq(w, KRY_WHICH_SA);
    kry_ritz_ws_free(rws);
    kry_ritz_ws_free(small);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_args_true_residuals)
{
    double y[4] = {0.5, 0.5, 0.5, 0.5}, theta[2] = {1.0, 2.0}, work[4], resid[2];
    failing f = {2, 0};
    kry_operator op;
    ck_assert_int_eq(kry_operator_callback(2, fail_matvec, &f, &op), KRY_OK);
    ck_assert_int_eq(kry_ritz_true_residuals(NULL, 1, theta, y, 2, work, resid), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 0, theta, y, 2, work, resid), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 1, NULL, y, 2, work, resid), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 1, theta, NULL, 2, work, resid), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 1, theta, y, 2, NULL, resid), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 1, theta, y, 2, work, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 1, theta, y, 1, work, resid), KRY_EDIM);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 2, theta, y, 2, work, resid), KRY_OK);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 2, theta, y, 2, work, resid), KRY_ECALLBACK);
    ck_assert_int_eq(kry_operator_callback(2, nan_matvec, NULL, &op), KRY_OK);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 1, theta, y, 2, work, resid),
                     KRY_ENONFINITE);
    double d[2] = {1.0, 2.0};
    test_diag t = {2, d, 0};
    op = test_diag_op(&t);
    size_t calls = 0;
    kry_space sp = {bad_allreduce, &calls, 0, 0};
    op.space = &sp;
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 2, theta, y, 2, work, resid), KRY_OK);
    ck_assert_int_eq(kry_ritz_true_residuals(&op, 2, theta, y, 2, work, resid), KRY_ECALLBACK);
}
END_TEST

START_TEST(test_args_eigs)
{
    size_t n = 30;
    double d[30];
    for (size_t i = 0; i < n; ++i)
        d[i] = 0.25 * (double)i - 1.1;
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 20);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(20), *small = kry_ritz_ws_alloc(10);
    ck_assert(ws && rws && small);
    double theta[30], vecs[30 * 3];
    kry_eigs_result res;
    kry_lanczos_params p = kry_lanczos_params_default();
#define EIGS(op_, k_, which_, tol_, v0_, p_, ws_, rws_, theta_, vecs_, ldv_) \
    kry_lanczos_eigs(op_, k_, which_, tol_, v0_, p_, ws_, rws_, theta_, vecs_, ldv_, NULL, NULL, \
                     &res)
    ck_assert_int_eq(EIGS(NULL, 2, KRY_WHICH_LA, 0, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, 0, NULL, NULL, NULL, rws, theta, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, 0, NULL, NULL, ws, NULL, theta, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, 0, NULL, NULL, ws, rws, NULL, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 0, KRY_WHICH_LA, 0, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 21, KRY_WHICH_LA, 0, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_EINVAL); /* more than the step budget (20) */
    ck_assert_int_eq(EIGS(&op, 2, (kry_which)-1, 0, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, NAN, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, -1.0, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_EINVAL);
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, 0, NULL, NULL, ws, small, theta, NULL, 0),
                     KRY_EDIM);
    ck_assert_int_eq(EIGS(&op, 3, KRY_WHICH_LA, 0, NULL, NULL, ws, rws, theta, vecs, 29),
                     KRY_EDIM);
    p.reorth = (kry_reorth)17;
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, 0, NULL, &p, ws, rws, theta, NULL, 0),
                     KRY_EINVAL);
    double zero[30] = {0};
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, 0, zero, NULL, ws, rws, theta, NULL, 0),
                     KRY_EINVAL);
    /* k larger than the dimension. */
    double d3[3] = {1, 2, 3};
    test_diag t3 = {3, d3, 0};
    kry_operator op3 = test_diag_op(&t3);
    kry_lanczos_ws *ws3 = kry_lanczos_ws_alloc(3, 3);
    ck_assert_ptr_nonnull(ws3);
    p = kry_lanczos_params_default();
    ck_assert_int_eq(EIGS(&op3, 4, KRY_WHICH_LA, 0, NULL, &p, ws3, rws, theta, NULL, 0),
                     KRY_EINVAL);
    kry_lanczos_ws_free(ws3);

    /* Callback failures propagate; res tells how far the run got. */
    failing f = {n, 0};
    kry_operator fop;
    ck_assert_int_eq(kry_operator_callback(n, fail_matvec, &f, &fop), KRY_OK);
    ck_assert_int_eq(EIGS(&fop, 2, KRY_WHICH_LA, 0, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_ECALLBACK);
    ck_assert_uint_eq(res.steps, 2);
    size_t calls = 0;
    kry_space sp = {bad_allreduce, &calls, 0, 0};
    op.space = &sp;
    ck_assert_int_eq(EIGS(&op, 2, KRY_WHICH_LA, 0, NULL, NULL, ws, rws, theta, NULL, 0),
                     KRY_ECALLBACK);
#undef EIGS
    kry_ritz_ws_free(rws);
    kry_ritz_ws_free(small);
    kry_lanczos_ws_free(ws);
}
END_TEST

/* ---- edge ---- */

START_TEST(test_eigs_n1_n2)
{
    double d1 = -2.385;
    test_diag t1 = {1, &d1, 0};
    kry_operator op1 = test_diag_op(&t1);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(1, 1);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(2);
    ck_assert(ws && rws);
    double theta[2], vec[4], bound[2];
    int conv[2];
    kry_eigs_result res;
    ck_assert_int_eq(kry_lanczos_eigs(&op1, 1, KRY_WHICH_LM, 0, NULL, NULL, ws, rws, theta, vec,
                                      1, bound, conv, &res),
                     KRY_OK);
    ck_assert_double_eq_tol(theta[0], -2.385, 1e-15);
    ck_assert_double_eq_tol(fabs(vec[0]), 1.0, 1e-15);
    ck_assert_int_eq(conv[0], 1);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_INVARIANT);
    ck_assert_uint_eq(res.matvecs, 1);
    kry_lanczos_ws_free(ws);

    double d2[2] = {0.75, -1.5};
    test_diag t2 = {2, d2, 0};
    kry_operator op2 = test_diag_op(&t2);
    ws = kry_lanczos_ws_alloc(2, 2);
    ck_assert_ptr_nonnull(ws);
    ck_assert_int_eq(kry_lanczos_eigs(&op2, 2, KRY_WHICH_BE, 0, NULL, NULL, ws, rws, theta, vec,
                                      2, bound, conv, &res),
                     KRY_OK);
    ck_assert_double_eq_tol(theta[0], 0.75, 1e-14);
    ck_assert_double_eq_tol(theta[1], -1.5, 1e-14);
    ck_assert_double_eq_tol(fabs(vec[0]), 1.0, 1e-14);
    ck_assert_double_eq_tol(fabs(vec[3]), 1.0, 1e-14);
    ck_assert_uint_eq(res.nconv, 2);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_eigs_tied_top)
{
    /* Three copies of the top value on n = 9: the Krylov space holds one copy and is
       exhausted after 7 steps, before the 4 wanted pairs converge. With
       continue_on_breakdown the restarts find all three copies; without, the run stops
       at the breakdown (reason invariant) with exact but single-copy values. (On larger
       problems the unrestarted solver converges before the space is exhausted and then
       reports one copy: finding multiplicities there needs the restarted driver.) */
    size_t n = 9;
    double d[9] = {0.3, 4.75, 1.1, 4.75, 2.6, -0.8, 4.75, 3.3, 1.9};
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, n);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(n);
    ck_assert(ws && rws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.continue_on_breakdown = 1;
    double theta[4], vecs[36];
    int conv[4];
    kry_eigs_result res;
    ck_assert_int_eq(kry_lanczos_eigs(&op, 4, KRY_WHICH_LA, 1e-10, NULL, &p, ws, rws, theta,
                                      vecs, n, NULL, conv, &res),
                     KRY_OK);
    for (size_t i = 0; i < 3; ++i)
        ck_assert_double_eq_tol(theta[i], 4.75, 1e-12);
    ck_assert_double_eq_tol(theta[3], 3.3, 1e-12);
    ck_assert_double_le(test_orth_error(n, 4, vecs, n), 1e-12);
    ck_assert_uint_eq(res.nconv, 4);

    p.continue_on_breakdown = 0;
    p.breakdown_tol = 1e-11; /* the default n eps |T| is below rounding at n = 9 */
    ck_assert_int_eq(kry_lanczos_eigs(&op, 4, KRY_WHICH_LA, 1e-10, NULL, &p, ws, rws, theta,
                                      NULL, 0, NULL, NULL, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_INVARIANT);
    ck_assert_uint_eq(res.steps, 7);
    ck_assert_double_eq_tol(theta[0], 4.75, 1e-12);
    ck_assert_double_eq_tol(theta[1], 3.3, 1e-12);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_eigs_v0_eigenvector)
{
    /* Bulk 0 .. 11.8, four well-separated top values. */
    size_t n = 60;
    double d[60], v0[60] = {0};
    for (size_t i = 0; i < n; ++i)
        d[i] = 0.2 * (double)i;
    d[59] = 19.5;
    d[58] = 18.0;
    d[57] = 17.1;
    d[56] = 16.3;
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, n);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(n);
    ck_assert(ws && rws);
    double theta[1];
    kry_eigs_result res;
    /* v0 the eigenvector of the top eigenvalue: one step, exact. */
    v0[59] = -0.3;
    ck_assert_int_eq(kry_lanczos_eigs(&op, 1, KRY_WHICH_LA, 1e-10, v0, NULL, ws, rws, theta,
                                      NULL, 0, NULL, NULL, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_INVARIANT);
    ck_assert_uint_eq(res.matvecs, 1);
    ck_assert_double_eq_tol(theta[0], 19.5, 1e-14);
    /* v0 an eigenvector of an interior eigenvalue, LA wanted. */
    v0[59] = 0.0;
    v0[12] = 1.7;
    ck_assert_int_eq(kry_lanczos_eigs(&op, 1, KRY_WHICH_LA, 1e-10, v0, NULL, ws, rws, theta,
                                      NULL, 0, NULL, NULL, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_INVARIANT); /* exact, but not the top */
    ck_assert_double_eq_tol(theta[0], d[12], 1e-14);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.continue_on_breakdown = 1; /* continue, until the new block confirms the top */
    ck_assert_int_eq(kry_lanczos_eigs(&op, 1, KRY_WHICH_LA, 1e-10, v0, &p, ws, rws, theta,
                                      NULL, 0, NULL, NULL, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_double_eq_tol(theta[0], 19.5, 1e-12);
    /* v0 in the span of 2 eigenvectors, k = 4: fewer than k pairs at the breakdown, so
       the run continues even without continue_on_breakdown. */
    v0[40] = -0.4;
    double th4[4];
    ck_assert_int_eq(kry_lanczos_eigs(&op, 4, KRY_WHICH_LA, 1e-10, v0, NULL, ws, rws, th4, NULL,
                                      0, NULL, NULL, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_uint_lt(res.steps, n);
    ck_assert_double_eq_tol(th4[0], 19.5, 1e-12);
    ck_assert_double_eq_tol(th4[1], 18.0, 1e-12);
    ck_assert_double_eq_tol(th4[2], 17.1, 1e-12);
    ck_assert_double_eq_tol(th4[3], 16.3, 1e-12);
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(ws);
}
END_TEST

static Suite *ritz_suite(void)
{
    Suite *s = suite_create("ritz");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_which_order);
    tcase_add_test(core, test_pairs_vs_dsyevr);
    tcase_add_test(core, test_bound_equals_true_residual);
    tcase_add_test(core, test_convergence_test_math);
    tcase_add_test(core, test_ghosts_none_vs_full);
    tcase_add_test(core, test_ghosts_whole_spectrum);
    tcase_add_test(core, test_ghosts_genuine_multiplicity_kept);
    tcase_add_test(core, test_eigs_k5_all_which);
    tcase_add_test(core, test_eigs_laplace2d_and_modes);
    tcase_add_test(core, test_eigs_budget);
    tcase_add_test(core, test_names);
    tcase_add_test(args, test_args_pairs_and_ghosts);
    tcase_add_test(args, test_args_true_residuals);
    tcase_add_test(args, test_args_eigs);
    tcase_add_test(edge, test_eigs_n1_n2);
    tcase_add_test(edge, test_eigs_tied_top);
    tcase_add_test(edge, test_eigs_v0_eigenvector);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(ritz_suite)
