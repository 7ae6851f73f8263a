/* test_adjoint.c — the Lanczos and Arnoldi adjoints (kry/adjoint.h) and the affine
   operator family. References: central finite differences of the forward pass (MATH.md
   section 7 recipe), the dense Daleckii-Krein gradient from LAPACK eigenpairs, naive
   loops for the affine family. */
#include <float.h>
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

static double *vec_alloc(size_t n)
{
    double *x = calloc(n ? n : 1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    return x;
}

static double *randvec(size_t n, uint64_t seed)
{
    double *x = vec_alloc(n);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 0, n, x);
    return x;
}

static double dotn(size_t n, const double *x, const double *y)
{
    double s = 0.0;
    for (size_t i = 0; i < n; ++i)
        s += x[i] * y[i];
    return s;
}

/* Random symmetric perturbation direction E (row-major). */
static double *rand_sym(size_t n, uint64_t seed)
{
    double *e = vec_alloc(n * n);
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
    c.xbar = vec_alloc(n * (K + 1));
    c.abar = vec_alloc(K);
    c.bbar = vec_alloc(K);
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
    double *Q = vec_alloc(n * (K + 1)), *al = vec_alloc(K), *be = vec_alloc(K), vn;
    size_t got = forward(n, A, v, K, full, Q, al, be, &vn);
    ck_assert_uint_eq(got, K);
    double s = dotn(n * (K + 1), c->xbar, Q) + dotn(K, c->abar, al) + dotn(K, c->bbar, be);
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
    double *Q = vec_alloc(n * (K + 1)), *al = vec_alloc(K), *be = vec_alloc(K), vn;
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
    double *gs = vec_alloc(dim);
    if (sym) {
        size_t n = (size_t)llround(sqrt((double)dim));
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < n; ++j)
                gs[i * n + j] = 0.5 * (g[i * n + j] + g[j * n + i]);
    } else {
        memcpy(gs, g, dim * sizeof(double));
    }
    double nd = sqrt(dotn(dim, dir, dir)), ng = sqrt(dotn(dim, gs, gs));
    for (size_t i = 0; i < dim; ++i)
        dir[i] = dir[i] / nd + (ng > 0.0 ? gs[i] / ng : 0.0);
    free(gs);
}

/* Central-difference check of <theta_bar, E> and v_bar . e (MATH.md section 7 recipe).
   Returns the larger relative error. */
static double fd_check_matrix(size_t n, const double *A, size_t K, int full,
                              kry_adjoint_method method, uint64_t seed)
{
    double *v = randvec(n, seed + 7);
    for (size_t i = 0; i < n; ++i)
        v[i] *= 2.385;
    cots c = make_cots(n, K, seed);
    double *tbar = vec_alloc(n * n), *vbar = vec_alloc(n);
    adjoint_grad(n, A, v, K, full, &c, method, tbar, vbar);

    const double h = 1e-6;
    /* Directions: a random one plus the gradient itself (both normalised), so the
       directional derivative is never a near-cancelling sum that FD rounding swamps. */
    double *E = rand_sym(n, seed + 11), *Ap = vec_alloc(n * n), *Am = vec_alloc(n * n);
    mix_direction(n * n, E, tbar, 1);
    for (size_t i = 0; i < n * n; ++i) {
        Ap[i] = A[i] + h * E[i];
        Am[i] = A[i] - h * E[i];
    }
    double fdA = (loss_of(n, Ap, v, K, full, &c) - loss_of(n, Am, v, K, full, &c)) / (2 * h);
    double adA = dotn(n * n, tbar, E);
    double *e = randvec(n, seed + 13), *vp = vec_alloc(n), *vm = vec_alloc(n);
    mix_direction(n, e, vbar, 0);
    /* Step relative to |v| (the loss is scale-invariant in v apart from x_0's norm). */
    const double nv = sqrt(dotn(n, v, v));
    for (size_t i = 0; i < n; ++i)
        e[i] *= nv;
    for (size_t i = 0; i < n; ++i) {
        vp[i] = v[i] + h * e[i];
        vm[i] = v[i] - h * e[i];
    }
    double fdv = (loss_of(n, A, vp, K, full, &c) - loss_of(n, A, vm, K, full, &c)) / (2 * h);
    double adv = dotn(n, vbar, e);
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
    double *lam = vec_alloc(n);
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
    double *lam = vec_alloc(n), *U = vec_alloc(n * n), *c = vec_alloc(n);
    double *fl = vec_alloc(n), *M = vec_alloc(n * n);
    ck_assert_int_eq(test_dsyevr(n, A, lam, U), 0);
    for (size_t i = 0; i < n; ++i) {
        c[i] = dotn(n, U + i * n, v); /* U column-major: column i */
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
    double *Q = vec_alloc(n * (K + 1)), *al = vec_alloc(K), *be = vec_alloc(K), vn;
    int bd = 0;
    ck_assert_uint_eq(forward_bd(n, A, v, K, full, Q, al, be, &vn, &bd), K);
    kry_funm_ws *fws = kry_funm_ws_alloc(0, K);
    ck_assert_ptr_nonnull(fws);
    double quad;
    ck_assert_int_eq(kry_funm_tridiag(fws, K, al, be, f, &quad, NULL), KRY_OK);
    double l2 = vn * vn;
    *value = l2 * quad;
    double *a = vec_alloc(K), *abar = vec_alloc(K), *bbar = vec_alloc(K);
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
    double *v = randvec(n, 32);
    kry_funm_fn f = kry_funm_log();
    double *gA = vec_alloc(n * n), *gv = vec_alloc(n), ref;
    dense_dk(n, A, v, &f, gA, gv, &ref);
    double *tbar = vec_alloc(n * n), *vbar = vec_alloc(n), val, eA, ev;
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
       4e-1 for log, 2e-4 for sqrt); the Arnoldi adjoint stays at the accuracy the
       conditioning allows (1e-7 for log, whose reference itself moves by eps cond; 2e-10
       for sqrt). The theta-gradients of both agree with the reference to ~3e-7. */
    const size_t n = 8;
    double *A = vec_alloc(n * n);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            A[i * n + j] = 1.0 / (double)(i + j + 1);
    double *v = randvec(n, 41);
    const kry_funm_fn fs[2] = {kry_funm_log(), kry_funm_sqrt()};
    const double tol_arnoldi[2] = {1e-5, 1e-8};
    double *gA = vec_alloc(n * n), *gv = vec_alloc(n), ref;
    double *tbar = vec_alloc(n * n), *vbar = vec_alloc(n), val, eA[2], ev[2];
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

/* ------------------------------------------------------------------- suite ---- */

static Suite *adjoint_suite(void)
{
    Suite *s = suite_create("adjoint");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_fd_lanczos);
    tcase_add_test(core, test_fd_arnoldi);
    tcase_add_test(core, test_dense_dk_full_space);
    tcase_add_test(core, test_hilbert_reprojection);
    suite_add_tcase(s, core);
    return s;
}

KRY_CHECK_MAIN(adjoint_suite)
