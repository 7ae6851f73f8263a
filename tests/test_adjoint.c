/* test_adjoint.c — the Lanczos and Arnoldi adjoints (kry/adjoint.h) and the affine
   operator family. References: central finite differences of the forward pass (MATH.md
   section 7 recipe), the dense Daleckii-Krein gradient from LAPACK eigenpairs, naive
   loops for the affine family. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kry/adjoint.h"
#include "kry/funm.h"
#include "kry/lanczos.h"
#include "kry/operator.h"
#include "kry/rng.h"
#include "testops.h"

/* ---------------------------------------------------------------- helpers ---- */

/* Random symmetric perturbation direction E (row-major). */
static double *rand_sym(size_t n, uint64_t seed)
{
    double *e = test_vec_alloc(n * n);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i; j < n; ++j)
            e[i * n + j] = e[j * n + i] =
                kry_rng_normal(seed, KRY_RNG_STREAM_USER, (uint64_t)(i * n + j));
    return e;
}

/* The library's forward pass (kry_lanczos_run on the dense operator of the row-major
   A): bare recurrence (full == 0) or full reorthogonalisation, K steps from v, copied
   out: Q n x (K+1) column-major, alpha, beta. Returns the steps made; *bd is set when
   the run ended on an invariant subspace. */
static size_t forward_bd(size_t n, const double *A, const double *v, size_t K, int full,
                         double *Q, double *alpha, double *beta, double *vnorm, int *bd)
{
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, K);
    ck_assert_ptr_nonnull(lws);
    kry_lanczos_params lp = kry_lanczos_params_default();
    lp.max_steps = K;
    lp.reorth = full ? KRY_REORTH_FULL : KRY_REORTH_NONE;
    kry_lanczos_result r;
    ck_assert_int_eq(kry_lanczos_run(&op, v, &lp, lws, &r), KRY_OK);
    size_t ldq, m = r.steps;
    const double *q = kry_lanczos_basis(lws, &ldq);
    for (size_t k = 0; k <= m; ++k)
        memcpy(Q + k * n, q + k * ldq, n * sizeof(double));
    memcpy(alpha, kry_lanczos_alpha(lws), m * sizeof(double));
    memcpy(beta, kry_lanczos_beta(lws), m * sizeof(double));
    *vnorm = kry_lanczos_v0_norm(lws);
    if (bd != NULL)
        *bd = r.reason == KRY_CONVERGED_INVARIANT;
    kry_lanczos_ws_free(lws);
    kry_operator_destroy(&op);
    return m;
}

static size_t forward(size_t n, const double *A, const double *v, size_t K, int full,
                      double *Q, double *alpha, double *beta, double *vnorm)
{
    return forward_bd(n, A, v, K, full, Q, alpha, beta, vnorm, NULL);
}

/* Random cotangents on every output. */
typedef struct cots {
    double *xbar, *abar, *bbar; /* n x (K+1), K, K */
} cots;

static cots make_cots(size_t n, size_t K, uint64_t seed)
{
    cots c;
    c.xbar = test_vec_alloc(n * (K + 1));
    c.abar = test_vec_alloc(K);
    c.bbar = test_vec_alloc(K);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER + 1, 0, n * (K + 1), c.xbar);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER + 2, 0, K, c.abar);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER + 3, 0, K, c.bbar);
    return c;
}

static void free_cots(cots *c)
{
    free(c->xbar);
    free(c->abar);
    free(c->bbar);
}

/* loss = sum <xbar_k, x_k> + sum abar alpha + sum bbar beta of the forward pass. */
static double loss_of(size_t n, const double *A, const double *v, size_t K, int full,
                      const cots *c)
{
    double *Q = test_vec_alloc(n * (K + 1)), *al = test_vec_alloc(K), *be = test_vec_alloc(K), vn;
    size_t got = forward(n, A, v, K, full, Q, al, be, &vn);
    ck_assert_uint_eq(got, K);
    double s = test_dot(n * (K + 1), c->xbar, Q) + test_dot(K, c->abar, al) + test_dot(K, c->bbar, be);
    free(Q);
    free(al);
    free(be);
    return s;
}

/* Gradient of the loss by the adjoint: theta_bar (n*n) and v_bar (n). */
static void adjoint_grad(size_t n, const double *A, const double *v, size_t K, int full,
                         const cots *c, kry_adjoint_method method, double *tbar,
                         double *vbar)
{
    double *Q = test_vec_alloc(n * (K + 1)), *al = test_vec_alloc(K), *be = test_vec_alloc(K), vn;
    ck_assert_uint_eq(forward(n, A, v, K, full, Q, al, be, &vn), K);
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_adjoint_ws *ws = kry_adjoint_ws_alloc(n, K);
    ck_assert_ptr_nonnull(ws);
    kry_adjoint_decomp d = {K, Q, n, al, be, vn, 0};
    kry_adjoint_cotangent ct = {c->xbar, n, NULL, NULL, c->abar, c->bbar};
    memset(tbar, 0, n * n * sizeof(double));
    memset(vbar, 0, n * sizeof(double));
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, method, NULL, ws, tbar, vbar),
                     KRY_OK);
    kry_adjoint_ws_free(ws);
    kry_operator_destroy(&op);
    free(Q);
    free(al);
    free(be);
}

/* dir <- dir/|dir| + g/|g| (g symmetrised first when sym: g is then n x n with
   dim = n*n). */
static void mix_direction(size_t dim, double *dir, const double *g, int sym)
{
    double *gs = test_vec_alloc(dim);
    if (sym) {
        size_t n = (size_t)llround(sqrt((double)dim));
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < n; ++j)
                gs[i * n + j] = 0.5 * (g[i * n + j] + g[j * n + i]);
    } else {
        memcpy(gs, g, dim * sizeof(double));
    }
    double nd = sqrt(test_dot(dim, dir, dir)), ng = sqrt(test_dot(dim, gs, gs));
    for (size_t i = 0; i < dim; ++i)
        dir[i] = dir[i] / nd + (ng > 0.0 ? gs[i] / ng : 0.0);
    free(gs);
}

/* Central-difference check of <theta_bar, E> and v_bar . e (MATH.md section 7 recipe).
   Returns the larger relative error. */
static double fd_check_matrix(size_t n, const double *A, size_t K, int full,
                              kry_adjoint_method method, uint64_t seed)
{
    double *v = test_randvec(n, seed + 7);
    for (size_t i = 0; i < n; ++i)
        v[i] *= 2.385;
    cots c = make_cots(n, K, seed);
    double *tbar = test_vec_alloc(n * n), *vbar = test_vec_alloc(n);
    adjoint_grad(n, A, v, K, full, &c, method, tbar, vbar);

    const double h = 1e-6;
    /* Directions: a random one plus the gradient itself (both normalised), so the
       directional derivative is never a near-cancelling sum that FD rounding swamps. */
    double *E = rand_sym(n, seed + 11), *Ap = test_vec_alloc(n * n), *Am = test_vec_alloc(n * n);
    mix_direction(n * n, E, tbar, 1);
    for (size_t i = 0; i < n * n; ++i) {
        Ap[i] = A[i] + h * E[i];
        Am[i] = A[i] - h * E[i];
    }
    double fdA = (loss_of(n, Ap, v, K, full, &c) - loss_of(n, Am, v, K, full, &c)) / (2 * h);
    double adA = test_dot(n * n, tbar, E);
    double *e = test_randvec(n, seed + 13), *vp = test_vec_alloc(n), *vm = test_vec_alloc(n);
    mix_direction(n, e, vbar, 0);
    /* Step relative to |v| (the loss is scale-invariant in v apart from x_0's norm). */
    const double nv = sqrt(test_dot(n, v, v));
    for (size_t i = 0; i < n; ++i)
        e[i] *= nv;
    for (size_t i = 0; i < n; ++i) {
        vp[i] = v[i] + h * e[i];
        vm[i] = v[i] - h * e[i];
    }
    double fdv = (loss_of(n, A, vp, K, full, &c) - loss_of(n, A, vm, K, full, &c)) / (2 * h);
    double adv = test_dot(n, vbar, e);
    double rA = fabs(adA - fdA) / fabs(fdA), rv = fabs(adv - fdv) / fabs(fdv);
    if (getenv("KRY_TEST_VERBOSE"))
        fprintf(stderr, "n=%zu K=%zu full=%d method=%d: A %.3g (%.6g) v %.3g (%.6g)\n", n,
                K, full, (int)method, rA, fdA, rv, fdv);
    free(v);
    free_cots(&c);
    free(tbar);
    free(vbar);
    free(E);
    free(Ap);
    free(Am);
    free(e);
    free(vp);
    free(vm);
    return fmax(rA, rv);
}

/* fd_check_matrix on U diag(lam) U^T with a well-separated spectrum in [0.5, 4.2]. */
static double fd_check(size_t n, size_t K, int full, kry_adjoint_method method,
                       uint64_t seed)
{
    double *lam = test_vec_alloc(n);
    for (size_t i = 0; i < n; ++i)
        lam[i] = 0.5 + 3.7 * (double)i / (double)n + 0.01 * sin(2.385 * (double)i);
    double *A = test_random_symmetric(n, lam, seed);
    double r = fd_check_matrix(n, A, K, full, method, seed);
    free(lam);
    free(A);
    return r;
}

/* ------------------------------------------------------------------- core ---- */

START_TEST(test_fd_lanczos)
{
    /* MATH.md section 7: n = 10-30, K = 4-10 < n, random cotangents everywhere. */
    static const size_t cases[][2] = {{10, 4}, {17, 7}, {24, 9}, {30, 10}};
    for (size_t c = 0; c < 4; ++c) {
        double r = fd_check(cases[c][0], cases[c][1], 0, KRY_ADJOINT_LANCZOS, 100 + c);
        ck_assert_msg(r <= 1e-8, "n=%zu K=%zu: rel err %g", cases[c][0], cases[c][1], r);
    }
}
END_TEST

START_TEST(test_fd_arnoldi)
{
    static const size_t cases[][2] = {{10, 4}, {17, 7}, {24, 9}, {30, 10}};
    for (size_t c = 0; c < 4; ++c) {
        double r = fd_check(cases[c][0], cases[c][1], 1, KRY_ADJOINT_ARNOLDI, 200 + c);
        ck_assert_msg(r <= 1e-8, "n=%zu K=%zu: rel err %g", cases[c][0], cases[c][1], r);
    }
}
END_TEST


/* Dense Daleckii-Krein reference for L(A, v) = v^T f(A) v: with A = U diag(lam) U^T,
   grad_A = U (F o (U^T v v^T U)) U^T (row-major n x n) and grad_v = 2 f(A) v. */
static void dense_dk(size_t n, const double *A, const double *v, const kry_funm_fn *f,
                     double *gA, double *gv, double *value)
{
    double *lam = test_vec_alloc(n), *U = test_vec_alloc(n * n), *c = test_vec_alloc(n);
    double *fl = test_vec_alloc(n), *M = test_vec_alloc(n * n);
    ck_assert_int_eq(test_dsyevr(n, A, lam, U), 0);
    for (size_t i = 0; i < n; ++i) {
        c[i] = test_dot(n, U + i * n, v); /* U column-major: column i */
        ck_assert_int_eq(kry_funm_eval(f, lam[i], &fl[i], NULL), KRY_OK);
    }
    double val = 0.0;
    for (size_t i = 0; i < n; ++i)
        val += c[i] * c[i] * fl[i];
    *value = val;
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
            double F;
            ck_assert_int_eq(kry_funm_divdiff(f, lam[i], lam[j], &F), KRY_OK);
            M[i * n + j] = F * c[i] * c[j];
        }
    for (size_t r = 0; r < n; ++r)
        for (size_t q = 0; q < n; ++q) {
            double sum = 0.0;
            for (size_t i = 0; i < n; ++i)
                for (size_t j = 0; j < n; ++j)
                    sum += U[i * n + r] * M[i * n + j] * U[j * n + q];
            gA[r * n + q] = sum;
        }
    for (size_t r = 0; r < n; ++r) {
        double sum = 0.0;
        for (size_t i = 0; i < n; ++i)
            sum += U[i * n + r] * fl[i] * c[i];
        gv[r] = 2.0 * sum;
    }
    free(lam);
    free(U);
    free(c);
    free(fl);
    free(M);
}

/* value and gradient of v^T f(A) v by forward (K steps) + Daleckii-Krein on T + the
   backward sweep, on the dense operator of A. */
static void quadform_grad(size_t n, const double *A, const double *v, size_t K, int full,
                          kry_adjoint_method method, const kry_funm_fn *f, double *value,
                          double *tbar, double *vbar)
{
    double *Q = test_vec_alloc(n * (K + 1)), *al = test_vec_alloc(K), *be = test_vec_alloc(K), vn;
    int bd = 0;
    ck_assert_uint_eq(forward_bd(n, A, v, K, full, Q, al, be, &vn, &bd), K);
    kry_funm_ws *fws = kry_funm_ws_alloc(0, K);
    ck_assert_ptr_nonnull(fws);
    double quad;
    ck_assert_int_eq(kry_funm_tridiag(fws, K, al, be, f, &quad, NULL), KRY_OK);
    double l2 = vn * vn;
    *value = l2 * quad;
    double *a = test_vec_alloc(K), *abar = test_vec_alloc(K), *bbar = test_vec_alloc(K);
    a[0] = l2;
    ck_assert_int_eq(kry_funm_tridiag_vjp(fws, a, NULL, abar, bbar), KRY_OK);
    bbar[K - 1] = 0.0;
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_adjoint_ws *ws = kry_adjoint_ws_alloc(n, K);
    ck_assert_ptr_nonnull(ws);
    kry_adjoint_decomp d = {K, Q, n, al, be, vn, bd};
    kry_adjoint_cotangent ct = {NULL, 0, NULL, NULL, abar, bbar};
    memset(tbar, 0, n * n * sizeof(double));
    memset(vbar, 0, n * sizeof(double));
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, method, NULL, ws, tbar, vbar),
                     KRY_OK);
    for (size_t i = 0; i < n; ++i)
        vbar[i] += 2.0 * quad * v[i];
    kry_adjoint_ws_free(ws);
    kry_funm_ws_free(fws);
    kry_operator_destroy(&op);
    free(Q);
    free(al);
    free(be);
    free(a);
    free(abar);
    free(bbar);
}

/* max |sym(tbar) - gA| / max |gA| and max |vbar - gv| / max |gv|. */
static void grad_errors(size_t n, const double *tbar, const double *vbar, const double *gA,
                        const double *gv, double *eA, double *ev)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
            double s = 0.5 * (tbar[i * n + j] + tbar[j * n + i]);
            num = fmax(num, fabs(s - gA[i * n + j]));
            den = fmax(den, fabs(gA[i * n + j]));
        }
    *eA = num / den;
    num = den = 0.0;
    for (size_t i = 0; i < n; ++i) {
        num = fmax(num, fabs(vbar[i] - gv[i]));
        den = fmax(den, fabs(gv[i]));
    }
    *ev = num / den;
}

START_TEST(test_dense_dk_full_space)
{
    /* K = n steps span the whole space (the last beta is a breakdown, truncated), so
       l^2 e_0^T log(T) e_0 = v^T log(A) v exactly and its gradient is the dense
       Daleckii-Krein one. Both adjoints, each on the forward pass it belongs to. */
    const size_t n = 12;
    double lam[12];
    for (size_t i = 0; i < n; ++i)
        lam[i] = 0.75 + 0.6 * (double)i + 0.05 * cos(2.385 * (double)i);
    double *A = test_random_symmetric(n, lam, 31);
    double *v = test_randvec(n, 32);
    kry_funm_fn f = kry_funm_log();
    double *gA = test_vec_alloc(n * n), *gv = test_vec_alloc(n), ref;
    dense_dk(n, A, v, &f, gA, gv, &ref);
    double *tbar = test_vec_alloc(n * n), *vbar = test_vec_alloc(n), val, eA, ev;
    for (int full = 0; full < 2; ++full) {
        quadform_grad(n, A, v, n, full, full ? KRY_ADJOINT_ARNOLDI : KRY_ADJOINT_LANCZOS,
                      &f, &val, tbar, vbar);
        grad_errors(n, tbar, vbar, gA, gv, &eA, &ev);
        if (getenv("KRY_TEST_VERBOSE"))
            fprintf(stderr, "dense DK full=%d: value %.3g, grad A %.3g, grad v %.3g\n", full,
                    fabs(val - ref) / fabs(ref), eA, ev);
        ck_assert_close(val, ref, 1e-12);
        ck_assert_msg(eA <= 1e-12 && ev <= 1e-12, "full=%d: errors %g %g", full, eA, ev);
    }
    free(A);
    free(v);
    free(gA);
    free(gv);
    free(tbar);
    free(vbar);
}
END_TEST

START_TEST(test_hilbert_reprojection)
{
    /* Regression for the re-projection (MATH.md section 7): the 8 x 8 Hilbert matrix
       (cond 1.5e10), full reorthogonalisation, K = n, loss v^T f(A) v, against the
       dense Daleckii-Krein gradient. The bare Lanczos adjoint applied to this forward
       pass enforces only the local constraints and its v-gradient drifts (measured:
       5e-3 for log, 6e-4 for sqrt); the Arnoldi adjoint stays at the accuracy the
       conditioning allows (1.5e-7 for log, whose reference itself moves by eps cond;
       3e-10 for sqrt). The theta-gradients of both agree with the reference to ~3e-7. */
    const size_t n = 8;
    double *A = test_vec_alloc(n * n);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            A[i * n + j] = 1.0 / (double)(i + j + 1);
    double *v = test_randvec(n, 41);
    const kry_funm_fn fs[2] = {kry_funm_log(), kry_funm_sqrt()};
    const double tol_arnoldi[2] = {1e-5, 1e-8};
    double *gA = test_vec_alloc(n * n), *gv = test_vec_alloc(n), ref;
    double *tbar = test_vec_alloc(n * n), *vbar = test_vec_alloc(n), val, eA[2], ev[2];
    for (int fi = 0; fi < 2; ++fi) {
        dense_dk(n, A, v, &fs[fi], gA, gv, &ref);
        for (int m = 0; m < 2; ++m) {
            quadform_grad(n, A, v, n, 1, m ? KRY_ADJOINT_ARNOLDI : KRY_ADJOINT_LANCZOS,
                          &fs[fi], &val, tbar, vbar);
            grad_errors(n, tbar, vbar, gA, gv, &eA[m], &ev[m]);
            if (getenv("KRY_TEST_VERBOSE"))
                fprintf(stderr, "Hilbert f=%d %s: value %.3g, grad A %.3g, grad v %.3g\n",
                        fi, m ? "arnoldi" : "lanczos", fabs(val - ref) / fabs(ref), eA[m],
                        ev[m]);
            ck_assert_close(val, ref, 1e-7);
            ck_assert_msg(eA[m] <= 1e-5, "f=%d m=%d: theta error %g", fi, m, eA[m]);
        }
        ck_assert_msg(ev[1] <= tol_arnoldi[fi], "f=%d: Arnoldi v error %g", fi, ev[1]);
        ck_assert_msg(ev[0] >= 100.0 * ev[1], "f=%d: bare adjoint unexpectedly good (%g)",
                      fi, ev[0]);
    }
    free(gA);
    free(gv);
    free(tbar);
    free(vbar);
    free(A);
    free(v);
}
END_TEST

/* ------------------------------------------------ core: high-level calls ---- */

/* Value of v^T f(A) v (what == 0) or u^T f(A) v (what == 1) through the library's
   forward calls, K steps, given reorthogonalisation. */
static double fwd_value(size_t n, const double *A, const double *v, const double *u,
                        size_t K, kry_reorth reorth, const kry_funm_fn *f, int what)
{
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, K);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, K);
    kry_lanczos_params lp = kry_lanczos_params_default();
    lp.max_steps = K;
    lp.reorth = reorth;
    double val;
    if (what == 0) {
        ck_assert_int_eq(kry_funm_quadform(&op, f, v, &lp, lws, fws, &val, NULL), KRY_OK);
    } else {
        double *y = test_vec_alloc(n);
        ck_assert_int_eq(kry_funm_apply(&op, f, v, &lp, lws, fws, y, NULL), KRY_OK);
        val = test_dot(n, u, y);
        free(y);
    }
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_operator_destroy(&op);
    return val;
}

/* Checks the high-level gradient (theta_bar, v_bar) of what (0: quadform, 1: u^T f(A) v)
   against central differences of fwd_value along random + gradient directions. */
static void check_highlevel(size_t n, const double *A, const double *v, const double *u,
                            size_t K, kry_reorth reorth, const kry_funm_fn *f, int what,
                            double tol)
{
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, K);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, K);
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(n, K);
    kry_lanczos_params lp = kry_lanczos_params_default();
    lp.max_steps = K;
    lp.reorth = reorth;
    double *tbar = test_vec_alloc(n * n), *vbar = test_vec_alloc(n), val;
    if (what == 0) {
        ck_assert_int_eq(kry_adjoint_quadform(&op, f, v, &lp, NULL, lws, fws, aws, &val, tbar,
                                              vbar),
                         KRY_OK);
    } else {
        double *y = test_vec_alloc(n), *y2 = test_vec_alloc(n);
        ck_assert_int_eq(kry_adjoint_funm(&op, f, v, u, &lp, NULL, lws, fws, aws, y, tbar,
                                          vbar),
                         KRY_OK);
        ck_assert_int_eq(kry_funm_apply(&op, f, v, &lp, lws, fws, y2, NULL), KRY_OK);
        for (size_t i = 0; i < n; ++i)
            ck_assert_double_eq(y[i], y2[i]);
        val = test_dot(n, u, y);
        free(y);
        free(y2);
    }
    ck_assert_close(val, fwd_value(n, A, v, u, K, reorth, f, what), 1e-14);
    const double h = 1e-6;
    double *E = rand_sym(n, 77), *Ap = test_vec_alloc(n * n), *Am = test_vec_alloc(n * n);
    mix_direction(n * n, E, tbar, 1);
    for (size_t i = 0; i < n * n; ++i) {
        Ap[i] = A[i] + h * E[i];
        Am[i] = A[i] - h * E[i];
    }
    double fdA = (fwd_value(n, Ap, v, u, K, reorth, f, what) -
                  fwd_value(n, Am, v, u, K, reorth, f, what)) / (2 * h);
    double adA = test_dot(n * n, tbar, E);
    double *e = test_randvec(n, 78), *vp = test_vec_alloc(n), *vm = test_vec_alloc(n);
    mix_direction(n, e, vbar, 0);
    const double nv = sqrt(test_dot(n, v, v));
    for (size_t i = 0; i < n; ++i) {
        vp[i] = v[i] + h * nv * e[i];
        vm[i] = v[i] - h * nv * e[i];
    }
    double fdv = (fwd_value(n, A, vp, u, K, reorth, f, what) -
                  fwd_value(n, A, vm, u, K, reorth, f, what)) / (2 * h * nv);
    double adv = test_dot(n, vbar, e);
    if (getenv("KRY_TEST_VERBOSE"))
        fprintf(stderr, "high-level what=%d reorth=%d K=%zu: A %.3g v %.3g\n", what,
                (int)reorth, K, fabs(adA - fdA) / fabs(fdA), fabs(adv - fdv) / fabs(fdv));
    ck_assert_msg(fabs(adA - fdA) <= tol * fabs(fdA), "A: %.12g vs FD %.12g", adA, fdA);
    ck_assert_msg(fabs(adv - fdv) <= tol * fabs(fdv), "v: %.12g vs FD %.12g", adv, fdv);
    free(tbar);
    free(vbar);
    free(E);
    free(Ap);
    free(Am);
    free(e);
    free(vp);
    free(vm);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_adjoint_ws_free(aws);
    kry_operator_destroy(&op);
}

START_TEST(test_quadform_and_funm_highlevel)
{
    /* Gradients of v^T f(A) v and u^T f(A) v, K < n, both forward modes, against
       central differences of the same forward calls. */
    const size_t n = 24, K = 8;
    double lam[24];
    for (size_t i = 0; i < n; ++i)
        lam[i] = 0.6 + 0.19 * (double)i + 0.02 * sin(2.385 * (double)i);
    double *A = test_random_symmetric(n, lam, 61);
    double *v = test_randvec(n, 62), *u = test_randvec(n, 63);
    kry_funm_fn fs[3] = {kry_funm_log(), kry_funm_exp(-0.4), kry_funm_inv()};
    for (int k = 0; k < 3; ++k)
        for (int what = 0; what < 2; ++what) {
            check_highlevel(n, A, v, u, K, KRY_REORTH_NONE, &fs[k], what, 1e-8);
            check_highlevel(n, A, v, u, K, KRY_REORTH_FULL, &fs[k], what, 1e-8);
        }
    free(A);
    free(v);
    free(u);
}
END_TEST

START_TEST(test_rank_one_cotangent)
{
    /* xbar_k = c_k d passed as (xbar_coef, xbar_dir) equals the explicit n x (K+1)
       cotangent; the fused product of an affine operator equals matvec + param_vjp. */
    const size_t n = 15, K = 6;
    double lam[15];
    for (size_t i = 0; i < n; ++i)
        lam[i] = 1.0 + 0.3 * (double)i;
    double *A = test_random_symmetric(n, lam, 71);
    double *v = test_randvec(n, 72), *dir = test_randvec(n, 73), coef[7];
    for (size_t k = 0; k <= K; ++k)
        coef[k] = 0.3 * (double)k - 0.77;
    double *xbar = test_vec_alloc(n * (K + 1));
    for (size_t k = 0; k <= K; ++k)
        for (size_t i = 0; i < n; ++i)
            xbar[k * n + i] = coef[k] * dir[i];
    double ab[6], bb[6];
    kry_rng_fill_normal(74, KRY_RNG_STREAM_USER, 0, K, ab);
    kry_rng_fill_normal(75, KRY_RNG_STREAM_USER, 0, K, bb);
    double *Q = test_vec_alloc(n * (K + 1)), al[6], be[6], vn;
    ck_assert_uint_eq(forward(n, A, v, K, 1, Q, al, be, &vn), K);
    kry_operator dense;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &dense), KRY_OK);
    /* The same matrix as an affine family: 0.5 A + 0.5 A + 0 I, fused or not. */
    const kry_operator *terms[3] = {&dense, &dense, NULL};
    double th[3] = {0.5, 0.5, 0.0};
    kry_operator aff;
    ck_assert_int_eq(kry_operator_affine(n, 3, terms, th, &aff), KRY_OK);
    kry_adjoint_ws *ws = kry_adjoint_ws_alloc(n, K);
    kry_adjoint_decomp d = {K, Q, n, al, be, vn, 0};
    kry_adjoint_cotangent c1 = {xbar, n, NULL, NULL, ab, bb};
    kry_adjoint_cotangent c2 = {NULL, 0, coef, dir, ab, bb};
    for (int m = 0; m < 2; ++m) {
        kry_adjoint_method method = m ? KRY_ADJOINT_ARNOLDI : KRY_ADJOINT_LANCZOS;
        double *t1 = test_vec_alloc(n * n), *t2 = test_vec_alloc(n * n), *v1 = test_vec_alloc(n),
               *v2 = test_vec_alloc(n);
        ck_assert_int_eq(kry_adjoint_backward(&dense, &d, &c1, method, NULL, ws, t1, v1),
                         KRY_OK);
        ck_assert_int_eq(kry_adjoint_backward(&dense, &d, &c2, method, NULL, ws, t2, v2),
                         KRY_OK);
        for (size_t i = 0; i < n * n; ++i)
            ck_assert_close(t2[i], t1[i], 1e-13);
        for (size_t i = 0; i < n; ++i)
            ck_assert_close(v2[i], v1[i], 1e-13);
        /* Affine: theta_bar_i = <Gbar, B_i> with Gbar the dense gradient t1. */
        double g3[3] = {0}, f3[3] = {0}, *v3 = test_vec_alloc(n), *v4 = test_vec_alloc(n);
        kry_adjoint_params ap = kry_adjoint_params_default();
        ck_assert(ap.matvec_vjp == NULL);
        ck_assert_int_eq(kry_adjoint_backward(&aff, &d, &c1, method, NULL, ws, g3, v3), KRY_OK);
        ap.matvec_vjp = kry_affine_matvec_vjp;
        ck_assert_int_eq(kry_adjoint_backward(&aff, &d, &c1, method, &ap, ws, f3, v4), KRY_OK);
        double ga = test_dot(n * n, t1, A), gi = 0.0;
        for (size_t i = 0; i < n; ++i)
            gi += t1[i * n + i];
        ck_assert_close(g3[0], ga, 1e-12);
        ck_assert_close(g3[1], ga, 1e-12);
        ck_assert_close(g3[2], gi, 1e-12);
        for (int i = 0; i < 3; ++i)
            ck_assert_close(f3[i], g3[i], 1e-12);
        for (size_t i = 0; i < n; ++i) {
            ck_assert_close(v3[i], v1[i], 1e-12);
            ck_assert_close(v4[i], v1[i], 1e-12);
        }
        free(t1);
        free(t2);
        free(v1);
        free(v2);
        free(v3);
        free(v4);
    }
    kry_adjoint_ws_free(ws);
    kry_operator_destroy(&aff);
    kry_operator_destroy(&dense);
    free(A);
    free(v);
    free(dir);
    free(xbar);
    free(Q);
}
END_TEST

/* The affine test family on n points: theta_0 L + theta_1 I + theta_2 D with L the 1-D
   Laplacian tridiag(-1, 2, -1) and D = diag(d). */
typedef struct fam {
    size_t n;
    double *ld, *le, *dd;
    kry_operator L, D, A;
} fam;

static void fam_init(fam *f, size_t n, const double *theta)
{
    f->n = n;
    f->ld = test_vec_alloc(n);
    f->le = test_vec_alloc(n);
    f->dd = test_vec_alloc(n);
    for (size_t i = 0; i < n; ++i) {
        f->ld[i] = 2.0;
        f->le[i] = -1.0;
        f->dd[i] = 1.0 + sin(0.37 * (double)i) * sin(0.37 * (double)i);
    }
    ck_assert_int_eq(kry_operator_tridiag(n, f->ld, f->le, &f->L), KRY_OK);
    ck_assert_int_eq(kry_operator_tridiag(n, f->dd, f->le, &f->D), KRY_OK);
    /* D's off-diagonal must be zero: rebuild with a zero e. */
    kry_operator_destroy(&f->D);
    double *z = test_vec_alloc(n);
    ck_assert_int_eq(kry_operator_tridiag(n, f->dd, z, &f->D), KRY_OK);
    free(z);
    const kry_operator *terms[3] = {&f->L, NULL, &f->D};
    ck_assert_int_eq(kry_operator_affine(n, 3, terms, theta, &f->A), KRY_OK);
}

static void fam_free(fam *f)
{
    kry_operator_destroy(&f->A);
    kry_operator_destroy(&f->L);
    kry_operator_destroy(&f->D);
    free(f->ld);
    free(f->le);
    free(f->dd);
}

START_TEST(test_slq_gradient_affine)
{
    /* The SLQ log-det estimate as a function of theta (same probes): its exact
       gradient by kry_adjoint_slq against central differences, both forward modes,
       fused or not. */
    const size_t n = 60;
    double theta[3] = {0.8, 0.35, 0.6};
    fam F;
    fam_init(&F, n, theta);
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, 10);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, 10);
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(n, 10);
    kry_slq_params p = kry_slq_params_default();
    p.probes = 5;
    p.lanczos.max_steps = 10;
    kry_funm_fn f = kry_funm_log();
    for (int mode = 0; mode < 2; ++mode) {
        p.lanczos.reorth = mode ? KRY_REORTH_FULL : KRY_REORTH_NONE;
        ck_assert_int_eq(kry_affine_set_theta(&F.A, theta), KRY_OK);
        double g[3] = {0}, gf[3] = {0};
        kry_slq_result r, r2;
        ck_assert_int_eq(kry_adjoint_slq(&F.A, &f, &p, NULL, lws, fws, aws, &r, g), KRY_OK);
        kry_adjoint_params ap = {kry_affine_matvec_vjp};
        ck_assert_int_eq(kry_adjoint_slq(&F.A, &f, &p, &ap, lws, fws, aws, &r2, gf), KRY_OK);
        ck_assert_double_eq(r.estimate, r2.estimate);
        ck_assert_uint_eq(r.matvecs, 5 * 10);
        kry_slq_result r3;
        ck_assert_int_eq(kry_slq(&F.A, &f, &p, lws, fws, &r3), KRY_OK);
        ck_assert_double_eq(r.estimate, r3.estimate);
        ck_assert_double_eq(r.std_error, r3.std_error);
        for (int i = 0; i < 3; ++i) {
            const double h = 1e-6;
            double tp[3] = {theta[0], theta[1], theta[2]}, tm[3];
            memcpy(tm, tp, sizeof tm);
            tp[i] += h;
            tm[i] -= h;
            kry_slq_result a, b;
            ck_assert_int_eq(kry_affine_set_theta(&F.A, tp), KRY_OK);
            ck_assert_int_eq(kry_slq(&F.A, &f, &p, lws, fws, &a), KRY_OK);
            ck_assert_int_eq(kry_affine_set_theta(&F.A, tm), KRY_OK);
            ck_assert_int_eq(kry_slq(&F.A, &f, &p, lws, fws, &b), KRY_OK);
            double fd = (a.estimate - b.estimate) / (2 * h);
            if (getenv("KRY_TEST_VERBOSE"))
                fprintf(stderr, "slq grad mode %d theta_%d: %.12g FD %.12g fused %.12g\n",
                        mode, i, g[i], fd, gf[i]);
            ck_assert_msg(fabs(g[i] - fd) <= 1e-8 * fabs(fd), "theta_%d: %g vs %g", i, g[i],
                          fd);
            ck_assert_close(gf[i], g[i], 1e-12);
        }
    }
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_adjoint_ws_free(aws);
    fam_free(&F);
}
END_TEST

START_TEST(test_slq_inexact)
{
    /* The inexact gradient estimates d tr f(A)/d theta_i = tr(f'(A) B_i) (dense
       reference), within a few per-cent for many probes; it is not the derivative of
       the estimate (compared with kry_adjoint_slq at few steps). */
    const size_t n = 50;
    double theta[3] = {0.7, 0.9, 0.5};
    fam F;
    fam_init(&F, n, theta);
    /* Dense A(theta) and the B_i, for the reference. */
    double *A = test_vec_alloc(n * n), *lam = test_vec_alloc(n), *U = test_vec_alloc(n * n);
    for (size_t i = 0; i < n; ++i) {
        A[i * n + i] = theta[0] * 2.0 + theta[1] + theta[2] * F.dd[i];
        if (i + 1 < n)
            A[i * n + i + 1] = A[(i + 1) * n + i] = -theta[0];
    }
    ck_assert_int_eq(test_dsyevr(n, A, lam, U), 0);
    /* tr(f'(A) B) = sum_k f'(lam_k) u_k^T B u_k with f = log. */
    double ref[3] = {0};
    for (size_t k = 0; k < n; ++k) {
        const double *uk = U + k * n;
        double qL = 0.0, qI = 0.0, qD = 0.0;
        for (size_t i = 0; i < n; ++i) {
            qL += uk[i] * (2.0 * uk[i] - (i > 0 ? uk[i - 1] : 0.0) -
                           (i + 1 < n ? uk[i + 1] : 0.0));
            qI += uk[i] * uk[i];
            qD += F.dd[i] * uk[i] * uk[i];
        }
        ref[0] += qL / lam[k];
        ref[1] += qI / lam[k];
        ref[2] += qD / lam[k];
    }
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, 20);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, 20);
    kry_slq_params p = kry_slq_params_default();
    p.probes = 200;
    p.lanczos.max_steps = 20;
    kry_funm_fn f = kry_funm_log();
    double g[3] = {0};
    kry_slq_result r;
    ck_assert_int_eq(kry_adjoint_slq_inexact(&F.A, &f, &p, lws, fws, &r, g), KRY_OK);
    ck_assert_uint_eq(r.matvecs, 200 * 20);
    for (int i = 0; i < 3; ++i) {
        if (getenv("KRY_TEST_VERBOSE"))
            fprintf(stderr, "inexact theta_%d: %.6g ref %.6g\n", i, g[i], ref[i]);
        ck_assert_msg(fabs(g[i] - ref[i]) <= 0.05 * fabs(ref[i]), "%g vs %g", g[i], ref[i]);
    }
    /* At K = 3 steps and one probe it differs from the exact gradient of the estimate. */
    p.probes = 1;
    p.lanczos.max_steps = 3;
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(n, 3);
    double ge[3] = {0}, gi[3] = {0};
    ck_assert_int_eq(kry_adjoint_slq(&F.A, &f, &p, NULL, lws, fws, aws, NULL, ge), KRY_OK);
    ck_assert_int_eq(kry_adjoint_slq_inexact(&F.A, &f, &p, lws, fws, NULL, gi), KRY_OK);
    ck_assert(fabs(ge[0] - gi[0]) > 1e-6 * fabs(ge[0]));
    kry_adjoint_ws_free(aws);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    fam_free(&F);
    free(A);
    free(lam);
    free(U);
}
END_TEST

START_TEST(test_affine_operator)
{
    /* matvec and param_vjp against naive loops, identity terms, set_theta, skipped
       zero terms. */
    const size_t n = 9;
    double theta[3] = {1.25, -0.5, 2.385};
    fam F;
    fam_init(&F, n, theta);
    ck_assert_uint_eq(F.A.n_params, 3);
    ck_assert(F.A.param_vjp != NULL);
    double *x = test_randvec(n, 81), *w = test_randvec(n, 82), *y = test_vec_alloc(n), *ref = test_vec_alloc(n);
    for (int pass = 0; pass < 2; ++pass) {
        ck_assert_int_eq(kry_operator_apply(&F.A, x, y), KRY_OK);
        for (size_t i = 0; i < n; ++i) {
            double lx = 2.0 * x[i] - (i > 0 ? x[i - 1] : 0.0) - (i + 1 < n ? x[i + 1] : 0.0);
            ref[i] = theta[0] * lx + theta[1] * x[i] + theta[2] * F.dd[i] * x[i];
        }
        for (size_t i = 0; i < n; ++i)
            ck_assert_close(y[i], ref[i], 1e-15);
        double g[3] = {0.5, 0.5, 0.5};
        ck_assert_int_eq(F.A.param_vjp(F.A.ctx, x, w, g), 0);
        double gl = 0.0, gI = 0.0, gD = 0.0;
        for (size_t i = 0; i < n; ++i) {
            double lx = 2.0 * x[i] - (i > 0 ? x[i - 1] : 0.0) - (i + 1 < n ? x[i + 1] : 0.0);
            gl += w[i] * lx;
            gI += w[i] * x[i];
            gD += w[i] * F.dd[i] * x[i];
        }
        ck_assert_close(g[0], 0.5 + gl, 1e-14);
        ck_assert_close(g[1], 0.5 + gI, 1e-14);
        ck_assert_close(g[2], 0.5 + gD, 1e-14);
        /* Fused: u = A w and grad += x^T B_i w (= w^T B_i x). */
        double gf[3] = {0}, *u = test_vec_alloc(n);
        ck_assert_int_eq(kry_affine_matvec_vjp(F.A.ctx, w, x, u, gf), 0);
        ck_assert_close(gf[0], gl, 1e-14);
        ck_assert_close(gf[1], gI, 1e-14);
        ck_assert_close(gf[2], gD, 1e-14);
        ck_assert_int_eq(kry_operator_apply(&F.A, w, y), KRY_OK);
        for (size_t i = 0; i < n; ++i)
            ck_assert_close(u[i], y[i], 1e-15);
        free(u);
        theta[0] = 0.0; /* a zero coefficient is skipped in the product, not in the VJP */
        theta[2] = -1.5;
        ck_assert_int_eq(kry_affine_set_theta(&F.A, theta), KRY_OK);
    }
    free(x);
    free(w);
    free(y);
    free(ref);
    fam_free(&F);
}
END_TEST

/* Packed theta for a random pencil: x, d0 (diagonally dominant), e0, D, E. */
static double *pencil_theta(size_t n, size_t p, uint64_t seed)
{
    size_t np = kry_pencil_full_nparams(n, p);
    double *t = test_vec_alloc(np);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER, 0, np, t);
    double *d0 = t + p;
    for (size_t r = 0; r < n; ++r)
        d0[r] = 4.0 + 0.3 * (double)r / (double)n; /* keeps A(x) positive definite */
    for (size_t k = p + n + (n - 1); k < np; ++k)
        t[k] *= 0.2;
    return t;
}

START_TEST(test_pencil_full)
{
    /* Products against the assembled tridiagonal; param_vjp against central differences
       of w^T A(theta) u (bilinear in theta, so exact up to rounding); then the gradient
       of v^T log(A) v with respect to x and the A_i through one adjoint sweep against
       central differences of the forward pass. */
    const size_t n = 14, p = 3, np = kry_pencil_full_nparams(n, p);
    ck_assert_uint_eq(np, p + n + (n - 1) + n * p + (n - 1) * p);
    double *theta = pencil_theta(n, p, 111);
    kry_operator op;
    ck_assert_int_eq(kry_operator_pencil_full(n, p, theta, &op), KRY_OK);
    ck_assert_uint_eq(op.n_params, np);
    double *x = test_randvec(n, 112), *w = test_randvec(n, 113), *y = test_vec_alloc(n);
    const double *xx = theta, *d0 = xx + p, *e0 = d0 + n, *D = e0 + (n - 1), *E = D + n * p;
    double d[14], e[13];
    for (size_t r = 0; r < n; ++r) {
        d[r] = d0[r];
        for (size_t i = 0; i < p; ++i)
            d[r] += D[r * p + i] * xx[i];
    }
    for (size_t r = 0; r + 1 < n; ++r) {
        e[r] = e0[r];
        for (size_t i = 0; i < p; ++i)
            e[r] += E[r * p + i] * xx[i];
    }
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
    for (size_t r = 0; r < n; ++r) {
        double ref = d[r] * x[r] + (r > 0 ? e[r - 1] * x[r - 1] : 0.0) +
                     (r + 1 < n ? e[r] * x[r + 1] : 0.0);
        ck_assert_close(y[r], ref, 1e-14);
    }
    double *g = test_vec_alloc(np);
    ck_assert_int_eq(op.param_vjp(op.ctx, x, w, g), 0);
    double *tp = test_vec_alloc(np);
    for (size_t k = 0; k < np; ++k) {
        const double h = 0.37;
        memcpy(tp, theta, np * sizeof(double));
        tp[k] += h;
        ck_assert_int_eq(kry_pencil_full_set(&op, tp), KRY_OK);
        ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
        double fp = test_dot(n, w, y);
        tp[k] -= 2 * h;
        ck_assert_int_eq(kry_pencil_full_set(&op, tp), KRY_OK);
        ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
        double fm = test_dot(n, w, y);
        ck_assert_msg(fabs((fp - fm) / (2 * h) - g[k]) <= 1e-12 * (1.0 + fabs(g[k])),
                      "param %zu: %g vs %g", k, g[k], (fp - fm) / (2 * h));
    }
    ck_assert_int_eq(kry_pencil_full_set(&op, theta), KRY_OK);

    /* End to end: v^T log(A(theta)) v, both modes. */
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, 8);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, 8);
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(n, 8);
    kry_funm_fn f = kry_funm_log();
    double *v = test_randvec(n, 114);
    for (int mode = 0; mode < 2; ++mode) {
        kry_lanczos_params lp = kry_lanczos_params_default();
        lp.max_steps = 8;
        lp.reorth = mode ? KRY_REORTH_FULL : KRY_REORTH_NONE;
        double val;
        memset(g, 0, np * sizeof(double));
        ck_assert_int_eq(kry_adjoint_quadform(&op, &f, v, &lp, NULL, lws, fws, aws, &val, g,
                                              NULL),
                         KRY_OK);
        /* Central differences along a random direction over all parameters. */
        double *dir = test_randvec(np, 115 + (uint64_t)mode);
        const double h = 1e-6;
        for (size_t k = 0; k < np; ++k)
            tp[k] = theta[k] + h * dir[k];
        ck_assert_int_eq(kry_pencil_full_set(&op, tp), KRY_OK);
        double qp, qm;
        ck_assert_int_eq(kry_funm_quadform(&op, &f, v, &lp, lws, fws, &qp, NULL), KRY_OK);
        for (size_t k = 0; k < np; ++k)
            tp[k] = theta[k] - h * dir[k];
        ck_assert_int_eq(kry_pencil_full_set(&op, tp), KRY_OK);
        ck_assert_int_eq(kry_funm_quadform(&op, &f, v, &lp, lws, fws, &qm, NULL), KRY_OK);
        ck_assert_int_eq(kry_pencil_full_set(&op, theta), KRY_OK);
        double fd = (qp - qm) / (2 * h), ad = test_dot(np, g, dir);
        ck_assert_msg(fabs(fd - ad) <= 1e-8 * fabs(fd), "mode %d: %.12g vs FD %.12g", mode, ad,
                      fd);
        free(dir);
    }
    /* Errors. */
    kry_operator other;
    ck_assert_int_eq(kry_operator_pencil_full(n, p, NULL, &other), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil_full(0, p, theta, &other), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil_full(n, p, theta, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil_full(n, SIZE_MAX / 4, theta, &other), KRY_ERANGE);
    ck_assert_uint_eq(kry_pencil_full_nparams(0, 3), 0);
    memcpy(tp, theta, np * sizeof(double));
    tp[np - 1] = NAN;
    ck_assert_int_eq(kry_operator_pencil_full(n, p, tp, &other), KRY_ENONFINITE);
    ck_assert_int_eq(kry_pencil_full_set(&op, tp), KRY_ENONFINITE);
    tp[np - 1] = 1e308; /* finite theta, A(x) overflows */
    tp[p - 1] = 1e308;
    ck_assert_int_eq(kry_pencil_full_set(&op, tp), KRY_ENONFINITE);
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK); /* old point in force */
    ck_assert_int_eq(kry_pencil_full_set(NULL, theta), KRY_EINVAL);
    ck_assert_int_eq(kry_pencil_full_set(&op, NULL), KRY_EINVAL);
    kry_operator t3;
    double td[3] = {1, 2, 3}, te[2] = {0, 0};
    ck_assert_int_eq(kry_operator_tridiag(3, td, te, &t3), KRY_OK);
    ck_assert_int_eq(kry_pencil_full_set(&t3, theta), KRY_EINVAL);
    kry_operator_destroy(&t3);
    /* n = 1, p = 0: a 1 x 1 matrix d0. */
    double one = 2.385, v1 = 1.0, y1;
    kry_operator o1;
    ck_assert_int_eq(kry_operator_pencil_full(1, 0, &one, &o1), KRY_OK);
    ck_assert_uint_eq(o1.n_params, 1);
    ck_assert_int_eq(kry_operator_apply(&o1, &v1, &y1), KRY_OK);
    ck_assert_double_eq(y1, 2.385);
    kry_operator_destroy(&o1);

    free(theta);
    free(x);
    free(w);
    free(y);
    free(g);
    free(tp);
    free(v);
    kry_operator_destroy(&op);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_adjoint_ws_free(aws);
}
END_TEST

/* ------------------------------------------------------------------- args ---- */

static int fail_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    (void)x;
    (void)y;
    return 7;
}

static int nan_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const size_t *n = ctx;
    (void)x;
    for (size_t i = 0; i < *n; ++i)
        y[i] = NAN;
    return 0;
}

static int id_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const size_t *n = ctx;
    memcpy(y, x, *n * sizeof(double));
    return 0;
}

static int fail_vjp(void *ctx, const double *restrict u, const double *restrict w,
                    double *restrict grad)
{
    (void)ctx;
    (void)u;
    (void)w;
    (void)grad;
    return 3;
}

static int fail_fused(void *ctx, const double *restrict w, const double *restrict x,
                      double *restrict u, double *restrict grad)
{
    (void)ctx;
    (void)w;
    (void)x;
    (void)u;
    (void)grad;
    return 5;
}

static int fail_reduce(void *ctx, double *buf, size_t count)
{
    (void)ctx;
    (void)buf;
    (void)count;
    return 1;
}

START_TEST(test_args_backward)
{
    const size_t n = 8, K = 4;
    double lam[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double *A = test_random_symmetric(n, lam, 91), *v = test_randvec(n, 92);
    double *Q = test_vec_alloc(n * (K + 1)), al[4], be[4], vn;
    ck_assert_uint_eq(forward(n, A, v, K, 0, Q, al, be, &vn), K);
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_adjoint_ws *ws = kry_adjoint_ws_alloc(n, K), *small = kry_adjoint_ws_alloc(n, K - 1);
    kry_adjoint_ws *other = kry_adjoint_ws_alloc(n + 1, K);
    double ab[4] = {0.1, 0.2, 0.3, 0.4}, bb[4] = {0.5, 0.6, 0.7, 0.8};
    double *tb = test_vec_alloc(n * n), *vb = test_vec_alloc(n);
    kry_adjoint_decomp d = {K, Q, n, al, be, vn, 0};
    kry_adjoint_cotangent ct = {NULL, 0, NULL, NULL, ab, bb};
    const kry_adjoint_method M = KRY_ADJOINT_LANCZOS;
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, M, NULL, ws, tb, vb), KRY_OK);
    ck_assert_int_eq(kry_adjoint_backward(NULL, &d, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_backward(&op, NULL, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, NULL, M, NULL, ws, tb, vb), KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, M, NULL, NULL, tb, vb), KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, KRY_ADJOINT_METHOD_COUNT, NULL, ws,
                                          tb, vb),
                     KRY_EINVAL);
    kry_adjoint_decomp e = d;
    e.steps = 0;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    e = d;
    e.ldq = n - 1;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    e = d;
    e.v_norm = 0.0;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    e.v_norm = NAN;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    e = d;
    e.Q = NULL;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    double coef[5] = {1, 2, 3, 4, 5};
    kry_adjoint_cotangent c2 = ct;
    c2.xbar_coef = coef;
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &c2, M, NULL, ws, tb, vb), KRY_EINVAL);
    c2 = ct;
    c2.xbar = Q;
    c2.ldxbar = n - 1;
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &c2, M, NULL, ws, tb, vb), KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, M, NULL, small, tb, vb), KRY_EDIM);
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, M, NULL, other, tb, vb), KRY_EDIM);
    /* No param_vjp: theta_bar cannot be served, v_bar can. */
    size_t nn = n;
    kry_operator idop;
    ck_assert_int_eq(kry_operator_callback(n, id_matvec, &nn, &idop), KRY_OK);
    ck_assert_int_eq(kry_adjoint_backward(&idop, &d, &ct, M, NULL, ws, tb, vb),
                     KRY_EUNSUPPORTED);
    ck_assert_int_eq(kry_adjoint_backward(&idop, &d, &ct, M, NULL, ws, NULL, vb), KRY_OK);
    /* Bad decompositions. */
    double bad[4];
    memcpy(bad, al, sizeof bad);
    bad[1] = INFINITY;
    e = d;
    e.alpha = bad;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb), KRY_ENONFINITE);
    memcpy(bad, be, sizeof bad);
    bad[2] = -0.5;
    e = d;
    e.beta = bad;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb), KRY_EINVAL);
    bad[2] = 0.0;
    ck_assert_int_eq(kry_adjoint_backward(&op, &e, &ct, M, NULL, ws, tb, vb),
                     KRY_EUNSUPPORTED);
    /* Non-finite cotangents. */
    double abn[4] = {0.1, NAN, 0.3, 0.4};
    c2 = ct;
    c2.alpha_bar = abn;
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &c2, M, NULL, ws, tb, vb), KRY_ENONFINITE);
    double *xb = test_vec_alloc(n * (K + 1));
    xb[3 * n + 2] = INFINITY;
    c2 = ct;
    c2.xbar = xb;
    c2.ldxbar = n;
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &c2, M, NULL, ws, tb, vb), KRY_ENONFINITE);
    /* Callback failures and non-finite products. */
    kry_operator fo = op;
    fo.matvec = fail_matvec;
    ck_assert_int_eq(kry_adjoint_backward(&fo, &d, &ct, M, NULL, ws, tb, vb), KRY_ECALLBACK);
    fo = op;
    fo.param_vjp = fail_vjp;
    ck_assert_int_eq(kry_adjoint_backward(&fo, &d, &ct, M, NULL, ws, tb, vb), KRY_ECALLBACK);
    kry_adjoint_params ap = {fail_fused};
    ck_assert_int_eq(kry_adjoint_backward(&op, &d, &ct, M, &ap, ws, tb, vb), KRY_ECALLBACK);
    fo = op;
    fo.matvec = nan_matvec;
    fo.ctx = &nn;
    fo.param_vjp = NULL;
    ck_assert_int_eq(kry_adjoint_backward(&fo, &d, &ct, M, NULL, ws, NULL, vb),
                     KRY_ENONFINITE);
    kry_space sp = {fail_reduce, NULL, 0, 0};
    fo = op;
    fo.space = &sp;
    ck_assert_int_eq(kry_adjoint_backward(&fo, &d, &ct, M, NULL, ws, tb, vb), KRY_ECALLBACK);
    ck_assert_int_eq(kry_adjoint_backward(&fo, &d, &ct, KRY_ADJOINT_ARNOLDI, NULL, ws, tb, vb),
                     KRY_ECALLBACK);
    /* KRY_ERANGE (n or K above INT_MAX) needs a workspace of that size: not provoked. */

    /* Workspaces. */
    ck_assert_ptr_null(kry_adjoint_ws_alloc(0, 4));
    ck_assert_ptr_null(kry_adjoint_ws_alloc(4, 0));
    ck_assert_ptr_null(kry_adjoint_ws_alloc(SIZE_MAX / 2, 4));
    ck_assert_ptr_null(kry_adjoint_ws_alloc(4, SIZE_MAX / 4));
    ck_assert_uint_eq(kry_adjoint_ws_bytes(0, 4), 0);
    ck_assert_uint_gt(kry_adjoint_ws_bytes(100, 10), 400 * sizeof(double));
    kry_adjoint_ws_free(NULL);

    kry_adjoint_ws_free(ws);
    kry_adjoint_ws_free(small);
    kry_adjoint_ws_free(other);
    kry_operator_destroy(&op);
    free(A);
    free(v);
    free(Q);
    free(tb);
    free(vb);
    free(xb);
}
END_TEST

START_TEST(test_args_highlevel)
{
    kry_adjoint_method m;
    ck_assert_int_eq(kry_adjoint_method_for(KRY_REORTH_NONE, &m), KRY_OK);
    ck_assert_int_eq(m, KRY_ADJOINT_LANCZOS);
    ck_assert_int_eq(kry_adjoint_method_for(KRY_REORTH_FULL, &m), KRY_OK);
    ck_assert_int_eq(m, KRY_ADJOINT_ARNOLDI);
    ck_assert_int_eq(kry_adjoint_method_for(KRY_REORTH_SELECTIVE, &m), KRY_EUNSUPPORTED);
    ck_assert_int_eq(kry_adjoint_method_for(KRY_REORTH_PARTIAL, &m), KRY_EUNSUPPORTED);
    ck_assert_int_eq(kry_adjoint_method_for(KRY_REORTH_DGKS, &m), KRY_EUNSUPPORTED);
    ck_assert_int_eq(kry_adjoint_method_for(KRY_REORTH_COUNT, &m), KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_method_for(KRY_REORTH_NONE, NULL), KRY_EINVAL);

    const size_t n = 12;
    double lam[12];
    for (size_t i = 0; i < n; ++i)
        lam[i] = (double)i - 3.5; /* indefinite */
    double *A = test_random_symmetric(n, lam, 95), *v = test_randvec(n, 96), *u = test_randvec(n, 97);
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, 6);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, 6);
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(n, 6), *asmall = kry_adjoint_ws_alloc(n, 2);
    kry_adjoint_decomp d;
    ck_assert_int_eq(kry_adjoint_decomp_from_lanczos(lws, &d), KRY_EINVAL); /* no run */
    ck_assert_int_eq(kry_adjoint_decomp_from_lanczos(NULL, &d), KRY_EINVAL);
    kry_lanczos_params lp = kry_lanczos_params_default();
    lp.max_steps = 6;
    kry_funm_fn lg = kry_funm_log(), ex = kry_funm_exp(0.3);
    double val, *tb = test_vec_alloc(n * n), *vb = test_vec_alloc(n), *y = test_vec_alloc(n);
    ck_assert_int_eq(kry_adjoint_quadform(&op, &lg, v, &lp, NULL, lws, fws, aws, &val, tb, vb),
                     KRY_EDOMAIN);
    ck_assert_int_eq(kry_adjoint_quadform(&op, &ex, v, &lp, NULL, lws, fws, asmall, &val, tb,
                                          vb),
                     KRY_EDIM);
    ck_assert_int_eq(kry_adjoint_quadform(&op, &ex, v, &lp, NULL, lws, fws, NULL, &val, tb,
                                          vb),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_funm(&op, &ex, v, NULL, &lp, NULL, lws, fws, aws, y, tb, vb),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_funm(&op, &ex, v, u, &lp, NULL, lws, fws, asmall, y, tb, vb),
                     KRY_EDIM);
    u[3] = NAN;
    ck_assert_int_eq(kry_adjoint_funm(&op, &ex, v, u, &lp, NULL, lws, fws, aws, y, tb, vb),
                     KRY_ENONFINITE);
    u[3] = 0.5;
    lp.reorth = KRY_REORTH_SELECTIVE;
    ck_assert_int_eq(kry_adjoint_quadform(&op, &ex, v, &lp, NULL, lws, fws, aws, &val, tb, vb),
                     KRY_EUNSUPPORTED);
    kry_slq_params p = kry_slq_params_default();
    p.probes = 2;
    p.lanczos.max_steps = 6;
    ck_assert_int_eq(kry_adjoint_slq(&op, &ex, &p, NULL, lws, fws, aws, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_adjoint_slq(&op, &lg, &p, NULL, lws, fws, aws, NULL, tb),
                     KRY_EDOMAIN);
    ck_assert_int_eq(kry_adjoint_slq(&op, &ex, &p, NULL, lws, fws, asmall, NULL, tb),
                     KRY_EDIM);
    p.lanczos.reorth = KRY_REORTH_DGKS;
    ck_assert_int_eq(kry_adjoint_slq(&op, &ex, &p, NULL, lws, fws, aws, NULL, tb),
                     KRY_EUNSUPPORTED);
    /* The inexact gradient works with any mode, needs param_vjp and theta_bar. */
    ck_assert_int_eq(kry_adjoint_slq_inexact(&op, &ex, &p, lws, fws, NULL, tb), KRY_OK);
    ck_assert_int_eq(kry_adjoint_slq_inexact(&op, &ex, &p, lws, fws, NULL, NULL), KRY_EINVAL);
    size_t nn = n;
    kry_operator idop;
    ck_assert_int_eq(kry_operator_callback(n, id_matvec, &nn, &idop), KRY_OK);
    ck_assert_int_eq(kry_adjoint_slq_inexact(&idop, &ex, &p, lws, fws, NULL, tb),
                     KRY_EUNSUPPORTED);
    kry_operator fo = op;
    fo.param_vjp = fail_vjp;
    ck_assert_int_eq(kry_adjoint_slq_inexact(&fo, &ex, &p, lws, fws, NULL, tb), KRY_ECALLBACK);
    /* A continued breakdown splits T: not differentiable by these sweeps. */
    double dl[12];
    for (size_t i = 0; i < n; ++i)
        dl[i] = 1.0 + (double)(i % 3); /* three distinct eigenvalues */
    kry_operator dop;
    ck_assert_int_eq(kry_operator_tridiag(n, dl, NULL, &dop), KRY_EINVAL); /* e needed */
    double *z = test_vec_alloc(n);
    ck_assert_int_eq(kry_operator_tridiag(n, dl, z, &dop), KRY_OK);
    lp.reorth = KRY_REORTH_FULL;
    lp.continue_on_breakdown = 1;
    ck_assert_int_eq(kry_lanczos_run(&dop, v, &lp, lws, NULL), KRY_OK);
    ck_assert_int_eq(kry_adjoint_decomp_from_lanczos(lws, &d), KRY_EUNSUPPORTED);
    ck_assert_int_eq(kry_adjoint_quadform(&dop, &ex, v, &lp, NULL, lws, fws, aws, &val, tb,
                                          vb),
                     KRY_EUNSUPPORTED);
    free(z);
    kry_operator_destroy(&dop);
    kry_operator_destroy(&op);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_adjoint_ws_free(aws);
    kry_adjoint_ws_free(asmall);
    free(A);
    free(v);
    free(u);
    free(tb);
    free(vb);
    free(y);
}
END_TEST

START_TEST(test_args_affine)
{
    const size_t n = 5;
    double d[5] = {1, 2, 3, 4, 5}, e[4] = {0};
    kry_operator T, T6, out;
    ck_assert_int_eq(kry_operator_tridiag(n, d, e, &T), KRY_OK);
    double d6[6] = {1, 2, 3, 4, 5, 6}, e6[5] = {0};
    ck_assert_int_eq(kry_operator_tridiag(6, d6, e6, &T6), KRY_OK);
    const kry_operator *terms[2] = {&T, NULL};
    double th[2] = {1.0, 2.0};
    ck_assert_int_eq(kry_operator_affine(n, 2, terms, th, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_affine(n, 2, NULL, th, &out), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_affine(n, 2, terms, NULL, &out), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_affine(0, 2, terms, th, &out), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_affine(n, 0, terms, th, &out), KRY_EINVAL);
    const kry_operator *t6[2] = {&T6, NULL};
    ck_assert_int_eq(kry_operator_affine(n, 2, t6, th, &out), KRY_EINVAL);
    kry_operator broken = T;
    broken.matvec = NULL;
    const kry_operator *tb[2] = {&broken, NULL};
    ck_assert_int_eq(kry_operator_affine(n, 2, tb, th, &out), KRY_EINVAL);
    kry_space sp = {NULL, NULL, 0, 0};
    kry_operator Ts = T;
    Ts.space = &sp;
    const kry_operator *tmix[2] = {&T, &Ts};
    ck_assert_int_eq(kry_operator_affine(n, 2, tmix, th, &out), KRY_EINVAL);
    double thn[2] = {1.0, NAN};
    ck_assert_int_eq(kry_operator_affine(n, 2, terms, thn, &out), KRY_ENONFINITE);
    ck_assert_int_eq(kry_operator_affine((size_t)INT_MAX + 1, 2, terms, th, &out),
                     KRY_ERANGE);
    ck_assert_int_eq(kry_operator_affine(n, 2, terms, th, &out), KRY_OK);
    ck_assert_int_eq(kry_affine_set_theta(&out, thn), KRY_ENONFINITE);
    ck_assert_int_eq(kry_affine_set_theta(&out, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_affine_set_theta(NULL, th), KRY_EINVAL);
    ck_assert_int_eq(kry_affine_set_theta(&T, th), KRY_EINVAL);
    /* A failing term: matvec, param_vjp and the fused product report it. */
    kry_operator bad;
    ck_assert_int_eq(kry_operator_callback(n, fail_matvec, NULL, &bad), KRY_OK);
    const kry_operator *tf[2] = {&bad, NULL};
    kry_operator fa;
    ck_assert_int_eq(kry_operator_affine(n, 2, tf, th, &fa), KRY_OK);
    double x[5] = {1, 2, 3, 4, 5}, y[5], g[2] = {0};
    ck_assert_int_eq(kry_operator_apply(&fa, x, y), KRY_ECALLBACK);
    ck_assert_int_ne(fa.param_vjp(fa.ctx, x, x, g), 0);
    ck_assert_int_ne(kry_affine_matvec_vjp(fa.ctx, x, x, y, g), 0);
    /* ENOMEM is not provoked (no allocation hook). */
    kry_operator_destroy(&fa);
    kry_operator_destroy(&out);
    kry_operator_destroy(&T);
    kry_operator_destroy(&T6);
}
END_TEST

/* ------------------------------------------------------------------- edge ---- */

START_TEST(test_edge_n1)
{
    /* n = 1: v^T f(a) v = v^2 f(a); d/da = v^2 f'(a), d/dv = 2 v f(a). K = 1 ends on an
       invariant subspace (beta_0 = 0), so the sweep is truncated. */
    double a = 2.385, v = -1.3;
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(1, &a, 1, &op), KRY_OK);
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(1, 1);
    kry_funm_ws *fws = kry_funm_ws_alloc(1, 1);
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(1, 1);
    kry_funm_fn f = kry_funm_log();
    for (int mode = 0; mode < 2; ++mode) {
        kry_lanczos_params lp = kry_lanczos_params_default();
        lp.reorth = mode ? KRY_REORTH_FULL : KRY_REORTH_NONE;
        double val, tb = 0.0, vb = 0.0;
        ck_assert_int_eq(kry_adjoint_quadform(&op, &f, &v, &lp, NULL, lws, fws, aws, &val, &tb,
                                              &vb),
                         KRY_OK);
        ck_assert_close(val, v * v * log(a), 1e-15);
        ck_assert_close(tb, v * v / a, 1e-15);
        ck_assert_close(vb, 2.0 * v * log(a), 1e-15);
        double u = 0.7, y;
        tb = vb = 0.0;
        ck_assert_int_eq(kry_adjoint_funm(&op, &f, &v, &u, &lp, NULL, lws, fws, aws, &y, &tb,
                                          &vb),
                         KRY_OK);
        ck_assert_close(y, log(a) * v, 1e-15);
        ck_assert_close(tb, u * v / a, 1e-15);
        ck_assert_close(vb, u * log(a), 1e-15);
    }
    kry_operator_destroy(&op);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_adjoint_ws_free(aws);
}
END_TEST

START_TEST(test_edge_invariant_repeated)
{
    /* Repeated eigenvalues {1.3 x4, 2.7 x3, 4.1 x3}: Lanczos from any v stops after 3
       steps (invariant subspace) although 6 were asked for; the truncated sweep gives
       the dense Daleckii-Krein gradient (F_ii = f' on the ties). */
    const size_t n = 10;
    double lam[10] = {1.3, 1.3, 1.3, 1.3, 2.7, 2.7, 2.7, 4.1, 4.1, 4.1};
    double *A = test_random_symmetric(n, lam, 99), *v = test_randvec(n, 100);
    kry_funm_fn f = kry_funm_sqrt();
    double *gA = test_vec_alloc(n * n), *gv = test_vec_alloc(n), ref;
    dense_dk(n, A, v, &f, gA, gv, &ref);
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, A, n, &op), KRY_OK);
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(n, 6);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, 6);
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(n, 6);
    double *tb = test_vec_alloc(n * n), *vb = test_vec_alloc(n), val, eA, ev;
    for (int mode = 0; mode < 2; ++mode) {
        kry_lanczos_params lp = kry_lanczos_params_default();
        lp.max_steps = 6;
        lp.reorth = mode ? KRY_REORTH_FULL : KRY_REORTH_NONE;
        memset(tb, 0, n * n * sizeof(double));
        memset(vb, 0, n * sizeof(double));
        ck_assert_int_eq(kry_adjoint_quadform(&op, &f, v, &lp, NULL, lws, fws, aws, &val, tb,
                                              vb),
                         KRY_OK);
        ck_assert_uint_eq(kry_lanczos_steps(lws), 3);
        grad_errors(n, tb, vb, gA, gv, &eA, &ev);
        ck_assert_close(val, ref, 1e-13);
        ck_assert_msg(eA <= 1e-12 && ev <= 1e-12, "mode %d: %g %g", mode, eA, ev);
    }
    free(A);
    free(v);
    free(gA);
    free(gv);
    free(tb);
    free(vb);
    kry_operator_destroy(&op);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_adjoint_ws_free(aws);
}
END_TEST

/* ------------------------------------------------------------------- suite ---- */

static Suite *adjoint_suite(void)
{
    Suite *s = suite_create("adjoint");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_fd_lanczos);
    tcase_add_test(core, test_fd_arnoldi);
    tcase_add_test(core, test_dense_dk_full_space);
    tcase_add_test(core, test_hilbert_reprojection);
    tcase_add_test(core, test_quadform_and_funm_highlevel);
    tcase_add_test(core, test_rank_one_cotangent);
    tcase_add_test(core, test_slq_gradient_affine);
    tcase_add_test(core, test_slq_inexact);
    tcase_add_test(core, test_affine_operator);
    tcase_add_test(core, test_pencil_full);
    suite_add_tcase(s, core);
    TCase *args = tcase_create("args");
    tcase_add_test(args, test_args_backward);
    tcase_add_test(args, test_args_highlevel);
    tcase_add_test(args, test_args_affine);
    suite_add_tcase(s, args);
    TCase *edge = tcase_create("edge");
    tcase_add_test(edge, test_edge_n1);
    tcase_add_test(edge, test_edge_invariant_repeated);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(adjoint_suite)
