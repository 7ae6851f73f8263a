/* test_lanczos.c — the Lanczos decomposition: Ritz values against analytic spectra and
   LAPACK, orthogonality per reorthogonalisation mode, breakdown, and every error path.
   Ritz values here come from LAPACKE_dstev on a copy of T (independent of kry_ritz). */
#include <float.h>
#include <pthread.h>
#include <string.h>

#include <lapacke.h>

#include "kry/lanczos.h"
#include "kry/rng.h"
#include "testops.h"

/* ---- Helpers ---- */

/* All eigenvalues (ascending) of T_m from the workspace, by LAPACK dstev. */
static void t_eigs(const kry_lanczos_ws *ws, double *w)
{
    size_t m = kry_lanczos_steps(ws);
    double *e = malloc((m + 1) * sizeof *e);
    ck_assert_ptr_nonnull(e);
    memcpy(w, kry_lanczos_alpha(ws), m * sizeof *w);
    if (m > 1)
        memcpy(e, kry_lanczos_beta(ws), (m - 1) * sizeof *e);
    ck_assert_int_eq(LAPACKE_dstev(LAPACK_COL_MAJOR, 'N', (int)m, w, e, NULL, 1), 0);
    free(e);
}

/* max |A Q_m - Q_m T_m - beta_{m-1} q_m e_m^T| over entries, for a dense row-major A. */
static double decomposition_error(const kry_lanczos_ws *ws, const double *a, size_t n)
{
    size_t m = kry_lanczos_steps(ws), ldq;
    const double *Q = kry_lanczos_basis(ws, &ldq), *al = kry_lanczos_alpha(ws),
                 *be = kry_lanczos_beta(ws);
    double worst = 0.0;
    for (size_t j = 0; j < m; ++j)
        for (size_t i = 0; i < n; ++i) {
            double s = 0.0;
            for (size_t l = 0; l < n; ++l)
                s += a[i * n + l] * Q[j * ldq + l];
            s -= al[j] * Q[j * ldq + i] + be[j] * Q[(j + 1) * ldq + i];
            if (j > 0)
                s -= be[j - 1] * Q[(j - 1) * ldq + i];
            if (fabs(s) > worst)
                worst = fabs(s);
        }
    return worst;
}

/* 1-D Laplacian tridiag(-1, 2, -1) as a callback (independent of testops' dense one). */
static int laplace1d_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    size_t n = *(const size_t *)ctx;
    for (size_t i = 0; i < n; ++i)
        y[i] = 2.0 * x[i] - (i > 0 ? x[i - 1] : 0.0) - (i + 1 < n ? x[i + 1] : 0.0);
    return 0;
}

/* A diagonal operator that fails (returns 1) or emits NaN from call number `bad` on. */
typedef struct faulty {
    size_t n, calls, bad;
    int nan; /* 1: produce NaN instead of failing */
} faulty;

static int faulty_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    faulty *f = ctx;
    f->calls++;
    for (size_t i = 0; i < f->n; ++i)
        y[i] = (1.5 + 0.25 * (double)i) * x[i];
    if (f->calls >= f->bad) {
        if (!f->nan)
            return 1;
        y[f->n / 2] = NAN;
    }
    return 0;
}

/* An allreduce hook for one process: counts calls, fails from call `bad` on. */
typedef struct hook {
    size_t calls, bad;
} hook;

static int hook_allreduce(void *ctx, double *buf, size_t count)
{
    hook *h = ctx;
    (void)buf;
    (void)count;
    return ++h->calls >= h->bad;
}

static double *spread_matrix(size_t n, uint64_t seed)
{
    double *lam = malloc(n * sizeof *lam);
    ck_assert_ptr_nonnull(lam);
    for (size_t i = 0; i < n; ++i)
        lam[i] = pow(10.0, -3.0 + 6.0 * (double)i / (double)(n - 1));
    double *a = test_random_symmetric(n, lam, seed);
    free(lam);
    return a;
}

/* ---- core ---- */

START_TEST(test_laplace1d_full_space)
{
    /* n steps with full reorthogonalisation: T_n is similar to A, so all Ritz values
       are the analytic eigenvalues 2 - 2 cos(k pi / (n+1)). */
    size_t n = 64;
    kry_operator op;
    ck_assert_int_eq(kry_operator_callback(n, laplace1d_matvec, &n, &op), KRY_OK);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, n);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = n;
    p.seed = 11;
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_OK);
    ck_assert_uint_eq(r.steps, n);
    ck_assert_uint_eq(r.matvecs, n);
    /* beta_{n-1} is at rounding level: the whole space is invariant. */
    ck_assert_int_eq(r.reason, KRY_CONVERGED_INVARIANT);
    double w[64], ref[64];
    t_eigs(ws, w);
    test_laplace1d_eigs(n, ref);
    for (size_t i = 0; i < n; ++i)
        ck_assert_close(w[i], ref[i], 1e-12);
    /* After n steps the residual is zero up to rounding. */
    ck_assert_double_le(r.beta_last, 1e-12);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_laplace2d_extremes)
{
    /* 2-D Laplacian on a 12 x 10 grid (n = 120), 70 steps: the extreme Ritz values
       match the analytic spectrum 4 - 2 cos(i pi/13) - 2 cos(j pi/11). */
    size_t gm = 12, gp = 10, n = gm * gp;
    test_dense t = {n, test_laplace2d_dense(gm, gp), 0};
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 70);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = 70;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
    double w[70], ref[120];
    t_eigs(ws, w);
    test_laplace2d_eigs(gm, gp, ref);
    for (size_t i = 0; i < 3; ++i) {
        ck_assert_close(w[i], ref[i], 1e-10);
        ck_assert_close(w[69 - i], ref[119 - i], 1e-10);
    }
    ck_assert_double_le(decomposition_error(ws, t.a, n), 1e-13);
    free(t.a);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_random_dense_vs_dsyevr)
{
    /* Every mode on a random Gaussian symmetric 60 x 60 matrix against LAPACK dsyevr:
       n steps give the whole spectrum; without reorthogonalisation (45 steps) only the
       extremes are compared, since ghost copies fill the rest of T. */
    size_t n = 60;
    test_dense t = {n, test_random_gaussian_symmetric(n, 2024), 0};
    double ref[60], w[60];
    ck_assert_int_eq(test_dsyevr(n, t.a, ref, NULL), 0);
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, n);
    ck_assert_ptr_nonnull(ws);
    double scale = fmax(fabs(ref[0]), fabs(ref[n - 1]));
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        p.max_steps = mode == KRY_REORTH_NONE ? 45 : n;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
        size_t m = kry_lanczos_steps(ws);
        t_eigs(ws, w);
        ck_assert_msg(fabs(w[m - 1] - ref[n - 1]) <= 1e-12 * scale, "%s: top %.17g vs %.17g",
                      kry_reorth_name((kry_reorth)mode), w[m - 1], ref[n - 1]);
        ck_assert_msg(fabs(w[0] - ref[0]) <= 1e-12 * scale, "%s: bottom %.17g vs %.17g",
                      kry_reorth_name((kry_reorth)mode), w[0], ref[0]);
        if (mode != KRY_REORTH_NONE) /* the whole spectrum */
            for (size_t i = 0; i < n; ++i)
                ck_assert_msg(fabs(w[i] - ref[i]) <= 1e-11 * scale, "%s: %zu: %.17g vs %.17g",
                              kry_reorth_name((kry_reorth)mode), i, w[i], ref[i]);
    }
    free(t.a);
    kry_lanczos_ws_free(ws);
}
END_TEST

/* Orthogonality after 39 steps on a 40 x 40 matrix, per mode. */
static void orth_per_mode(const double *a, double none_min)
{
    size_t n = 40, steps = 39;
    test_dense t = {n, (double *)a, 0};
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, steps);
    ck_assert_ptr_nonnull(ws);
    const double limit[KRY_REORTH_COUNT] = {
        [KRY_REORTH_FULL] = 1e-13, [KRY_REORTH_SELECTIVE] = 1e-7,
        [KRY_REORTH_PARTIAL] = 1e-7, [KRY_REORTH_DGKS] = 1e-12};
    size_t cost[KRY_REORTH_COUNT];
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        p.max_steps = steps;
        p.track_orthogonality = 1;
        p.seed = 3;
        kry_lanczos_result r;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_OK);
        ck_assert_uint_eq(r.steps, steps);
        size_t len, ldq;
        const double *hist = kry_lanczos_orth_history(ws, &len);
        ck_assert_ptr_nonnull(hist);
        ck_assert_uint_eq(len, steps);
        /* The tracked value equals an independent computation on the final basis. */
        const double *Q = kry_lanczos_basis(ws, &ldq);
        double direct = test_orth_error(n, steps + 1, Q, ldq);
        ck_assert_double_le(fabs(direct - r.orth_error), 1e-15 + 1e-12 * direct);
        ck_assert_double_eq(r.orth_error, hist[len - 1]);
        for (size_t j = 1; j < len; ++j) /* no column changes after it is made */
            ck_assert_double_ge(hist[j], hist[j - 1]);
        if (mode == KRY_REORTH_NONE)
            ck_assert_msg(r.orth_error >= none_min, "none: %g", r.orth_error);
        else
            ck_assert_msg(r.orth_error <= limit[mode], "%s: %g",
                          kry_reorth_name((kry_reorth)mode), r.orth_error);
        cost[mode] = r.reorth_vectors;
    }
    ck_assert_uint_eq(cost[KRY_REORTH_NONE], 0);
    ck_assert_uint_eq(cost[KRY_REORTH_FULL], steps * (steps + 1)); /* sum of 2(j+1) */
    ck_assert_uint_lt(cost[KRY_REORTH_SELECTIVE], cost[KRY_REORTH_FULL]);
    ck_assert_uint_lt(cost[KRY_REORTH_PARTIAL], cost[KRY_REORTH_FULL]);
    ck_assert_uint_lt(cost[KRY_REORTH_DGKS], cost[KRY_REORTH_FULL]);
    kry_lanczos_ws_free(ws);
}

START_TEST(test_orthogonality_gaussian)
{
    double *a = test_random_gaussian_symmetric(40, 3);
    orth_per_mode(a, 1e-2); /* measured 0.58 */
    free(a);
}
END_TEST

START_TEST(test_orthogonality_spread_spectrum)
{
    double *a = spread_matrix(40, 1); /* eigenvalues 1e-3 .. 1e3 */
    orth_per_mode(a, 0.5);            /* measured 0.97 */
    free(a);
}
END_TEST

START_TEST(test_decomposition_relation)
{
    /* A Q_m = Q_m T_m + beta q_m e^T holds to rounding in every mode (full and dgks
       fold their corrections into alpha; selective and partial drop theirs, which are
       of the size of the loss of orthogonality they repair). */
    size_t n = 50;
    double *a = spread_matrix(n, 9);
    test_dense t = {n, a, 0};
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 45);
    ck_assert_ptr_nonnull(ws);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        p.max_steps = 45;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
        double err = decomposition_error(ws, a, n) / 1e3; /* |A| = 1e3 */
        double lim = (mode == KRY_REORTH_SELECTIVE || mode == KRY_REORTH_PARTIAL) ? 1e-9
                                                                                 : 1e-14;
        ck_assert_msg(err <= lim, "%s: %g", kry_reorth_name((kry_reorth)mode), err);
    }
    free(a);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_v0_norm_and_determinism)
{
    size_t n = 30;
    kry_operator op;
    ck_assert_int_eq(kry_operator_callback(n, laplace1d_matvec, &n, &op), KRY_OK);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 10);
    ck_assert_ptr_nonnull(ws);
    double v0[30], q0[30];
    for (size_t i = 0; i < n; ++i)
        v0[i] = 0.37 * (double)i - 2.385;
    double nv = 0.0;
    for (size_t i = 0; i < n; ++i)
        nv += v0[i] * v0[i];
    nv = sqrt(nv);
    ck_assert_int_eq(kry_lanczos_run(&op, v0, NULL, ws, NULL), KRY_OK);
    ck_assert_double_eq_tol(kry_lanczos_v0_norm(ws), nv, 1e-13 * nv);
    const double *Q = kry_lanczos_basis(ws, NULL);
    for (size_t i = 0; i < n; ++i)
        ck_assert_double_eq_tol(Q[i], v0[i] / nv, 1e-15);
    ck_assert_uint_eq(kry_lanczos_dim(ws), n);
    /* NULL v0: the same seed gives the same run, another seed another one. */
    kry_lanczos_params p = kry_lanczos_params_default();
    p.seed = 77;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
    memcpy(q0, kry_lanczos_basis(ws, NULL), sizeof q0);
    double a9 = kry_lanczos_alpha(ws)[9];
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
    ck_assert_mem_eq(q0, kry_lanczos_basis(ws, NULL), sizeof q0);
    ck_assert_double_eq(a9, kry_lanczos_alpha(ws)[9]);
    p.seed = 78;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
    ck_assert_double_ne(a9, kry_lanczos_alpha(ws)[9]);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_step_api_matches_run)
{
    size_t n = 40;
    double *a = test_random_gaussian_symmetric(n, 5);
    test_dense t = {n, a, 0};
    kry_operator op = test_dense_op(&t);
    kry_lanczos_ws *w1 = kry_lanczos_ws_alloc(n, 25), *w2 = kry_lanczos_ws_alloc(n, 25);
    ck_assert_ptr_nonnull(w1);
    ck_assert_ptr_nonnull(w2);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.reorth = KRY_REORTH_PARTIAL;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, w1, NULL), KRY_OK);
    ck_assert_int_eq(kry_lanczos_start(w2, &op, NULL, &p), KRY_OK);
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_result_get(w2, &r), KRY_OK);
    ck_assert_int_eq(r.reason, KRY_RUNNING);
    ck_assert_double_eq(r.orth_error, -1.0);
    size_t count = 0;
    while (r.reason == KRY_RUNNING) {
        ck_assert_int_eq(kry_lanczos_step(w2, &op), KRY_OK);
        ck_assert_int_eq(kry_lanczos_result_get(w2, &r), KRY_OK);
        ck_assert_uint_eq(r.steps, ++count);
    }
    ck_assert_uint_eq(count, 25); /* default max_steps min(n, 300) is capped at 25 */
    ck_assert_uint_eq(kry_lanczos_max_steps(w2), 25);
    ck_assert_mem_eq(kry_lanczos_alpha(w1), kry_lanczos_alpha(w2), 25 * sizeof(double));
    ck_assert_mem_eq(kry_lanczos_beta(w1), kry_lanczos_beta(w2), 25 * sizeof(double));
    ck_assert_double_eq(r.beta_last, kry_lanczos_beta(w2)[24]);
    free(a);
    kry_lanczos_ws_free(w1);
    kry_lanczos_ws_free(w2);
}
END_TEST

START_TEST(test_allreduce_hook_is_used)
{
    /* An identity reduction hook (one process) changes nothing but is called for every
       inner product: the distributed code path. */
    size_t n = 40;
    double *a = test_random_gaussian_symmetric(n, 8);
    test_dense t = {n, a, 0};
    kry_operator op = test_dense_op(&t);
    hook h = {0, SIZE_MAX};
    kry_space sp = {hook_allreduce, &h, 0, 0};
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 20);
    ck_assert_ptr_nonnull(ws);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        op.space = NULL;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
        double ref[20];
        memcpy(ref, kry_lanczos_alpha(ws), sizeof ref);
        op.space = &sp;
        h.calls = 0;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
        ck_assert_uint_ge(h.calls, 2 * 20 + 1); /* |v0|, then alpha_j and beta_j */
        for (size_t j = 0; j < 20; ++j)
            ck_assert_double_eq_tol(kry_lanczos_alpha(ws)[j], ref[j], 1e-12);
    }
    free(a);
    kry_lanczos_ws_free(ws);
}
END_TEST

/* Two "processes" as threads, each holding half of the vectors of diag(d), with an
   allreduce hook over a barrier: the run must match the serial one. */
typedef struct rank_ctx {
    test_rank tr; /* first: the reduction hook's view */
    const double *d; /* local part of the diagonal */
    size_t n;
    kry_space sp;
    kry_reorth mode;
    double alpha[30], beta[30];
    kry_status st;
} rank_ctx;

static int local_diag_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    rank_ctx *r = ctx;
    for (size_t i = 0; i < r->n; ++i)
        y[i] = r->d[i] * x[i];
    return 0;
}

static void *rank_main(void *arg)
{
    rank_ctx *r = arg;
    kry_operator op;
    r->st = kry_operator_callback(r->n, local_diag_matvec, r, &op);
    op.space = &r->sp;
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(r->n, 30);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.reorth = r->mode;
    p.max_steps = 30;
    p.track_orthogonality = 1;
    if (r->st == KRY_OK)
        r->st = ws ? kry_lanczos_run(&op, NULL, &p, ws, NULL) : KRY_ENOMEM;
    if (r->st == KRY_OK) {
        memcpy(r->alpha, kry_lanczos_alpha(ws), sizeof r->alpha);
        memcpy(r->beta, kry_lanczos_beta(ws), sizeof r->beta);
    }
    kry_lanczos_ws_free(ws);
    return NULL;
}

START_TEST(test_two_ranks_match_serial)
{
    size_t n = 48;
    double d[48];
    for (size_t i = 0; i < n; ++i)
        d[i] = 1.0 / (1.0 + 0.37 * (double)i) + (i == 47 ? 3.0 : 0.0);
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 30);
    ck_assert_ptr_nonnull(ws);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        p.max_steps = 30;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
        test_team tm;
        ck_assert_int_eq(test_team_init(&tm), 0);
        rank_ctx r[2];
        pthread_t th[2];
        for (int k = 0; k < 2; ++k) {
            memset(&r[k], 0, sizeof r[k]);
            r[k].tr.team = &tm;
            r[k].tr.rank = k;
            r[k].n = k == 0 ? 19 : n - 19; /* uneven split */
            r[k].d = d + (k == 0 ? 0 : 19);
            r[k].sp = (kry_space){test_team_allreduce, &r[k], (uint64_t)(k == 0 ? 0 : 19), n};
            r[k].mode = (kry_reorth)mode;
            ck_assert_int_eq(pthread_create(&th[k], NULL, rank_main, &r[k]), 0);
        }
        for (int k = 0; k < 2; ++k)
            ck_assert_int_eq(pthread_join(th[k], NULL), 0);
        test_team_destroy(&tm);
        for (int k = 0; k < 2; ++k) {
            ck_assert_int_eq(r[k].st, KRY_OK);
            /* Ranks agree exactly; the serial run to rounding (sums in another order),
               over the steps before none loses orthogonality and amplifies it. */
            size_t steps = mode == KRY_REORTH_NONE ? 8 : 30;
            for (size_t j = 0; j < 30; ++j)
                ck_assert_double_eq(r[k].alpha[j], r[0].alpha[j]);
            for (size_t j = 0; j < steps; ++j) {
                ck_assert_double_eq_tol(r[k].alpha[j], kry_lanczos_alpha(ws)[j], 1e-11);
                ck_assert_double_eq_tol(r[k].beta[j], kry_lanczos_beta(ws)[j], 1e-11);
            }
        }
    }
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_names)
{
    const char *names[] = {"none", "full", "selective", "partial", "dgks"};
    for (int r = 0; r < KRY_REORTH_COUNT; ++r) {
        ck_assert_str_eq(kry_reorth_name((kry_reorth)r), names[r]);
        kry_reorth out = KRY_REORTH_COUNT;
        ck_assert_int_eq(kry_reorth_parse(names[r], &out), KRY_OK);
        ck_assert_int_eq(out, r);
    }
    kry_reorth out;
    ck_assert_int_eq(kry_reorth_parse("DGKS", &out), KRY_OK);
    ck_assert_int_eq(out, KRY_REORTH_DGKS);
    ck_assert_str_eq(kry_reorth_name(KRY_REORTH_COUNT), "unknown");
    ck_assert_str_eq(kry_reorth_name((kry_reorth)-1), "unknown");
    kry_lanczos_params p = kry_lanczos_params_default();
    ck_assert_int_eq(p.reorth, KRY_REORTH_FULL);
    ck_assert_uint_eq(p.max_steps, 0);
}
END_TEST

START_TEST(test_ws_bytes)
{
    size_t full = kry_lanczos_ws_bytes(1000, 50);
    size_t lean = kry_lanczos_ws_bytes_reorth(1000, 50, KRY_REORTH_FULL);
    ck_assert_uint_gt(full, 1000 * 51 * sizeof(double));
    ck_assert_uint_ge(full - lean, (1000 * 50 + 50 * 50) * sizeof(double));
    ck_assert_uint_eq(kry_lanczos_ws_bytes_reorth(1000, 50, KRY_REORTH_SELECTIVE), full);
    ck_assert_uint_eq(kry_lanczos_ws_bytes(0, 5), 0);
    ck_assert_uint_eq(kry_lanczos_ws_bytes(SIZE_MAX / 2, SIZE_MAX / 4), 0);
    ck_assert_ptr_null(kry_lanczos_ws_alloc(0, 5));
    kry_lanczos_ws_free(NULL);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(7, 0);
    ck_assert_ptr_nonnull(ws);
    ck_assert_uint_eq(kry_lanczos_capacity(ws), 7); /* min(n, 300) */
    kry_lanczos_ws_free(ws);
}
END_TEST

/* ---- args ---- */

START_TEST(test_args_null_and_invalid)
{
    size_t n = 10;
    kry_operator op;
    ck_assert_int_eq(kry_operator_callback(n, laplace1d_matvec, &n, &op), KRY_OK);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 5);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_start(NULL, &op, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_start(ws, NULL, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_step(NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_step(ws, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_run(NULL, NULL, NULL, ws, &r), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, NULL, &r), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_result_get(NULL, &r), KRY_EINVAL);
    ck_assert_int_eq(kry_lanczos_result_get(ws, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_reorth_parse(NULL, &(kry_reorth){0}), KRY_EINVAL);
    ck_assert_int_eq(kry_reorth_parse("none", NULL), KRY_EINVAL);
    kry_reorth out = KRY_REORTH_PARTIAL;
    ck_assert_int_eq(kry_reorth_parse("fulll", &out), KRY_EINVAL);
    ck_assert_int_eq(kry_reorth_parse("", &out), KRY_EINVAL);
    ck_assert_int_eq(out, KRY_REORTH_PARTIAL);

    /* Invalid operators. */
    kry_operator bad = op;
    bad.matvec = NULL;
    ck_assert_int_eq(kry_lanczos_start(ws, &bad, NULL, NULL), KRY_EINVAL);
    bad = op;
    bad.n = 0;
    ck_assert_int_eq(kry_lanczos_start(ws, &bad, NULL, NULL), KRY_EINVAL);

    /* Invalid parameters. */
    kry_lanczos_params p = kry_lanczos_params_default();
    p.reorth = (kry_reorth)99;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_EINVAL);
    p = kry_lanczos_params_default();
    p.breakdown_tol = NAN;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_EINVAL);
    p = kry_lanczos_params_default();
    p.selective_tol = INFINITY;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_EINVAL);
    p = kry_lanczos_params_default();
    p.partial_tol = NAN;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_EINVAL);
    p = kry_lanczos_params_default();
    p.partial_eta = -INFINITY;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_EINVAL);
    p = kry_lanczos_params_default();
    p.dgks_ratio = NAN;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_EINVAL);

    /* Start vectors. */
    double v0[10] = {0};
    ck_assert_int_eq(kry_lanczos_start(ws, &op, v0, NULL), KRY_EINVAL);
    v0[3] = NAN;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, v0, NULL), KRY_ENONFINITE);
    v0[3] = INFINITY;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, v0, NULL), KRY_ENONFINITE);

    /* Stepping a workspace that was never (successfully) started. */
    ck_assert_int_eq(kry_lanczos_step(ws, &op), KRY_EINVAL);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_args_dimensions)
{
    size_t n = 10, n2 = 11;
    kry_operator op, op2;
    ck_assert_int_eq(kry_operator_callback(n, laplace1d_matvec, &n, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_callback(n2, laplace1d_matvec, &n2, &op2), KRY_OK);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 5);
    ck_assert_ptr_nonnull(ws);
    ck_assert_int_eq(kry_lanczos_start(ws, &op2, NULL, NULL), KRY_EDIM);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = 6; /* more than the capacity */
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_EDIM);
    p.max_steps = 5;
    ck_assert_int_eq(kry_lanczos_start(ws, &op, NULL, &p), KRY_OK);
    ck_assert_int_eq(kry_lanczos_step(ws, &op2), KRY_EDIM);
    ck_assert_int_eq(kry_lanczos_step(ws, &op), KRY_OK);

    /* Selective needs the storage that a workspace made for another mode lacks. */
    kry_lanczos_ws *lean = kry_lanczos_ws_alloc_reorth(n, 5, KRY_REORTH_FULL);
    ck_assert_ptr_nonnull(lean);
    p.reorth = KRY_REORTH_SELECTIVE;
    ck_assert_int_eq(kry_lanczos_start(lean, &op, NULL, &p), KRY_EUNSUPPORTED);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        if (mode == KRY_REORTH_SELECTIVE)
            continue;
        p.reorth = (kry_reorth)mode;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, lean, NULL), KRY_OK);
    }
    kry_lanczos_ws_free(lean);
    lean = kry_lanczos_ws_alloc_reorth(n, 5, KRY_REORTH_SELECTIVE);
    p.reorth = KRY_REORTH_SELECTIVE;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, lean, NULL), KRY_OK);
    kry_lanczos_ws_free(lean);

    /* Stepping past the end. */
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, ws, NULL), KRY_OK);
    ck_assert_int_eq(kry_lanczos_step(ws, &op), KRY_EINVAL);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_args_matvec_failure)
{
    faulty f = {12, 0, 4, 0};
    kry_operator op;
    ck_assert_int_eq(kry_operator_callback(f.n, faulty_matvec, &f, &op), KRY_OK);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(f.n, 10);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, ws, &r), KRY_ECALLBACK);
    ck_assert_uint_eq(r.steps, 3); /* the steps before the failure stay readable */
    ck_assert_uint_eq(r.matvecs, 3);
    ck_assert_int_eq(kry_lanczos_step(ws, &op), KRY_EINVAL); /* must start again */

    f.calls = 0;
    f.nan = 1;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, ws, &r), KRY_ENONFINITE);
    ck_assert_uint_eq(r.steps, 3);
    ck_assert_uint_eq(f.calls, 4); /* the run stopped at the NaN */
    ck_assert_int_eq(kry_lanczos_step(ws, &op), KRY_EINVAL);

    /* After a fresh start the workspace works again. */
    f.calls = 0;
    f.bad = SIZE_MAX;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, ws, &r), KRY_OK);
    ck_assert_uint_eq(r.steps, 10);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_args_allreduce_failure)
{
    size_t n = 20;
    double *a = test_random_gaussian_symmetric(n, 4);
    test_dense t = {n, a, 0};
    kry_operator op = test_dense_op(&t);
    hook h = {0, 1};
    kry_space sp = {hook_allreduce, &h, 0, 0};
    op.space = &sp;
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 10);
    ck_assert_ptr_nonnull(ws);
    /* The first reduction is |v0| in start. */
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, ws, NULL), KRY_ECALLBACK);
    /* A later one, in every mode (the reorthogonalisation reductions included): count
       the reductions of a clean run, then fail each one in turn. */
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode)
        for (int track = 0; track < 2; ++track) {
            kry_lanczos_params p = kry_lanczos_params_default();
            p.reorth = (kry_reorth)mode;
            p.track_orthogonality = track;
            h.calls = 0;
            h.bad = SIZE_MAX;
            ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, NULL), KRY_OK);
            size_t total = h.calls;
            for (size_t bad = 2; bad <= total; ++bad) {
                h.calls = 0;
                h.bad = bad;
                kry_lanczos_result r;
                ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_ECALLBACK);
                ck_assert_uint_lt(r.steps, 10);
            }
        }
    free(a);
    kry_lanczos_ws_free(ws);
}
END_TEST

/* ---- edge ---- */

START_TEST(test_n1)
{
    double d = 2.385;
    test_diag t = {1, &d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(1, 0);
    ck_assert_ptr_nonnull(ws);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode)
        for (int cont = 0; cont < 2; ++cont) {
            kry_lanczos_params p = kry_lanczos_params_default();
            p.reorth = (kry_reorth)mode;
            p.continue_on_breakdown = cont;
            p.track_orthogonality = 1;
            kry_lanczos_result r;
            double v0 = -0.7;
            ck_assert_int_eq(kry_lanczos_run(&op, &v0, &p, ws, &r), KRY_OK);
            ck_assert_uint_eq(r.steps, 1);
            ck_assert_int_eq(r.reason, KRY_CONVERGED_INVARIANT);
            ck_assert_uint_eq(r.breakdowns, 1);
            ck_assert_double_eq_tol(kry_lanczos_alpha(ws)[0], 2.385, 1e-15);
            ck_assert_double_eq(r.beta_last, 0.0);
            ck_assert_double_le(r.orth_error, 1e-16);
        }
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_n2)
{
    double d[2] = {-1.25, 3.5};
    test_diag t = {2, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(2, 2);
    ck_assert_ptr_nonnull(ws);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        kry_lanczos_result r;
        double v0[2] = {0.6, 1.7};
        ck_assert_int_eq(kry_lanczos_run(&op, v0, &p, ws, &r), KRY_OK);
        ck_assert_uint_eq(r.steps, 2);
        double w[2];
        t_eigs(ws, w);
        ck_assert_double_eq_tol(w[0], -1.25, 1e-14);
        ck_assert_double_eq_tol(w[1], 3.5, 1e-14);
        ck_assert_double_le(r.beta_last, 1e-14);
    }
    kry_lanczos_ws_free(ws);
}
END_TEST

static double diag_50(size_t i) { return 0.5 + 0.173 * (double)i + 0.01 * (double)(i * i); }

START_TEST(test_invariant_subspace)
{
    /* v0 in the span of 3 eigenvectors: breakdown after 3 steps, exact Ritz values. */
    size_t n = 50;
    double d[50], v0[50] = {0};
    for (size_t i = 0; i < n; ++i)
        d[i] = diag_50(i);
    v0[4] = 0.81;
    v0[17] = -1.3;
    v0[33] = 0.45;
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 20);
    ck_assert_ptr_nonnull(ws);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        kry_lanczos_result r;
        ck_assert_int_eq(kry_lanczos_run(&op, v0, &p, ws, &r), KRY_OK);
        ck_assert_int_eq(r.reason, KRY_CONVERGED_INVARIANT);
        ck_assert_uint_eq(r.steps, 3);
        ck_assert_uint_eq(r.matvecs, 3);
        ck_assert_double_le(r.beta_last, 1e-14);
        double w[3];
        t_eigs(ws, w);
        ck_assert_double_eq_tol(w[0], d[4], 1e-14);
        ck_assert_double_eq_tol(w[1], d[17], 1e-14);
        ck_assert_double_eq_tol(w[2], d[33], 1e-14);
    }
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_v0_eigenvector)
{
    size_t n = 50;
    double d[50], v0[50] = {0};
    for (size_t i = 0; i < n; ++i)
        d[i] = diag_50(i);
    v0[21] = -3.1;
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 20);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_run(&op, v0, NULL, ws, &r), KRY_OK);
    ck_assert_int_eq(r.reason, KRY_CONVERGED_INVARIANT);
    ck_assert_uint_eq(r.steps, 1);
    ck_assert_double_eq_tol(kry_lanczos_alpha(ws)[0], d[21], 1e-14);
    ck_assert_double_eq(r.beta_last, 0.0);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_continue_finds_repeated_copy)
{
    /* 5.1 twice: a Krylov space holds one copy, breaking down after 5 steps. Continuing
       with a fresh vector orthogonal to Q finds the other copy (T splits). */
    double d[6] = {5.1, 3.2, 5.1, 2.4, 1.7, 0.9}, ref[6] = {0.9, 1.7, 2.4, 3.2, 5.1, 5.1};
    test_diag t = {6, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(6, 6);
    ck_assert_ptr_nonnull(ws);
    for (int mode = 1; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        p.track_orthogonality = 1;
        kry_lanczos_result r;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_OK);
        ck_assert_int_eq(r.reason, KRY_CONVERGED_INVARIANT);
        ck_assert_uint_eq(r.steps, 5);
        p.continue_on_breakdown = 1;
        ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_OK);
        ck_assert_uint_eq(r.steps, 6);
        ck_assert_uint_eq(r.breakdowns, 2); /* after 5 steps (continued), after 6 (final) */
        ck_assert_int_eq(r.reason, KRY_CONVERGED_INVARIANT);
        ck_assert_double_eq(kry_lanczos_beta(ws)[4], 0.0); /* T splits */
        ck_assert_double_le(r.orth_error, 1e-14);
        double w[6];
        t_eigs(ws, w);
        for (size_t i = 0; i < 6; ++i)
            ck_assert_double_eq_tol(w[i], ref[i], 1e-13);
    }
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_tied_top_eigenvalue)
{
    /* Three copies of the top value: breakdown at n - 2; continuing finds all three.
       At n = 9 the default threshold n eps |T| is below the rounding level of the
       final beta (measured 2.5e-13 = 50 eps |T|), hence an explicit one. */
    size_t n = 9;
    double d[9] = {0.3, 4.75, 1.1, 4.75, 2.6, -0.8, 4.75, 3.3, 1.9};
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, n);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.breakdown_tol = 1e-11;
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_OK);
    ck_assert_uint_eq(r.steps, n - 2);
    double w[9];
    t_eigs(ws, w);
    ck_assert_double_eq_tol(w[n - 3], 4.75, 1e-13);
    ck_assert_double_lt(w[n - 4], 4.0);
    p.continue_on_breakdown = 1;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_OK);
    ck_assert_uint_eq(r.steps, n);
    t_eigs(ws, w);
    for (size_t i = n - 3; i < n; ++i)
        ck_assert_double_eq_tol(w[i], 4.75, 1e-13);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_zero_operator)
{
    double d[4] = {0, 0, 0, 0};
    test_diag t = {4, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(4, 4);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, NULL, ws, &r), KRY_OK);
    ck_assert_uint_eq(r.steps, 1);
    ck_assert_int_eq(r.reason, KRY_CONVERGED_INVARIANT);
    kry_lanczos_ws_free(ws);
}
END_TEST

START_TEST(test_none_beyond_n)
{
    /* Without reorthogonalisation the recurrence can run past n steps (ghosts). */
    size_t n = 12;
    double d[12];
    for (size_t i = 0; i < n; ++i)
        d[i] = 1.0 + 0.5 * (double)i;
    test_diag t = {n, d, 0};
    kry_operator op = test_diag_op(&t);
    kry_lanczos_ws *ws = kry_lanczos_ws_alloc(n, 30);
    ck_assert_ptr_nonnull(ws);
    kry_lanczos_params p = kry_lanczos_params_default();
    p.reorth = KRY_REORTH_NONE;
    p.max_steps = 30;
    p.seed = 2;
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_run(&op, NULL, &p, ws, &r), KRY_OK);
    ck_assert_uint_eq(r.steps, 30);
    double w[30];
    t_eigs(ws, w);
    ck_assert_double_eq_tol(w[29], d[11], 1e-12);
    ck_assert_double_eq_tol(w[28], d[11], 1e-12); /* a ghost copy */
    kry_lanczos_ws_free(ws);
}
END_TEST

static Suite *lanczos_suite(void)
{
    Suite *s = suite_create("lanczos");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_laplace1d_full_space);
    tcase_add_test(core, test_laplace2d_extremes);
    tcase_add_test(core, test_random_dense_vs_dsyevr);
    tcase_add_test(core, test_orthogonality_gaussian);
    tcase_add_test(core, test_orthogonality_spread_spectrum);
    tcase_add_test(core, test_decomposition_relation);
    tcase_add_test(core, test_v0_norm_and_determinism);
    tcase_add_test(core, test_step_api_matches_run);
    tcase_add_test(core, test_allreduce_hook_is_used);
    tcase_add_test(core, test_two_ranks_match_serial);
    tcase_add_test(core, test_names);
    tcase_add_test(core, test_ws_bytes);
    tcase_add_test(args, test_args_null_and_invalid);
    tcase_add_test(args, test_args_dimensions);
    tcase_add_test(args, test_args_matvec_failure);
    tcase_add_test(args, test_args_allreduce_failure);
    tcase_add_test(edge, test_n1);
    tcase_add_test(edge, test_n2);
    tcase_add_test(edge, test_invariant_subspace);
    tcase_add_test(edge, test_v0_eigenvector);
    tcase_add_test(edge, test_continue_finds_repeated_copy);
    tcase_add_test(edge, test_tied_top_eigenvalue);
    tcase_add_test(edge, test_zero_operator);
    tcase_add_test(edge, test_none_beyond_n);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(lanczos_suite)
