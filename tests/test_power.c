/* test_power.c — power iteration (kry/power.h) and deflation (kry/deflation.h).

   References are independent of the code under test: analytic spectra of diagonal
   matrices, the spectra test_random_symmetric() builds in, LAPACK dsyevr on the dense
   matrix, and residuals recomputed here with naive loops. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kry/deflation.h"
#include "kry/power.h"
#include "kry/rng.h"
#include "testops.h"

/* ---------------------------------------------------------------- helpers ---- */

static test_diag make_diag(size_t n, const double *d)
{
    test_diag t;
    t.n = n;
    t.d = malloc(n * sizeof *t.d);
    ck_assert_ptr_nonnull(t.d);
    memcpy(t.d, d, n * sizeof *d);
    t.matvecs = 0;
    return t;
}

/* The engineered-gap spectrum of MATH.md: 10, 9.5, then values in (-0.93, 0.93). */
static void gap_spectrum(size_t n, double *d)
{
    d[0] = 10.0;
    d[1] = 9.5;
    for (size_t i = 2; i < n; ++i)
        d[i] = 0.93 * sin(1.7 * (double)i + 0.3);
}

/* Values uniform in [lo, hi) from a fixed test stream. */
static void fill_uniform(size_t n, double lo, double hi, uint64_t seed, double *out)
{
    kry_rng_fill_uniform(seed, KRY_RNG_STREAM_TEST, 0, n, lo, hi, out);
}

static test_dense make_dense(size_t n, const double *lam, uint64_t seed)
{
    test_dense t;
    t.n = n;
    t.a = test_random_symmetric(n, lam, seed);
    t.matvecs = 0;
    return t;
}

/* |A v - lam v| with a naive row-major product. */
static double dense_resid(const test_dense *t, const double *v, double lam)
{
    double s = 0.0;
    for (size_t i = 0; i < t->n; ++i) {
        double y = 0.0;
        for (size_t j = 0; j < t->n; ++j)
            y += t->a[i * t->n + j] * v[j];
        y -= lam * v[i];
        s += y * y;
    }
    return sqrt(s);
}

static double diag_resid(const test_diag *t, const double *v, double lam)
{
    double s = 0.0;
    for (size_t i = 0; i < t->n; ++i) {
        double y = (t->d[i] - lam) * v[i];
        s += y * y;
    }
    return sqrt(s);
}

static double norm2(size_t n, const double *v)
{
    double s = 0.0;
    for (size_t i = 0; i < n; ++i)
        s += v[i] * v[i];
    return sqrt(s);
}

/* A diagonal operator that fails on its fail_at-th call: mode 0 returns nonzero,
   1 writes a NaN, 2 writes an Inf. */
typedef struct fail_op {
    size_t n;
    const double *d;
    size_t fail_at, calls;
    int mode;
} fail_op;

static int fail_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    fail_op *f = ctx;
    f->calls++;
    for (size_t i = 0; i < f->n; ++i)
        y[i] = f->d[i] * x[i];
    if (f->calls == f->fail_at) {
        if (f->mode == 0)
            return 7;
        y[f->n / 2] = f->mode == 1 ? NAN : INFINITY;
    }
    return 0;
}

static kry_operator fail_operator(fail_op *f)
{
    kry_operator op;
    memset(&op, 0, sizeof op);
    op.n = f->n;
    op.matvec = fail_matvec;
    op.ctx = f;
    return op;
}

static int never_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    (void)x;
    (void)y;
    return 1;
}

static int bad_allreduce(void *ctx, double *buf, size_t count)
{
    (void)ctx;
    (void)buf;
    (void)count;
    return 3;
}

static int counting_allreduce(void *ctx, double *buf, size_t count)
{
    (void)buf;
    (void)count;
    ++*(size_t *)ctx;
    return 0;
}

/* Least-squares slope of y[i] against i for i in [lo, hi). */
static double fit_slope(const double *y, size_t lo, size_t hi)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, m = (double)(hi - lo);
    for (size_t i = lo; i < hi; ++i) {
        double x = (double)i;
        sx += x;
        sy += y[i];
        sxx += x * x;
        sxy += x * y[i];
    }
    return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

/* ------------------------------------------------------------------- core ---- */

START_TEST(test_params_default)
{
    kry_power_params p = kry_power_params_default();
    ck_assert_uint_eq(p.max_iter, 1000);
    ck_assert(p.tol == 1e-8);
    ck_assert(p.atol == 0.0 && p.shift == 0.0);
    ck_assert_int_eq(p.which, KRY_POWER_LM);
    ck_assert_int_eq(p.fail_if_not_converged, 0);
    kry_deflation_params dp = kry_deflation_params_default();
    ck_assert_uint_eq(dp.power.max_iter, 1000);
    ck_assert_int_eq(dp.orthogonalize, 0);
    ck_assert_uint_gt(kry_power_ws_bytes(10, 20), 70 * sizeof(double));
    ck_assert_uint_gt(kry_deflation_ws_bytes(10, 3, 20), 126 * sizeof(double));
}
END_TEST

/* 10, 9.5, ...: converges to 10 at the rate 9.5/10 per step (MATH.md section 1). */
START_TEST(test_gap_rate)
{
    const size_t n = 60;
    double d[60], v[60];
    gap_spectrum(n, d);
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_result res;
    ck_assert_ptr_nonnull(ws);

    ck_assert_int_eq(kry_power_run(&op, NULL, NULL, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, 10.0, 1e-12);
    ck_assert_uint_eq(res.phases, 1);
    ck_assert(res.shift == 0.0);
    /* Honest accounting: one matvec per iteration, all of them counted. */
    ck_assert_uint_eq(res.matvecs, t.matvecs);
    ck_assert_uint_eq(res.iters, res.matvecs);
    /* The reported residual is the true one and meets the test. */
    ck_assert_close(norm2(n, v), 1.0, 1e-14);
    double r = diag_resid(&t, v, res.lambda);
    ck_assert_msg(fabs(res.resid - r) <= 1e-12, "resid %g vs %g", res.resid, r);
    ck_assert(res.resid <= 1e-8 * fabs(res.lambda));
    ck_assert(fabs(v[0]) > 1.0 - 1e-12);

    const double *hl, *hr;
    size_t len;
    ck_assert_int_eq(kry_power_history(ws, &hl, &hr, &len), KRY_OK);
    ck_assert_uint_eq(len, res.iters);
    ck_assert(hl[len - 1] == res.lambda && hr[len - 1] == res.resid);
    /* All but the last residual were above the threshold (no late stop). */
    ck_assert(hr[len - 2] > 1e-8 * fabs(hl[len - 2]));

    double *lg = malloc(len * sizeof *lg);
    for (size_t i = 0; i < len; ++i)
        lg[i] = log(hr[i]);
    double slope = fit_slope(lg, len / 4, 3 * len / 4), want = log(9.5 / 10.0);
    ck_assert_msg(fabs(slope - want) <= 0.1 * fabs(want), "slope %g, expected %g", slope,
                  want);
    /* From a residual of about 1 to 1e-7 at 0.95 per step: log(1e-7)/log(0.95) ~ 314. */
    ck_assert_uint_gt(len, 250);
    ck_assert_uint_lt(len, 400);
    free(lg);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

/* Random dense symmetric matrix with a known spectrum; eigenvector vs LAPACK. */
START_TEST(test_random_dense)
{
    const size_t n = 60;
    double lam[60], v[60], w[60], *z = malloc(n * n * sizeof *z);
    fill_uniform(n, -4.6, 4.6, 11, lam);
    lam[17] = 7.3;
    lam[42] = 5.9;
    test_dense t = make_dense(n, lam, 2024);
    kry_operator op = test_dense_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 400);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;
    p.max_iter = 400;
    p.seed = 99;

    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, 7.3, 1e-12);
    ck_assert_uint_eq(res.matvecs, t.matvecs);
    double r = dense_resid(&t, v, res.lambda);
    ck_assert(r <= 1e-8 * 7.3);
    ck_assert(fabs(res.resid - r) <= 1e-13);

    ck_assert_int_eq(test_dsyevr(n, t.a, w, z), 0);
    ck_assert_close(w[n - 1], 7.3, 1e-12);
    double c = 0.0;
    for (size_t i = 0; i < n; ++i)
        c += z[(n - 1) * n + i] * v[i];
    ck_assert_msg(fabs(fabs(c) - 1.0) <= 1e-12, "|v^T z| = %.17g", fabs(c));
    kry_power_ws_free(ws);
    free(t.a);
    free(z);
}
END_TEST

/* Dominant eigenvalue negative: SA is phase 1, LA needs the shifted second phase. */
START_TEST(test_la_sa_negative_dominant)
{
    const size_t n = 40;
    double lam[40], v[40];
    fill_uniform(n, -3.85, 3.9, 5, lam);
    lam[3] = -8.3;
    lam[29] = 5.1;
    lam[8] = 4.2;
    test_dense t = make_dense(n, lam, 77);
    kry_operator op = test_dense_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;

    p.which = KRY_POWER_LM;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_close(res.lambda, -8.3, 1e-12);
    ck_assert_uint_eq(res.phases, 1);

    p.which = KRY_POWER_SA;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, -8.3, 1e-12);
    ck_assert_uint_eq(res.phases, 1);

    t.matvecs = 0;
    p.which = KRY_POWER_LA;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, 5.1, 1e-12);
    ck_assert_uint_eq(res.phases, 2);
    ck_assert_close(res.shift, -8.3, 1e-8);
    ck_assert_uint_eq(res.matvecs, t.matvecs);
    ck_assert(dense_resid(&t, v, res.lambda) <= 1e-8 * 5.1);
    size_t len;
    const double *hl;
    ck_assert_int_eq(kry_power_history(ws, &hl, NULL, &len), KRY_OK);
    ck_assert_uint_eq(len, res.iters);
    ck_assert(hl[len - 1] == res.lambda);
    kry_power_ws_free(ws);
    free(t.a);
}
END_TEST

/* Dominant eigenvalue positive: LA is phase 1, SA needs the second phase. */
START_TEST(test_la_sa_positive_dominant)
{
    const size_t n = 40;
    double lam[40], v[40];
    fill_uniform(n, -2.7, 6.1, 6, lam);
    lam[0] = 9.7;
    lam[33] = -3.15;
    test_dense t = make_dense(n, lam, 78);
    kry_operator op = test_dense_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;

    p.which = KRY_POWER_LA;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_close(res.lambda, 9.7, 1e-12);
    ck_assert_uint_eq(res.phases, 1);

    p.which = KRY_POWER_SA;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, -3.15, 1e-12);
    ck_assert_uint_eq(res.phases, 2);
    ck_assert(dense_resid(&t, v, res.lambda) <= 1e-8 * 3.15);
    kry_power_ws_free(ws);
    free(t.a);
}
END_TEST

/* Explicit shift: LM finds the eigenvalue farthest from it; for LA a shift near the
   bottom of the spectrum saves the second phase. */
START_TEST(test_shift)
{
    const size_t n = 30;
    double d[30], v[30];
    for (size_t i = 0; i < n; ++i)
        d[i] = 3.3 + 2.9 * cos(0.77 * (double)i + 0.2); /* in (0.4, 6.2) */
    d[5] = 8.45;
    d[12] = -1.65;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 2000);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;

    /* Farthest from 6.0 is -1.65 (7.65 away; 8.45 is 2.45 away). */
    p.shift = 6.0;
    p.max_iter = 2000;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, -1.65, 1e-12);
    ck_assert(fabs(v[12]) > 1.0 - 1e-12);
    ck_assert(res.shift == 6.0);
    ck_assert(diag_resid(&t, v, res.lambda) <= 1e-8 * 1.65 * (1 + 1e-6));

    /* LA from below: one phase. */
    p.which = KRY_POWER_LA;
    p.shift = -1.9;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_close(res.lambda, 8.45, 1e-12);
    ck_assert_uint_eq(res.phases, 1);

    /* SA with a shift below the spectrum: phase 1 finds the top, phase 2 the bottom. */
    p.which = KRY_POWER_SA;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_close(res.lambda, -1.65, 1e-12);
    ck_assert_uint_eq(res.phases, 2);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

/* Given start vectors are copied (v0 may alias v) and the seed fixes the result. */
START_TEST(test_start_and_seed)
{
    const size_t n = 25;
    double d[25], v0[25], v[25], v2[25];
    gap_spectrum(n, d);
    d[1] = 6.2;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_params p = kry_power_params_default();
    kry_power_result r1, r2;
    for (size_t i = 0; i < n; ++i)
        v0[i] = 0.3 + sin(2.3 * (double)i);

    ck_assert_int_eq(kry_power_run(&op, v0, &p, ws, v, &r1), KRY_OK);
    memcpy(v2, v0, sizeof v0);
    ck_assert_int_eq(kry_power_run(&op, v2, &p, ws, v2, &r2), KRY_OK); /* aliasing */
    ck_assert(r1.lambda == r2.lambda && r1.iters == r2.iters);
    ck_assert_int_eq(memcmp(v, v2, sizeof v), 0);

    /* NULL params == explicit defaults; the same seed gives the same bits. */
    ck_assert_int_eq(kry_power_run(&op, NULL, NULL, ws, v, &r1), KRY_OK);
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v2, &r2), KRY_OK);
    ck_assert(r1.lambda == r2.lambda && r1.iters == r2.iters);
    ck_assert_int_eq(memcmp(v, v2, sizeof v), 0);
    p.seed = 12345;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v2, &r2), KRY_OK);
    ck_assert_close(r2.lambda, 10.0, 1e-12);
    ck_assert_int_ne(memcmp(v, v2, sizeof v), 0);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

/* Every inner product goes through the space's reduction hook. */
START_TEST(test_space_reduction)
{
    const size_t n = 20;
    double d[20], v[20];
    gap_spectrum(n, d);
    d[1] = 4.4;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    size_t calls = 0;
    kry_space sp;
    memset(&sp, 0, sizeof sp);
    sp.allreduce = counting_allreduce;
    sp.ctx = &calls;
    op.space = &sp;
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_result res;
    ck_assert_int_eq(kry_power_run(&op, NULL, NULL, ws, v, &res), KRY_OK);
    ck_assert_close(res.lambda, 10.0, 1e-12);
    /* At least the Rayleigh quotient, |w| and |r| per iteration. */
    ck_assert_uint_ge(calls, 3 * res.iters);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

/* Deflation top-4 of a diagonal matrix with distinct gaps. */
START_TEST(test_deflation_diag)
{
    const size_t n = 40, k = 4;
    double d[40], lam[4], V[4 * 40], res_[4];
    int conv[4];
    const double want[4] = {10.0, 8.1, 6.3, 4.7};
    for (size_t i = 0; i < n; ++i)
        d[i] = 1.45 * sin(0.9 * (double)i + 0.4);
    d[7] = 6.3;
    d[19] = 10.0;
    d[2] = 4.7;
    d[33] = 8.1;
    d[11] = 2.9;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_deflation_ws *ws = kry_deflation_ws_alloc(n, k, 0);
    kry_deflation_result res;
    ck_assert_ptr_nonnull(ws);

    for (int orth = 0; orth <= 1; ++orth) {
        kry_deflation_params p = kry_deflation_params_default();
        p.orthogonalize = orth;
        t.matvecs = 0;
        ck_assert_int_eq(kry_deflation_run(&op, k, &p, ws, lam, V, n, res_, conv, &res),
                         KRY_OK);
        ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
        ck_assert_uint_eq(res.nconv, k);
        ck_assert_uint_eq(res.matvecs, t.matvecs);
        size_t total = 0;
        for (size_t j = 0; j < k; ++j) {
            ck_assert_close(lam[j], want[j], 1e-12);
            ck_assert_int_eq(conv[j], 1);
            double r = diag_resid(&t, V + j * n, lam[j]);
            ck_assert_msg(fabs(res_[j] - r) <= 1e-13, "pair %zu: %g vs %g", j, res_[j], r);
            ck_assert_msg(r <= 2e-8 * fabs(want[j]), "pair %zu: true resid %g", j, r);
            size_t len;
            ck_assert_int_eq(kry_deflation_history(ws, j, NULL, NULL, &len), KRY_OK);
            total += len;
        }
        ck_assert_uint_eq(total, res.matvecs);
        double oe = test_orth_error(n, k, V, n);
        ck_assert_msg(oe <= (orth ? 1e-13 : 1e-4), "orth %d: orth error %g", orth, oe);
    }
    kry_deflation_ws_free(ws);
    free(t.d);
}
END_TEST

/* Deflation on a random dense matrix with known spectrum (LM, mixed signs). */
START_TEST(test_deflation_dense)
{
    const size_t n = 50, k = 4, ldv = 53;
    double lam0[50], lam[4], V[4 * 53], rs[4], w[50];
    const double want[4] = {6.85, -5.6, 4.45, 3.3};
    fill_uniform(n, -2.2, 2.2, 8, lam0);
    lam0[4] = 6.85;
    lam0[40] = -5.6;
    lam0[22] = 4.45;
    lam0[9] = 3.3;
    test_dense t = make_dense(n, lam0, 404);
    ck_assert_int_eq(test_dsyevr(n, t.a, w, NULL), 0);
    ck_assert_close(w[0], -5.6, 1e-12); /* the construction is what we think it is */
    kry_operator op = test_dense_op(&t);
    kry_deflation_ws *ws = kry_deflation_ws_alloc(n, 6, 500);
    kry_deflation_result res;

    for (int orth = 0; orth <= 1; ++orth) {
        kry_deflation_params p = kry_deflation_params_default();
        p.orthogonalize = orth;
        p.power.max_iter = 500;
        p.power.seed = 31 + (uint64_t)orth;
        ck_assert_int_eq(kry_deflation_run(&op, k, &p, ws, lam, V, ldv, rs, NULL, &res),
                         KRY_OK);
        ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
        for (size_t j = 0; j < k; ++j) {
            ck_assert_close(lam[j], want[j], 1e-12);
            double r = dense_resid(&t, V + j * ldv, lam[j]);
            ck_assert(fabs(rs[j] - r) <= 1e-13);
            ck_assert_msg(r <= 2e-8 * fabs(want[j]), "pair %zu: true resid %g", j, r);
        }
        double oe = test_orth_error(n, k, V, ldv);
        ck_assert_msg(oe <= (orth ? 1e-13 : 1e-4), "orth %d: orth error %g", orth, oe);
    }
    kry_deflation_ws_free(ws);
    free(t.a);
}
END_TEST

/* LA / SA deflation: the found directions must not come back (forced projection). */
START_TEST(test_deflation_la_sa)
{
    const size_t n = 36;
    double lam0[36], lam[3], V[3 * 36];
    int conv[3];
    fill_uniform(n, -1.7, 1.7, 9, lam0);
    lam0[0] = -9.1;
    lam0[5] = 4.9;
    lam0[13] = 3.6;
    lam0[27] = 2.35;
    lam0[30] = -2.8;
    test_dense t = make_dense(n, lam0, 405);
    kry_operator op = test_dense_op(&t);
    kry_deflation_ws *ws = kry_deflation_ws_alloc(n, 3, 0);
    kry_deflation_params p = kry_deflation_params_default();
    kry_deflation_result res;

    p.power.which = KRY_POWER_LA;
    ck_assert_int_eq(kry_deflation_run(&op, 3, &p, ws, lam, V, n, NULL, conv, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(lam[0], 4.9, 1e-12);
    ck_assert_close(lam[1], 3.6, 1e-12);
    ck_assert_close(lam[2], 2.35, 1e-12);
    ck_assert(test_orth_error(n, 3, V, n) <= 1e-13);

    p.power.which = KRY_POWER_SA;
    ck_assert_int_eq(kry_deflation_run(&op, 2, &p, ws, lam, V, n, NULL, conv, &res),
                     KRY_OK);
    ck_assert_close(lam[0], -9.1, 1e-12);
    ck_assert_close(lam[1], -2.8, 1e-12);
    ck_assert_int_eq(conv[0] && conv[1], 1);
    size_t len;
    ck_assert_int_eq(kry_deflation_history(ws, 2, NULL, NULL, &len), KRY_OK);
    ck_assert_uint_eq(len, 0); /* pair 2 not reached by the last run */
    kry_deflation_ws_free(ws);
    free(t.a);
}
END_TEST

/* Two "ranks" as threads, each holding half of a diagonal operator; the reduction hook
   sums their partial values through a barrier. Both ranks must agree with each other
   exactly and with the serial run to rounding. */
typedef struct rank_ctx {
    test_rank tr; /* first: the reduction hook's view */
    size_t n_local;
    const double *d_local;
    kry_space space;
    double lam[2], resid[2], V[2 * 32];
    size_t iters;
    kry_status st, dst;
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
    kry_power_result res;
    kry_deflation_result dres;
    double v[32];
    memset(&op, 0, sizeof op);
    op.n = r->n_local;
    op.matvec = rank_matvec;
    op.ctx = r;
    op.space = &r->space;
    kry_power_ws *ws = kry_power_ws_alloc(r->n_local, 0);
    kry_deflation_ws *dws = kry_deflation_ws_alloc(r->n_local, 2, 0);
    r->st = kry_power_run(&op, NULL, NULL, ws, v, &res);
    r->lam[0] = res.lambda;
    r->iters = res.iters;
    r->dst = kry_deflation_run(&op, 2, NULL, dws, r->lam, r->V, r->n_local, r->resid, NULL,
                               &dres);
    kry_power_ws_free(ws);
    kry_deflation_ws_free(dws);
    return NULL;
}

START_TEST(test_two_ranks)
{
    const size_t n = 64, half = 32;
    double d[64], v[64], lam[2], V[128], rs[2];
    gap_spectrum(n, d);
    d[1] = 7.75;
    d[40] = 5.05;
    test_diag td = make_diag(n, d);
    kry_operator op = test_diag_op(&td);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_deflation_ws *dws = kry_deflation_ws_alloc(n, 2, 0);
    kry_power_result res;
    kry_deflation_result dres;
    ck_assert_int_eq(kry_power_run(&op, NULL, NULL, ws, v, &res), KRY_OK);
    ck_assert_int_eq(kry_deflation_run(&op, 2, NULL, dws, lam, V, n, rs, NULL, &dres),
                     KRY_OK);

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

    for (int r = 0; r < 2; ++r) {
        ck_assert_int_eq(rk[r].st, KRY_OK);
        ck_assert_int_eq(rk[r].dst, KRY_OK);
        ck_assert_close(rk[r].lam[0], 10.0, 1e-12);
        ck_assert_close(rk[r].lam[1], 7.75, 1e-12);
        ck_assert(rk[r].resid[0] <= 2e-7 && rk[r].resid[1] <= 2e-8 * 7.75);
        ck_assert_msg(rk[r].iters + 1 >= res.iters && rk[r].iters <= res.iters + 1,
                      "iters %zu vs serial %zu", rk[r].iters, res.iters);
        /* The local block of each distributed vector matches the serial vector. */
        for (size_t j = 0; j < 2; ++j)
            for (size_t i = 0; i < half; ++i)
                ck_assert(fabs(rk[r].V[j * half + i] - V[j * n + r * half + i]) <= 1e-7);
    }
    ck_assert(rk[0].lam[0] == rk[1].lam[0] && rk[0].lam[1] == rk[1].lam[1]);
    kry_power_ws_free(ws);
    kry_deflation_ws_free(dws);
    free(td.d);
}
END_TEST

/* ------------------------------------------------------------------- args ---- */

START_TEST(test_args_power)
{
    const size_t n = 12;
    double d[12], v[12], v0[12];
    gap_spectrum(n, d);
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t), bad;
    kry_power_ws *ws = kry_power_ws_alloc(n, 50), *ws_small = kry_power_ws_alloc(n - 1, 50);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;
    p.max_iter = 50;

    ck_assert_int_eq(kry_power_run(NULL, NULL, &p, ws, v, &res), KRY_EINVAL);
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, NULL, v, &res), KRY_EINVAL);
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, NULL, &res), KRY_EINVAL);
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, NULL), KRY_EINVAL);
    bad = op;
    bad.n = 0;
    ck_assert_int_eq(kry_power_run(&bad, NULL, &p, ws, v, &res), KRY_EINVAL);
    bad = op;
    bad.matvec = NULL;
    ck_assert_int_eq(kry_power_run(&bad, NULL, &p, ws, v, &res), KRY_EINVAL);

    /* Workspace for another n, or for a smaller budget. */
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws_small, v, &res), KRY_EDIM);
    p.max_iter = 51;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_EDIM);
    p.max_iter = 0; /* default 1000 > 50 */
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_EDIM);
    ck_assert_int_eq(kry_power_run(&op, NULL, NULL, ws, v, &res), KRY_EDIM);
    p.max_iter = 50;

    /* Larger than a BLAS int: refused before anything is touched. */
    bad = op;
    bad.n = (size_t)INT_MAX + 1;
    bad.matvec = never_matvec;
    ck_assert_int_eq(kry_power_run(&bad, NULL, &p, ws, v, &res), KRY_ERANGE);

    /* Invalid parameters. */
    kry_power_params q = p;
    q.tol = NAN;
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_EINVAL);
    q = p;
    q.tol = INFINITY;
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_EINVAL);
    q = p;
    q.atol = -1e-3;
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_EINVAL);
    q = p;
    q.atol = NAN;
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_EINVAL);
    q = p;
    q.shift = NAN;
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_EINVAL);
    q = p;
    q.shift = -INFINITY;
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_EINVAL);
    q = p;
    q.which = (kry_power_which)7;
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_EINVAL);
    q = p;
    q.tol = -2.0; /* <= 0 means default: fine */
    ck_assert_int_eq(kry_power_run(&op, NULL, &q, ws, v, &res), KRY_OK);

    /* Start vectors: zero -> EINVAL, non-finite -> ENONFINITE; no matvec is made. */
    size_t before = t.matvecs;
    memset(v0, 0, sizeof v0);
    ck_assert_int_eq(kry_power_run(&op, v0, &p, ws, v, &res), KRY_EINVAL);
    v0[3] = NAN;
    ck_assert_int_eq(kry_power_run(&op, v0, &p, ws, v, &res), KRY_ENONFINITE);
    v0[3] = INFINITY;
    ck_assert_int_eq(kry_power_run(&op, v0, &p, ws, v, &res), KRY_ENONFINITE);
    ck_assert_uint_eq(t.matvecs, before);

    /* |v0| overflowing the distributed sum of squares. */
    size_t calls = 0;
    kry_space sp;
    memset(&sp, 0, sizeof sp);
    sp.allreduce = counting_allreduce;
    sp.ctx = &calls;
    bad = op;
    bad.space = &sp;
    for (size_t i = 0; i < n; ++i)
        v0[i] = 3.1e200;
    ck_assert_int_eq(kry_power_run(&bad, v0, &p, ws, v, &res), KRY_ERANGE);

    ck_assert_int_eq(kry_power_history(NULL, NULL, NULL, NULL), KRY_EINVAL);
    kry_power_ws_free(ws);
    kry_power_ws_free(ws_small);
    free(t.d);
}
END_TEST

START_TEST(test_args_operator_failures)
{
    const size_t n = 15;
    double d[15], v[15];
    gap_spectrum(n, d);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_result res;
    for (int mode = 0; mode <= 2; ++mode)
        for (size_t at = 1; at <= 5; at += 4) {
            fail_op f = {n, d, at, 0, mode};
            kry_operator op = fail_operator(&f);
            kry_status want = mode == 0 ? KRY_ECALLBACK : KRY_ENONFINITE;
            for (int which = KRY_POWER_LM; which <= KRY_POWER_SA; ++which) {
                kry_power_params p = kry_power_params_default();
                p.which = (kry_power_which)which;
                f.calls = 0;
                ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), want);
                /* The run stopped at the failing call and counted it. */
                ck_assert_uint_eq(f.calls, at);
                ck_assert_uint_eq(res.matvecs, at);
                ck_assert_uint_eq(res.iters, at - 1);
                size_t len;
                ck_assert_int_eq(kry_power_history(ws, NULL, NULL, &len), KRY_OK);
                ck_assert_uint_eq(len, at - 1);
            }
        }

    /* A failing reduction hook. */
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_space sp;
    memset(&sp, 0, sizeof sp);
    sp.allreduce = bad_allreduce;
    op.space = &sp;
    ck_assert_int_eq(kry_power_run(&op, NULL, NULL, ws, v, &res), KRY_ECALLBACK);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

START_TEST(test_args_fail_if_not_converged)
{
    const size_t n = 20;
    double d[20], v[20];
    gap_spectrum(n, d);
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 30);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;
    p.max_iter = 30; /* far too few for the 0.95 ratio */

    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_STOPPED_MAXIT);
    ck_assert_uint_eq(res.iters, 30);
    p.fail_if_not_converged = 1;
    memset(v, 0, sizeof v);
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_ENOTCONV);
    ck_assert_int_eq(res.reason, KRY_STOPPED_MAXIT);
    ck_assert_close(norm2(n, v), 1.0, 1e-14); /* outputs still filled */
    ck_assert(fabs(res.resid - diag_resid(&t, v, res.lambda)) <= 1e-13);

    /* A converging run with the flag set is fine. */
    d[1] = 2.1;
    test_diag t2 = make_diag(n, d);
    kry_operator op2 = test_diag_op(&t2);
    ck_assert_int_eq(kry_power_run(&op2, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    kry_power_ws_free(ws);
    free(t.d);
    free(t2.d);
}
END_TEST

START_TEST(test_args_alloc)
{
    ck_assert_ptr_null(kry_power_ws_alloc(0, 10));
    ck_assert_ptr_null(kry_power_ws_alloc(SIZE_MAX / 4, 10));
    ck_assert_ptr_null(kry_power_ws_alloc(10, SIZE_MAX / 2));
    ck_assert_uint_eq(kry_power_ws_bytes(0, 10), 0);
    ck_assert_uint_eq(kry_power_ws_bytes(SIZE_MAX / 4, 10), 0);
    ck_assert_uint_eq(kry_power_ws_bytes(10, 0), kry_power_ws_bytes(10, 1000));
    kry_power_ws_free(NULL);

    ck_assert_ptr_null(kry_deflation_ws_alloc(0, 1, 10));
    ck_assert_ptr_null(kry_deflation_ws_alloc(10, 0, 10));
    ck_assert_ptr_null(kry_deflation_ws_alloc(SIZE_MAX / 4, 2, 10));
    ck_assert_ptr_null(kry_deflation_ws_alloc(10, SIZE_MAX / 8, 10));
    ck_assert_ptr_null(kry_deflation_ws_alloc(10, 1 << 20, SIZE_MAX / 1024));
    ck_assert_uint_eq(kry_deflation_ws_bytes(10, 0, 10), 0);
    ck_assert_uint_eq(kry_deflation_ws_bytes(10, 2, 0),
                      kry_deflation_ws_bytes(10, 2, 1000));
    kry_deflation_ws_free(NULL);
}
END_TEST

START_TEST(test_args_deflation)
{
    const size_t n = 14;
    double d[14], lam[3], V[3 * 14];
    int conv[3];
    gap_spectrum(n, d);
    d[1] = 5.5;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t), bad;
    kry_deflation_ws *ws = kry_deflation_ws_alloc(n, 3, 100);
    kry_deflation_ws *ws_n = kry_deflation_ws_alloc(n + 1, 3, 100);
    kry_deflation_params p = kry_deflation_params_default();
    kry_deflation_result res;
    p.power.max_iter = 100;

    ck_assert_int_eq(kry_deflation_run(NULL, 2, &p, ws, lam, V, n, NULL, NULL, &res),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_deflation_run(&op, 2, &p, NULL, lam, V, n, NULL, NULL, &res),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_deflation_run(&op, 2, &p, ws, NULL, V, n, NULL, NULL, &res),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_deflation_run(&op, 2, &p, ws, lam, NULL, n, NULL, NULL, &res),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_deflation_run(&op, 2, &p, ws, lam, V, n, NULL, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_deflation_run(&op, 0, &p, ws, lam, V, n, NULL, NULL, &res),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_deflation_run(&op, n + 1, &p, ws, lam, V, n, NULL, NULL, &res),
                     KRY_EINVAL);
    /* Dimensions: ldv, workspace n, k and budget. */
    ck_assert_int_eq(kry_deflation_run(&op, 2, &p, ws, lam, V, n - 1, NULL, NULL, &res),
                     KRY_EDIM);
    ck_assert_int_eq(kry_deflation_run(&op, 2, &p, ws_n, lam, V, n, NULL, NULL, &res),
                     KRY_EDIM);
    ck_assert_int_eq(kry_deflation_run(&op, 4, &p, ws, lam, V, n, NULL, NULL, &res),
                     KRY_EDIM);
    ck_assert_int_eq(kry_deflation_run(&op, 2, NULL, ws, lam, V, n, NULL, NULL, &res),
                     KRY_EDIM); /* default budget 1000 > 100 */
    ck_assert_int_eq(
        kry_deflation_run(&op, 2, &p, ws, lam, V, (size_t)INT_MAX + 1, NULL, NULL, &res),
        KRY_ERANGE);
    bad = op;
    bad.n = (size_t)INT_MAX + 1;
    bad.matvec = never_matvec;
    ck_assert_int_eq(kry_deflation_run(&bad, 2, &p, ws, lam, V, n, NULL, NULL, &res),
                     KRY_ERANGE);
    kry_deflation_params q = p;
    q.power.tol = NAN;
    ck_assert_int_eq(kry_deflation_run(&op, 2, &q, ws, lam, V, n, NULL, NULL, &res),
                     KRY_EINVAL);
    q = p;
    q.power.which = (kry_power_which)3;
    ck_assert_int_eq(kry_deflation_run(&op, 2, &q, ws, lam, V, n, NULL, NULL, &res),
                     KRY_EINVAL);

    /* Operator failures in the second pair stop the run. */
    for (int mode = 0; mode <= 1; ++mode) {
        fail_op f = {n, d, 0, 0, mode};
        kry_operator fop = fail_operator(&f);
        /* find how many matvecs pair 0 needs, then fail 3 calls into pair 1 */
        ck_assert_int_eq(kry_deflation_run(&fop, 1, &p, ws, lam, V, n, NULL, NULL, &res),
                         KRY_OK);
        f.fail_at = res.matvecs + 3;
        f.calls = 0;
        ck_assert_int_eq(kry_deflation_run(&fop, 3, &p, ws, lam, V, n, NULL, conv, &res),
                         mode == 0 ? KRY_ECALLBACK : KRY_ENONFINITE);
        ck_assert_uint_eq(res.matvecs, f.fail_at);
        ck_assert_uint_eq(res.nconv, 1); /* pair 0 is filled */
        ck_assert_close(lam[0], 10.0, 1e-12);
    }

    /* fail_if_not_converged: the budget is too small for pair 1 (ratio 0.95 at most). */
    q = p;
    q.power.max_iter = 4;
    ck_assert_int_eq(kry_deflation_run(&op, 2, &q, ws, lam, V, n, NULL, conv, &res),
                     KRY_OK);
    ck_assert_int_eq(res.reason, KRY_STOPPED_MAXIT);
    ck_assert_uint_eq(res.matvecs, 8);
    q.power.fail_if_not_converged = 1;
    ck_assert_int_eq(kry_deflation_run(&op, 2, &q, ws, lam, V, n, NULL, conv, &res),
                     KRY_ENOTCONV);
    ck_assert_int_eq(res.reason, KRY_STOPPED_MAXIT);
    ck_assert_int_eq(conv[0] + conv[1] < 2, 1);

    ck_assert_int_eq(kry_deflation_history(NULL, 0, NULL, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_deflation_history(ws, 3, NULL, NULL, NULL), KRY_EINVAL);
    kry_deflation_ws_free(ws);
    kry_deflation_ws_free(ws_n);
    free(t.d);
}
END_TEST

/* ------------------------------------------------------------------- edge ---- */

START_TEST(test_edge_n1)
{
    double d[1] = {-2.385}, v[1], lam[1], V[1], rs[1];
    test_diag t = make_diag(1, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(1, 0);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;
    for (int which = KRY_POWER_LM; which <= KRY_POWER_SA; ++which) {
        p.which = (kry_power_which)which;
        ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
        ck_assert_msg(res.reason == KRY_CONVERGED_TOL ||
                          res.reason == KRY_CONVERGED_INVARIANT,
                      "reason %d", res.reason);
        ck_assert_close(res.lambda, -2.385, 1e-15);
        ck_assert(fabs(v[0]) == 1.0);
        ck_assert_uint_le(res.matvecs, 2);
    }
    kry_deflation_ws *dws = kry_deflation_ws_alloc(1, 1, 0);
    kry_deflation_result dres;
    ck_assert_int_eq(kry_deflation_run(&op, 1, NULL, dws, lam, V, 1, rs, NULL, &dres),
                     KRY_OK);
    ck_assert_close(lam[0], -2.385, 1e-15);
    ck_assert(rs[0] == 0.0);
    kry_deflation_ws_free(dws);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

/* lambda_1 = -lambda_2: LM cannot converge and must say so; LA / SA still work. */
START_TEST(test_edge_plus_minus)
{
    const size_t n = 30;
    double d[30], v[30];
    for (size_t i = 0; i < n; ++i)
        d[i] = 1.7 * cos(1.3 * (double)i + 0.5);
    d[4] = 2.385;
    d[21] = -2.385;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 300);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;
    p.max_iter = 300;

    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_STOPPED_MAXIT);
    ck_assert_uint_eq(res.iters, 300);
    ck_assert_uint_eq(t.matvecs, 300);
    ck_assert_msg(res.resid > 0.1, "resid %g", res.resid); /* honestly unconverged */

    p.which = KRY_POWER_LA;
    t.matvecs = 0;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, 2.385, 1e-12);
    ck_assert_uint_eq(res.phases, 2);
    ck_assert_uint_eq(res.matvecs, t.matvecs);
    ck_assert(diag_resid(&t, v, res.lambda) <= 1e-8 * 2.385);

    p.which = KRY_POWER_SA;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, -2.385, 1e-12);
    ck_assert(fabs(v[21]) > 1.0 - 1e-12);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

START_TEST(test_edge_zero_matrix)
{
    const size_t n = 9;
    double d[9] = {0}, v[9], lam[3], V[27], rs[3];
    int conv[3];
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;
    for (int which = KRY_POWER_LM; which <= KRY_POWER_SA; ++which) {
        p.which = (kry_power_which)which;
        t.matvecs = 0;
        ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
        ck_assert_int_eq(res.reason, KRY_CONVERGED_INVARIANT);
        ck_assert(res.lambda == 0.0 && res.resid == 0.0);
        ck_assert_uint_eq(res.iters, 1);
        ck_assert_uint_eq(t.matvecs, 1);
        ck_assert_close(norm2(n, v), 1.0, 1e-14);
    }
    /* Deflation: every pair is invariant, and the vectors are still orthonormal. */
    kry_deflation_ws *dws = kry_deflation_ws_alloc(n, 3, 0);
    kry_deflation_result dres;
    ck_assert_int_eq(kry_deflation_run(&op, 3, NULL, dws, lam, V, n, rs, conv, &dres),
                     KRY_OK);
    ck_assert_int_eq(dres.reason, KRY_CONVERGED_INVARIANT);
    ck_assert_uint_eq(dres.matvecs, 3);
    for (size_t j = 0; j < 3; ++j)
        ck_assert(lam[j] == 0.0 && rs[j] == 0.0 && conv[j] == 1);
    ck_assert(test_orth_error(n, 3, V, n) <= 1e-14);
    kry_deflation_ws_free(dws);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

/* A start vector that is an exact eigenvector converges with one matvec (to that
   eigenpair, dominant or not); one in the null space is an invariant subspace. */
START_TEST(test_edge_exact_eigenvector)
{
    const size_t n = 16;
    double d[16], v0[16], v[16];
    gap_spectrum(n, d);
    d[6] = 0.0;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_result res;
    const size_t idx[3] = {0, 3, 6};
    for (int c = 0; c < 3; ++c) {
        memset(v0, 0, sizeof v0);
        v0[idx[c]] = -2.385; /* need not be normalised */
        t.matvecs = 0;
        ck_assert_int_eq(kry_power_run(&op, v0, NULL, ws, v, &res), KRY_OK);
        ck_assert_uint_eq(res.iters, 1);
        ck_assert_uint_eq(t.matvecs, 1);
        ck_assert_int_eq(res.reason,
                         d[idx[c]] == 0.0 ? KRY_CONVERGED_INVARIANT : KRY_CONVERGED_TOL);
        ck_assert(res.lambda == d[idx[c]]);
        ck_assert(res.resid == 0.0);
        ck_assert(v[idx[c]] == -1.0);
    }
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

/* Repeated top eigenvalue: some unit vector of the eigenspace, small residual. */
START_TEST(test_edge_repeated_top)
{
    const size_t n = 40;
    double lam0[40], v[40], lam[2], V[80], rs[2];
    fill_uniform(n, -1.9, 1.9, 12, lam0);
    lam0[2] = 3.7;
    lam0[31] = 3.7;
    test_dense t = make_dense(n, lam0, 4711);
    kry_operator op = test_dense_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_result res;
    ck_assert_int_eq(kry_power_run(&op, NULL, NULL, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_close(res.lambda, 3.7, 1e-12);
    ck_assert(dense_resid(&t, v, res.lambda) <= 1e-8 * 3.7);

    /* Deflation finds the second copy. */
    kry_deflation_ws *dws = kry_deflation_ws_alloc(n, 2, 0);
    kry_deflation_result dres;
    ck_assert_int_eq(kry_deflation_run(&op, 2, NULL, dws, lam, V, n, rs, NULL, &dres),
                     KRY_OK);
    ck_assert_close(lam[0], 3.7, 1e-12);
    ck_assert_close(lam[1], 3.7, 1e-12);
    ck_assert(test_orth_error(n, 2, V, n) <= 1e-6);
    ck_assert(rs[0] <= 2e-8 * 3.7 && rs[1] <= 2e-8 * 3.7);
    kry_deflation_ws_free(dws);
    kry_power_ws_free(ws);
    free(t.a);
}
END_TEST

/* An eigenvalue at 0 (LA of a negative semidefinite matrix): the relative test alone
   could never hold; the attainable-accuracy floor lets it converge. */
START_TEST(test_edge_zero_eigenvalue)
{
    const size_t n = 24;
    double d[24], v[24];
    for (size_t i = 0; i < n; ++i)
        d[i] = -0.4 - 2.9 * fabs(sin(0.61 * (double)i + 0.2));
    d[3] = -4.6;
    d[9] = 0.0;
    d[14] = -0.45;
    test_diag t = make_diag(n, d);
    kry_operator op = test_diag_op(&t);
    kry_power_ws *ws = kry_power_ws_alloc(n, 0);
    kry_power_params p = kry_power_params_default();
    kry_power_result res;
    p.which = KRY_POWER_LA;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert_msg(fabs(res.lambda) <= 1e-13, "lambda %g", res.lambda);
    ck_assert(fabs(v[9]) > 1.0 - 1e-12);
    ck_assert(res.resid <= 1e-12);
    /* The same with an explicit absolute floor. */
    p.atol = 1e-9;
    ck_assert_int_eq(kry_power_run(&op, NULL, &p, ws, v, &res), KRY_OK);
    ck_assert_int_eq(res.reason, KRY_CONVERGED_TOL);
    ck_assert(res.resid <= 1e-9);
    kry_power_ws_free(ws);
    free(t.d);
}
END_TEST

static Suite *power_suite(void)
{
    Suite *s = suite_create("power");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_params_default);
    tcase_add_test(core, test_gap_rate);
    tcase_add_test(core, test_random_dense);
    tcase_add_test(core, test_la_sa_negative_dominant);
    tcase_add_test(core, test_la_sa_positive_dominant);
    tcase_add_test(core, test_shift);
    tcase_add_test(core, test_start_and_seed);
    tcase_add_test(core, test_space_reduction);
    tcase_add_test(core, test_two_ranks);
    tcase_add_test(core, test_deflation_diag);
    tcase_add_test(core, test_deflation_dense);
    tcase_add_test(core, test_deflation_la_sa);
    tcase_add_test(args, test_args_power);
    tcase_add_test(args, test_args_operator_failures);
    tcase_add_test(args, test_args_fail_if_not_converged);
    tcase_add_test(args, test_args_alloc);
    tcase_add_test(args, test_args_deflation);
    tcase_add_test(edge, test_edge_n1);
    tcase_add_test(edge, test_edge_plus_minus);
    tcase_add_test(edge, test_edge_zero_matrix);
    tcase_add_test(edge, test_edge_exact_eigenvector);
    tcase_add_test(edge, test_edge_repeated_top);
    tcase_add_test(edge, test_edge_zero_eigenvalue);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(power_suite)
