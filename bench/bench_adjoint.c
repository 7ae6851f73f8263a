/* bench_adjoint.c — cost of the Lanczos adjoint (kry/adjoint.h) against the forward pass,
   against backpropagation through the unrolled recurrence (every intermediate stored, a
   reverse-mode tape), and against the dense LAPACK gradient.

   Problem: the value and theta-gradient of v^T log(A(theta)) v for the shifted 2-D
   Laplacian A(theta) = theta_0 L + theta_1 I on an m x m grid (n = m^2, 5-point
   stencil, CSR), an affine family (kry_operator_affine) whose fused product
   (kry_affine_matvec_vjp) forms L lambda once for both A lambda and the theta-gradient.
   Forward = kry_lanczos_run (reorth none, K steps) + Gauss quadrature of log on T;
   backward = Daleckii-Krein cotangent of T + kry_adjoint_backward (Lanczos adjoint).

   bwd/fwd is the median of the per-repetition ratios (forward and backward are timed
   back to back in each repetition). Every configuration runs in a forked child so that its peak resident set (getrusage
   ru_maxrss of the child itself) is its own; times are medians over repetitions. The bytes the
   computation allocates are counted from the workspace sizes (the CSR matrix and the
   two n-vectors v, v_bar are listed separately). OpenBLAS runs single-threaded.

   Usage: bench_adjoint [--max-n N] [--reps R]   (defaults: 1000000, 5)
   The last line is JSON with backward_over_forward for every (n, K). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>

#include "kry/adjoint.h"
#include "kry/funm.h"
#include "kry/kry.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, size_t r)
{
    qsort(x, r, sizeof *x, cmp_d);
    return r % 2 ? x[r / 2] : 0.5 * (x[r / 2 - 1] + x[r / 2]);
}

static void fail(const char *what, kry_status st)
{
    fprintf(stderr, "bench_adjoint: %s: %s\n", what, kry_strerror(st));
    exit(2);
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "bench_adjoint: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

/* The test problem: L (CSR), the affine family, a start vector. */
typedef struct problem {
    size_t n;
    kry_csr *L;
    kry_operator opL, A;
    double theta[2];
    double *v;
} problem;

static void problem_init(problem *P, size_t m)
{
    char spec[64];
    snprintf(spec, sizeof spec, "laplace2d:%zux%zu", m, m);
    kry_status st = kry_problem_build(spec, &P->L, NULL, 0);
    if (st != KRY_OK)
        fail(spec, st);
    P->n = m * m;
    if ((st = kry_operator_csr(P->L, &P->opL)) != KRY_OK)
        fail("csr operator", st);
    P->theta[0] = 1.0;
    P->theta[1] = 0.35;
    const kry_operator *terms[2] = {&P->opL, NULL};
    if ((st = kry_operator_affine(P->n, 2, terms, P->theta, &P->A)) != KRY_OK)
        fail("affine", st);
    P->v = xmalloc(P->n * sizeof(double));
    kry_rng_fill_normal(2385, KRY_RNG_STREAM_TEST, 0, P->n, P->v);
}

static void problem_free(problem *P)
{
    kry_operator_destroy(&P->A);
    kry_operator_destroy(&P->opL);
    kry_csr_free(P->L);
    free(P->v);
}

/* What a child sends back. */
typedef struct result {
    double fwd, bwd, bwd_unfused, bytes, value, g0, g1;
    double ratio, ratio_unfused; /* medians of the per-repetition ratios bwd / fwd */
    double rss_mb; /* the child's peak resident set (getrusage), MB */
} result;

/* ---- kry: forward (Lanczos + quadrature) and backward (DK + adjoint sweep) ---- */

static result run_kry(size_t m, size_t K, int reps, kry_reorth reorth)
{
    problem P;
    problem_init(&P, m);
    const size_t n = P.n;
    const kry_adjoint_method method =
        reorth == KRY_REORTH_FULL ? KRY_ADJOINT_ARNOLDI : KRY_ADJOINT_LANCZOS;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(n, K, reorth);
    kry_funm_ws *fws = kry_funm_ws_alloc(0, K);
    kry_adjoint_ws *aws = kry_adjoint_ws_alloc(n, K);
    double *vbar = xmalloc(n * sizeof(double)), *a = xmalloc(K * sizeof(double));
    double *ab = xmalloc(K * sizeof(double)), *bb = xmalloc(K * sizeof(double));
    if (!lws || !fws || !aws)
        fail("workspaces", KRY_ENOMEM);
    kry_lanczos_params lp = kry_lanczos_params_default();
    lp.max_steps = K;
    lp.reorth = reorth;
    kry_funm_fn f = kry_funm_log();
    double *tf = xmalloc(reps * sizeof(double)), *tb = xmalloc(reps * sizeof(double));
    double *tu = xmalloc(reps * sizeof(double)), *rf = xmalloc(reps * sizeof(double));
    double *ru = xmalloc(reps * sizeof(double));
    result R;
    memset(&R, 0, sizeof R);
    /* Interleaved: each repetition times a forward and then a backward, and the ratio is
       taken per repetition, so a burst of load from other processes affects both. */
    for (int rep = 0; rep < 2 * reps; ++rep) {
        const int fused = rep % 2 == 0;
        const int slot = rep / 2;
        double t0 = now(), quad;
        kry_status st = kry_lanczos_run(&P.A, P.v, &lp, lws, NULL);
        if (st != KRY_OK)
            fail("lanczos", st);
        const size_t mm = kry_lanczos_steps(lws);
        if ((st = kry_funm_tridiag(fws, mm, kry_lanczos_alpha(lws), kry_lanczos_beta(lws), &f,
                                   &quad, NULL)) != KRY_OK)
            fail("quadrature", st);
        const double l = kry_lanczos_v0_norm(lws);
        double t1 = now();
        memset(a, 0, mm * sizeof(double));
        a[0] = l * l;
        if ((st = kry_funm_tridiag_vjp(fws, a, NULL, ab, bb)) != KRY_OK)
            fail("Daleckii-Krein", st);
        bb[mm - 1] = 0.0;
        kry_adjoint_decomp d;
        if ((st = kry_adjoint_decomp_from_lanczos(lws, &d)) != KRY_OK)
            fail("decomposition", st);
        kry_adjoint_cotangent ct = {NULL, 0, NULL, NULL, ab, bb};
        kry_adjoint_params ap = kry_adjoint_params_default();
        if (fused)
            ap.matvec_vjp = kry_affine_matvec_vjp;
        double g[2] = {0.0, 0.0};
        memset(vbar, 0, n * sizeof(double));
        if ((st = kry_adjoint_backward(&P.A, &d, &ct, method, &ap, aws, g, vbar)) != KRY_OK)
            fail("adjoint", st);
        cblas_daxpy((int)n, 2.0 * quad, P.v, 1, vbar, 1);
        double t2 = now();
        if (fused) {
            tf[slot] = t1 - t0;
            tb[slot] = t2 - t1;
            rf[slot] = (t2 - t1) / (t1 - t0);
        } else {
            tu[slot] = t2 - t1;
            ru[slot] = (t2 - t1) / (t1 - t0);
        }
        R.value = l * l * quad;
        R.g0 = g[0];
        R.g1 = g[1];
    }
    R.fwd = median(tf, reps);
    R.bwd = median(tb, reps);
    R.bwd_unfused = median(tu, reps);
    R.ratio = median(rf, reps);
    R.ratio_unfused = median(ru, reps);
    free(rf);
    free(ru);
    R.bytes = (double)(kry_lanczos_ws_bytes_reorth(n, K, reorth) +
                       kry_funm_ws_bytes(0, K) + kry_adjoint_ws_bytes(n, K));
    free(tf);
    free(tb);
    free(tu);
    free(vbar);
    free(a);
    free(ab);
    free(bb);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    kry_adjoint_ws_free(aws);
    problem_free(&P);
    return R;
}

/* ---- Baseline: backpropagation through the unrolled recurrence ----
   The forward pass records every intermediate of every step, as a reverse-mode tape
   would: W1_k = A x_k, W2_k = W1_k - beta_{k-1} x_{k-1}, alpha_k = x_k . W2_k,
   W3_k = W2_k - alpha_k x_k, beta_k = |W3_k|, x_{k+1} = W3_k / beta_k. The backward
   pass applies the vector-Jacobian product of each primitive in reverse order
   (matvec, dot, axpy, norm, scale), each its own pass over memory, with the same fused
   product for A^T w1bar and the theta-gradient as the kry adjoint. Tape: (4K+1) n. */

typedef struct tape {
    size_t n, K;
    double *X, *W1, *W2, *W3; /* (K+1) n, K n, K n, K n */
    double *alpha, *beta;
} tape;

static void tape_forward(const problem *P, tape *T, double *ell)
{
    const size_t n = T->n, K = T->K;
    const int in = (int)n;
    double l = cblas_dnrm2(in, P->v, 1);
    *ell = l;
    for (size_t i = 0; i < n; ++i)
        T->X[i] = P->v[i] / l;
    for (size_t k = 0; k < K; ++k) {
        double *x = T->X + k * n, *w1 = T->W1 + k * n, *w2 = T->W2 + k * n,
               *w3 = T->W3 + k * n;
        if (P->A.matvec(P->A.ctx, x, w1) != 0)
            fail("tape matvec", KRY_ECALLBACK);
        cblas_dcopy(in, w1, 1, w2, 1);
        if (k > 0)
            cblas_daxpy(in, -T->beta[k - 1], x - n, 1, w2, 1);
        double a = cblas_ddot(in, x, 1, w2, 1);
        cblas_dcopy(in, w2, 1, w3, 1);
        cblas_daxpy(in, -a, x, 1, w3, 1);
        double b = cblas_dnrm2(in, w3, 1);
        T->alpha[k] = a;
        T->beta[k] = b;
        double *xn = T->X + (k + 1) * n;
        cblas_dcopy(in, w3, 1, xn, 1);
        cblas_dscal(in, 1.0 / b, xn, 1);
    }
}

/* Reverse pass for cotangents ab (alpha), bb (beta) and no x cotangents; returns
   theta_bar in g and the x_0 cotangent's contribution to v_bar. */
static void tape_backward(const problem *P, const tape *T, double l, const double *ab_in,
                          const double *bb_in, double *g, double *vbar, double *scratch)
{
    const size_t n = T->n, K = T->K;
    const int in = (int)n;
    double *xb_next = scratch, *xb_cur = scratch + n, *xb_prev = scratch + 2 * n;
    double *w3b = scratch + 3 * n, *w2b = scratch + 4 * n, *u = scratch + 5 * n;
    double *ab = scratch + 6 * n, *bb = ab + K; /* accumulated scalar cotangents */
    memcpy(ab, ab_in, K * sizeof(double));
    memcpy(bb, bb_in, K * sizeof(double));
    memset(xb_next, 0, n * sizeof(double)); /* xbar_K = 0 */
    memset(xb_cur, 0, n * sizeof(double));
    for (size_t k = K; k-- > 0;) {
        const double *x = T->X + k * n, *w2 = T->W2 + k * n, *w3 = T->W3 + k * n;
        const double a = T->alpha[k], b = T->beta[k];
        memset(xb_prev, 0, n * sizeof(double));
        /* x_{k+1} = w3 / b */
        cblas_dcopy(in, xb_next, 1, w3b, 1);
        cblas_dscal(in, 1.0 / b, w3b, 1);
        bb[k] -= cblas_ddot(in, xb_next, 1, w3, 1) / (b * b);
        /* b = |w3| */
        cblas_daxpy(in, bb[k] / b, w3, 1, w3b, 1);
        /* w3 = w2 - a x */
        cblas_dcopy(in, w3b, 1, w2b, 1);
        ab[k] -= cblas_ddot(in, w3b, 1, x, 1);
        cblas_daxpy(in, -a, w3b, 1, xb_cur, 1);
        /* a = x . w2 */
        cblas_daxpy(in, ab[k], w2, 1, xb_cur, 1);
        cblas_daxpy(in, ab[k], x, 1, w2b, 1);
        /* w2 = w1 - beta_{k-1} x_{k-1} (w1bar = w2bar) */
        if (k > 0) {
            bb[k - 1] -= cblas_ddot(in, w2b, 1, x - n, 1);
            cblas_daxpy(in, -T->beta[k - 1], w2b, 1, xb_prev, 1);
        }
        /* w1 = A x: xbar += A^T w1bar, theta_bar += d(w1bar^T A x) */
        if (kry_affine_matvec_vjp(P->A.ctx, w2b, x, u, g) != 0)
            fail("tape vjp", KRY_ECALLBACK);
        cblas_daxpy(in, 1.0, u, 1, xb_cur, 1);
        /* shift: x_k's cotangent is complete */
        double *t = xb_next;
        xb_next = xb_cur;
        xb_cur = xb_prev;
        xb_prev = t;
    }
    /* x_0 = v / l */
    double c = cblas_ddot(in, T->X, 1, xb_next, 1);
    for (size_t i = 0; i < n; ++i)
        vbar[i] += (xb_next[i] - c * T->X[i]) / l;
}

static result run_tape(size_t m, size_t K, int reps)
{
    problem P;
    problem_init(&P, m);
    const size_t n = P.n;
    tape T = {n, K, NULL, NULL, NULL, NULL, NULL, NULL};
    T.X = xmalloc((K + 1) * n * sizeof(double));
    T.W1 = xmalloc(K * n * sizeof(double));
    T.W2 = xmalloc(K * n * sizeof(double));
    T.W3 = xmalloc(K * n * sizeof(double));
    T.alpha = xmalloc(K * sizeof(double));
    T.beta = xmalloc(K * sizeof(double));
    double *scratch = xmalloc((6 * n + 2 * K) * sizeof(double));
    double *vbar = xmalloc(n * sizeof(double)), *a = xmalloc(K * sizeof(double));
    double *ab = xmalloc(K * sizeof(double)), *bb = xmalloc(K * sizeof(double));
    kry_funm_ws *fws = kry_funm_ws_alloc(0, K);
    kry_funm_fn f = kry_funm_log();
    double *tf = xmalloc(reps * sizeof(double)), *tb = xmalloc(reps * sizeof(double));
    result R;
    memset(&R, 0, sizeof R);
    for (int rep = 0; rep < reps; ++rep) {
        double t0 = now(), l, quad;
        tape_forward(&P, &T, &l);
        kry_status st = kry_funm_tridiag(fws, K, T.alpha, T.beta, &f, &quad, NULL);
        if (st != KRY_OK)
            fail("tape quadrature", st);
        double t1 = now();
        memset(a, 0, K * sizeof(double));
        a[0] = l * l;
        if ((st = kry_funm_tridiag_vjp(fws, a, NULL, ab, bb)) != KRY_OK)
            fail("tape Daleckii-Krein", st);
        bb[K - 1] = 0.0;
        double g[2] = {0.0, 0.0};
        memset(vbar, 0, n * sizeof(double));
        tape_backward(&P, &T, l, ab, bb, g, vbar, scratch);
        cblas_daxpy((int)n, 2.0 * quad, P.v, 1, vbar, 1);
        double t2 = now();
        tf[rep] = t1 - t0;
        tb[rep] = t2 - t1;
        R.value = l * l * quad;
        R.g0 = g[0];
        R.g1 = g[1];
    }
    R.fwd = median(tf, reps);
    R.bwd = median(tb, reps);
    R.bytes = (double)(((4 * K + 1) * n + 6 * n + 4 * K) * sizeof(double) +
                       kry_funm_ws_bytes(0, K));
    free(tf);
    free(tb);
    free(T.X);
    free(T.W1);
    free(T.W2);
    free(T.W3);
    free(T.alpha);
    free(T.beta);
    free(scratch);
    free(vbar);
    free(a);
    free(ab);
    free(bb);
    kry_funm_ws_free(fws);
    problem_free(&P);
    return R;
}

/* ---- Dense reference: eigen-decomposition (dsyevd) and the Daleckii-Krein gradient
   G = U (F o c c^T) U^T, theta_bar = (<G, L>, tr G). O(n^3). ---- */

static result run_dense(size_t m, int reps)
{
    problem P;
    problem_init(&P, m);
    const size_t n = P.n;
    double *A = xmalloc(n * n * sizeof(double)), *U = xmalloc(n * n * sizeof(double));
    double *M = xmalloc(n * n * sizeof(double)), *G = xmalloc(n * n * sizeof(double));
    double *lam = xmalloc(n * sizeof(double)), *c = xmalloc(n * sizeof(double));
    double *tf = xmalloc(reps * sizeof(double));
    kry_funm_fn f = kry_funm_log();
    result R;
    memset(&R, 0, sizeof R);
    for (int rep = 0; rep < reps; ++rep) {
        double t0 = now();
        memset(A, 0, n * n * sizeof(double));
        for (size_t i = 0; i < n; ++i) {
            for (size_t q = P.L->rowptr[i]; q < P.L->rowptr[i + 1]; ++q)
                A[i * n + P.L->colind[q]] = P.theta[0] * P.L->val[q];
            A[i * n + i] += P.theta[1];
        }
        memcpy(U, A, n * n * sizeof(double));
        if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (int)n, U, (int)n, lam) != 0)
            fail("dsyevd", KRY_ELAPACK);
        cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)n, 1.0, U, (int)n, P.v, 1, 0.0, c,
                    1);
        double val = 0.0;
        for (size_t i = 0; i < n; ++i)
            val += log(lam[i]) * c[i] * c[i];
        for (size_t j = 0; j < n; ++j)
            for (size_t i = 0; i < n; ++i) {
                double F;
                if (kry_funm_divdiff(&f, lam[i], lam[j], &F) != KRY_OK)
                    fail("divdiff", KRY_EDOMAIN);
                M[i + j * n] = F * c[i] * c[j];
            }
        /* G = U M U^T */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, U,
                    (int)n, M, (int)n, 0.0, A, (int)n);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0, A,
                    (int)n, U, (int)n, 0.0, G, (int)n);
        double g0 = 0.0, g1 = 0.0;
        for (size_t i = 0; i < n; ++i) {
            for (size_t q = P.L->rowptr[i]; q < P.L->rowptr[i + 1]; ++q)
                g0 += G[i + (size_t)P.L->colind[q] * n] * P.L->val[q];
            g1 += G[i + i * n];
        }
        tf[rep] = now() - t0;
        R.value = val;
        R.g0 = g0;
        R.g1 = g1;
    }
    R.fwd = median(tf, reps);
    R.bytes = (double)(4 * n * n * sizeof(double));
    free(A);
    free(U);
    free(M);
    free(G);
    free(lam);
    free(c);
    free(tf);
    problem_free(&P);
    return R;
}

/* ---- Driver: one forked child per measurement ---- */

/* x formatted with %.3f into buf, or "null" when x is not finite (JSON). */
static const char *fmt_or_null(char *buf, double x)
{
    if (isfinite(x))
        snprintf(buf, 32, "%.3f", x);
    else
        snprintf(buf, 32, "null");
    return buf;
}

enum job { JOB_KRY, JOB_KRY_FULL, JOB_TAPE, JOB_DENSE };

/* Runs job in a child; returns its result and the child's peak RSS in MB. */
static result in_child(enum job job, size_t m, size_t K, int reps, double *rss_mb)
{
    int fd[2];
    if (pipe(fd) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(fd[0]);
        openblas_set_num_threads(1);
        result R = job == JOB_KRY      ? run_kry(m, K, reps, KRY_REORTH_NONE) :
                   job == JOB_KRY_FULL ? run_kry(m, K, reps, KRY_REORTH_FULL) :
                   job == JOB_TAPE     ? run_tape(m, K, reps) :
                                         run_dense(m, reps);
        struct rusage self;
        R.rss_mb = getrusage(RUSAGE_SELF, &self) == 0 ? (double)self.ru_maxrss / 1024.0 : NAN;
        ssize_t w = write(fd[1], &R, sizeof R);
        _exit(w == (ssize_t)sizeof R ? 0 : 3);
    }
    close(fd[1]);
    result R;
    memset(&R, 0, sizeof R);
    ssize_t got = read(fd[0], &R, sizeof R);
    close(fd[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        got != (ssize_t)sizeof R) {
        fprintf(stderr, "bench_adjoint: child for m = %zu, K = %zu failed\n", m, K);
        exit(2);
    }
    *rss_mb = R.rss_mb;
    return R;
}

int main(int argc, char **argv)
{
    size_t max_n = 1000000;
    int reps = 5;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--max-n") == 0 && i + 1 < argc)
            max_n = (size_t)strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_adjoint [--max-n N] [--reps R]\n");
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    static const size_t grids[] = {100, 316, 1000}; /* n = 1e4, 99856, 1e6 */
    static const size_t steps[] = {10, 50, 150};
    const double tape_cap = 2.5e9; /* bytes: skip the baseline above this */
    printf("# bench_adjoint: v^T log(A) v and its gradient in theta, A = theta_0 L + "
           "theta_1 I (2-D Laplacian), reorth none\n");
    double load[3] = {NAN, NAN, NAN};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la != NULL) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = NAN;
        fclose(la);
    }
    printf("# command: bench_adjoint --max-n %zu --reps %d ; medians; OpenBLAS 1 thread; "
           "load average %.2f %.2f %.2f on %ld cores\n",
           max_n, reps, load[0], load[1], load[2], sysconf(_SC_NPROCESSORS_ONLN));
    printf("# columns: kry forward and backward seconds, backward/forward (fused product;\n"
           "#   unfused: matvec + param_vjp), MB the kry workspaces allocate, MB of the basis\n"
           "#   (K+1) n alone, peak RSS of the child; the unrolled tape's forward and backward\n"
           "#   seconds, its backward over the *kry* forward, tape MB, its RSS; relative\n"
           "#   difference of the two theta-gradients. Tape skipped above 2.5 GB.\n");
    printf("# %8s %4s | %9s %9s %7s %7s | %8s %8s %7s | %9s %9s %7s %8s %7s | %8s\n", "n",
           "K", "fwd_s", "bwd_s", "bwd/fwd", "unfused", "alloc_MB", "(K+1)n", "rss_MB",
           "tape_fwd", "tape_bwd", "t_b/fwd", "tape_MB", "rss_MB", "grad_diff");
    char json[8192];
    size_t jl = (size_t)snprintf(json, sizeof json,
                                 "{\"bench\": \"adjoint\", \"backward_over_forward\": [");
    int first = 1;
    for (size_t gi = 0; gi < 3; ++gi) {
        const size_t m = grids[gi], n = m * m;
        if (n > max_n)
            continue;
        /* More repetitions where they are cheap, few at n = 1e6. */
        const int r = n >= 1000000 ? (reps < 3 ? reps : 3) : n >= 100000 ? 2 * reps : 4 * reps;
        for (size_t ki = 0; ki < 3; ++ki) {
            const size_t K = steps[ki];
            double rss, trss = NAN;
            result R = in_child(JOB_KRY, m, K, r, &rss);
            const double basis_mb = (double)((K + 1) * n * sizeof(double)) / 1048576.0;
            result TR;
            memset(&TR, 0, sizeof TR);
            TR.fwd = TR.bwd = TR.bytes = NAN;
            double gd = NAN;
            if ((double)((4 * K + 7) * n * sizeof(double)) <= tape_cap) {
                TR = in_child(JOB_TAPE, m, K, r, &trss);
                gd = fmax(fabs(TR.g0 - R.g0) / fabs(R.g0), fabs(TR.g1 - R.g1) / fabs(R.g1));
            }
            printf("  %8zu %4zu | %9.4f %9.4f %7.3f %7.3f | %8.1f %8.1f %7.1f | %9.4f %9.4f "
                   "%7.3f %8.1f %7.1f | %8.1e\n",
                   n, K, R.fwd, R.bwd, R.ratio, R.ratio_unfused,
                   R.bytes / 1048576.0, basis_mb, rss, TR.fwd, TR.bwd, TR.bwd / R.fwd,
                   TR.bytes / 1048576.0, trss, gd);
            char b1[32], b2[32];
            fflush(stdout);
            jl += (size_t)snprintf(json + jl, sizeof json - jl,
                                   "%s{\"n\": %zu, \"K\": %zu, \"ratio\": %.3f, "
                                   "\"unfused_ratio\": %.3f, \"unrolled_ratio\": %s, "
                                   "\"alloc_over_basis\": %.3f, \"unrolled_mem_ratio\": %s}",
                                   first ? "" : ", ", n, K, R.ratio, R.ratio_unfused,
                                   fmt_or_null(b1, TR.bwd / R.fwd),
                                   R.bytes / ((double)((K + 1) * n * sizeof(double))),
                                   fmt_or_null(b2, TR.bytes / R.bytes));
            first = 0;
        }
    }
    /* Full reorthogonalisation: CGS2 forward, Arnoldi adjoint with re-projection, both
       O(n K^2). n up to 1e5. */
    printf("# reorth full: forward with two Gram-Schmidt passes, Arnoldi adjoint with "
           "re-projection\n");
    printf("# %8s %4s | %9s %9s %7s | %8s\n", "n", "K", "fwd_s", "bwd_s", "bwd/fwd",
           "alloc_MB");
    jl += (size_t)snprintf(json + jl, sizeof json - jl, "], \"full_reorth\": [");
    first = 1;
    for (size_t gi = 0; gi < 2; ++gi) {
        const size_t m = grids[gi], n = m * m;
        if (n > max_n)
            continue;
        for (size_t ki = 0; ki < 3; ++ki) {
            const size_t K = steps[ki];
            double rss;
            result R = in_child(JOB_KRY_FULL, m, K, n >= 100000 ? reps : 2 * reps, &rss);
            printf("  %8zu %4zu | %9.4f %9.4f %7.3f | %8.1f\n", n, K, R.fwd, R.bwd, R.ratio,
                   R.bytes / 1048576.0);
            fflush(stdout);
            jl += (size_t)snprintf(json + jl, sizeof json - jl,
                                   "%s{\"n\": %zu, \"K\": %zu, \"ratio\": %.3f}",
                                   first ? "" : ", ", n, K, R.ratio);
            first = 0;
        }
    }
    /* Dense LAPACK gradient vs Lanczos (K = min(50, n) steps, forward + backward). */
    printf("# dense LAPACK gradient (dsyevd + Daleckii-Krein, exact) vs kry (K = min(50, n))\n");
    printf("# %8s | %10s %10s | %s\n", "n", "dense_s", "kry_s", "faster");
    static const size_t dgrids[] = {4, 6, 8, 10, 16, 24, 32, 48};
    size_t crossover = 0;
    for (size_t gi = 0; gi < sizeof dgrids / sizeof *dgrids; ++gi) {
        const size_t m = dgrids[gi], n = m * m, K = n < 50 ? n : 50;
        double rss;
        result D = in_child(JOB_DENSE, m, 0, reps, &rss);
        result R = in_child(JOB_KRY, m, K, reps, &rss);
        const double tk = R.fwd + R.bwd;
        printf("  %8zu | %10.2e %10.2e | %s\n", n, D.fwd, tk, D.fwd < tk ? "dense" : "kry");
        if (crossover == 0 && D.fwd >= tk)
            crossover = n;
    }
    printf("# crossover: kry is faster from n = %zu on (among the sizes tried)\n", crossover);
    jl += (size_t)snprintf(json + jl, sizeof json - jl, "], \"dense_crossover_n\": %zu}",
                           crossover);
    (void)jl;
    puts(json);
    return 0;
}
