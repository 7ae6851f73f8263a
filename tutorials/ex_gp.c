/* ex_gp.c — worked application: Gaussian-process model selection with stochastic Lanczos
   quadrature and the Lanczos adjoint (kry/funm.h, kry/adjoint.h; MATH.md sections 6-7).

   The model. Targets y (n values) at inputs x_i (d features) are modelled as
   y ~ N(0, K(theta)) with the RBF kernel plus noise

       K_ij = s^2 exp(-|x_i - x_j|^2 / (2 l^2)) + sigma^2 delta_ij,
       theta = (log l, log s, log sigma)   (logs keep the three positive).

   Model selection maximises the log marginal likelihood

       LML(theta) = -1/2 y^T K^{-1} y - 1/2 log det K - n/2 log(2 pi).

   With kry, both terms are Lanczos quantities of the operator K(theta):
   - y^T K^{-1} y = y^T f(K) y with f(x) = 1/x: Gauss quadrature on the Lanczos
     tridiagonal (kry_adjoint_quadform), with its exact theta-gradient;
   - log det K = tr log K by SLQ with Rademacher probes (kry_adjoint_slq), with the exact
     gradient of the estimate (probe by probe: forward, backward, accumulate).
   The operator is user-defined: a struct with a matvec, a param_vjp giving
   d(w^T K(theta) u)/d(theta), and a fused product for the backward sweep that forms
   the kernel row once for both K w and the three derivatives. Everything is checked
   against a dense Cholesky factorisation (LAPACK dpotrf/dpotri): the value, the
   gradient, and the gradient of the SLQ estimate against central differences of the
   same estimate. Then a few steps of gradient ascent with backtracking on the kry
   objective, monitored by the exact LML.

   Data: scikit-learn's diabetes set (442 patients, 10 features, disease progression),
   from Debian's python3-sklearn via scripts/fetch-data into $KRY_DATA_DIR (default
   ~/.cache/kry/data). If the files are missing, the program says so and uses a
   synthetic regression set of the same shape instead (unless --require-data).

   Usage: ex_gp [--small] [--quiet] [--require-data]. --small (the test suite) uses
   the first 120 rows. Exit status nonzero when a check fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>

#include "kry/adjoint.h"
#include "kry/data.h"
#include "kry/funm.h"
#include "kry/kry.h"

/* ---- The kernel operator (user-defined, with parameter gradients) ---- */

typedef struct gp_kernel {
    size_t n;
    double *D2;      /* n x n squared distances |x_i - x_j|^2 */
    double *Kf;      /* n x n s^2 exp(-D2 / (2 l^2)), the noise-free kernel */
    double ell, s2, sig2;
} gp_kernel;

static void gp_set_theta(gp_kernel *g, const double *theta)
{
    g->ell = exp(theta[0]);
    g->s2 = exp(2.0 * theta[1]);
    g->sig2 = exp(2.0 * theta[2]);
    const double c = -0.5 / (g->ell * g->ell);
    for (size_t i = 0; i < g->n * g->n; ++i)
        g->Kf[i] = g->s2 * exp(c * g->D2[i]);
}

/* y = K x. */
static int gp_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const gp_kernel *g = ctx;
    const int n = (int)g->n;
    cblas_dsymv(CblasRowMajor, CblasUpper, n, 1.0, g->Kf, n, x, 1, 0.0, y, 1);
    cblas_daxpy(n, g->sig2, x, 1, y, 1);
    return 0;
}

/* grad += d(w^T K u)/d(log l, log s, log sigma):
   dK/dlog l = Kf o D2 / l^2, dK/dlog s = 2 Kf, dK/dlog sigma = 2 sigma^2 I. */
static int gp_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                        double *restrict grad)
{
    const gp_kernel *g = ctx;
    const size_t n = g->n;
    double gl = 0.0, gs = 0.0, gn = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double *k = g->Kf + i * n, *d = g->D2 + i * n;
        double rl = 0.0, rs = 0.0;
        for (size_t j = 0; j < n; ++j) {
            double t = k[j] * u[j];
            rs += t;
            rl += t * d[j];
        }
        gl += w[i] * rl;
        gs += w[i] * rs;
        gn += w[i] * u[i];
    }
    grad[0] += gl / (g->ell * g->ell);
    grad[1] += 2.0 * gs;
    grad[2] += 2.0 * g->sig2 * gn;
    return 0;
}

/* The fused product of the backward sweep: u = K w and grad += d(w^T K x)/d(theta), one
   pass over the kernel (K symmetric, so row i serves both). */
static int gp_matvec_vjp(void *ctx, const double *restrict w, const double *restrict x,
                         double *restrict u, double *restrict grad)
{
    const gp_kernel *g = ctx;
    const size_t n = g->n;
    double gl = 0.0, gs = 0.0, gn = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double *k = g->Kf + i * n, *d = g->D2 + i * n;
        double kw = 0.0, rl = 0.0, rs = 0.0;
        for (size_t j = 0; j < n; ++j) {
            kw += k[j] * w[j];
            double t = k[j] * x[j];
            rs += t;
            rl += t * d[j];
        }
        u[i] = kw + g->sig2 * w[i];
        gl += w[i] * rl;
        gs += w[i] * rs;
        gn += w[i] * x[i];
    }
    grad[0] += gl / (g->ell * g->ell);
    grad[1] += 2.0 * gs;
    grad[2] += 2.0 * g->sig2 * gn;
    return 0;
}

/* ---- Data ---- */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "ex_gp: out of memory\n");
        exit(2);
    }
    return p;
}

/* Loads the diabetes set (X n x d row-major, y n). Returns 0, or -1 when the files are
   absent (message printed), or exits on a malformed file. The loader call is isolated
   here: any other CSV data set can be swapped in. */
static int load_diabetes(double **X, double **y, size_t *n, size_t *d)
{
    const char *env = getenv("KRY_DATA_DIR");
    char dir[1024], px[1200], py[1200];
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "%s/.cache/kry/data", getenv("HOME") ? getenv("HOME") : ".");
    snprintf(px, sizeof px, "%s/diabetes_data_raw.csv", dir);
    snprintf(py, sizeof py, "%s/diabetes_target.csv", dir);
    if (access(px, R_OK) != 0 || access(py, R_OK) != 0) {
        printf("note: %s not found (fetch it with scripts/fetch-data)\n", px);
        return -1;
    }
    kry_csv_params cp = kry_csv_params_default();
    cp.delim = ' ';
    kry_table tx = {0, 0, NULL}, ty = {0, 0, NULL};
    kry_data_error err;
    kry_status st = kry_data_load_csv(px, &cp, &tx, &err);
    if (st == KRY_OK)
        st = kry_data_load_csv(py, &cp, &ty, &err);
    if (st != KRY_OK || ty.cols != 1 || ty.rows != tx.rows) {
        fprintf(stderr, "ex_gp: %s\n", st != KRY_OK ? err.msg : "diabetes: shapes disagree");
        exit(2);
    }
    *n = tx.rows;
    *d = tx.cols;
    *X = tx.v;
    *y = ty.v;
    return 0;
}

/* A synthetic regression set of the same shape: y = smooth function of x + noise. */
static void synthetic(size_t n, size_t d, double **X, double **y)
{
    *X = xcalloc(n * d, sizeof(double));
    *y = xcalloc(n, sizeof(double));
    kry_rng_fill_normal(42, KRY_RNG_STREAM_USER, 0, n * d, *X);
    for (size_t i = 0; i < n; ++i) {
        const double *x = *X + i * d;
        (*y)[i] = sin(1.3 * x[0]) + 0.5 * x[1] * x[2] - 0.3 * x[3] +
                  0.3 * kry_rng_normal(42, KRY_RNG_STREAM_USER + 1, i);
    }
}

/* ---- Dense reference by Cholesky ---- */

/* Exact LML and its gradient (may be NULL) at theta, by dpotrf/dpotrs/dpotri on the
   dense K. Returns also y^T K^{-1} y and log det K. */
static double lml_exact(gp_kernel *g, const double *theta, const double *y, double *grad,
                        double *quad, double *logdet)
{
    const size_t n = g->n;
    gp_set_theta(g, theta);
    double *L = xcalloc(n * n, sizeof(double)), *a = xcalloc(n, sizeof(double));
    memcpy(L, g->Kf, n * n * sizeof(double));
    for (size_t i = 0; i < n; ++i)
        L[i * n + i] += g->sig2;
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (int)n, L, (int)n) != 0) {
        fprintf(stderr, "ex_gp: Cholesky failed\n");
        exit(2);
    }
    double ld = 0.0;
    for (size_t i = 0; i < n; ++i)
        ld += 2.0 * log(L[i * n + i]);
    memcpy(a, y, n * sizeof(double));
    if (LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', (int)n, 1, L, (int)n, a, 1) != 0)
        exit(2);
    double q = cblas_ddot((int)n, y, 1, a, 1);
    if (grad != NULL) {
        /* dLML/dtheta_k = 1/2 a^T dK a - 1/2 tr(K^{-1} dK). */
        if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (int)n, L, (int)n) != 0)
            exit(2);
        double tl = 0.0, ts = 0.0, tn = 0.0, ql = 0.0, qs = 0.0;
        for (size_t i = 0; i < n; ++i) {
            for (size_t j = 0; j < n; ++j) {
                double kinv = j <= i ? L[i * n + j] : L[j * n + i];
                double kf = g->Kf[i * n + j], dl = kf * g->D2[i * n + j] / (g->ell * g->ell);
                tl += kinv * dl;
                ts += kinv * 2.0 * kf;
                ql += a[i] * dl * a[j];
                qs += a[i] * 2.0 * kf * a[j];
            }
            tn += L[i * n + i] * 2.0 * g->sig2;
        }
        double qn = 2.0 * g->sig2 * cblas_ddot((int)n, a, 1, a, 1);
        grad[0] = 0.5 * ql - 0.5 * tl;
        grad[1] = 0.5 * qs - 0.5 * ts;
        grad[2] = 0.5 * qn - 0.5 * tn;
    }
    free(L);
    free(a);
    if (quad)
        *quad = q;
    if (logdet)
        *logdet = ld;
    return -0.5 * q - 0.5 * ld - 0.5 * (double)n * log(2.0 * M_PI);
}

/* ---- The kry objective ---- */

typedef struct gp_solver {
    gp_kernel *g;
    kry_operator op;
    const double *y;
    kry_lanczos_params lq; /* quadratic form: many steps, full reorthogonalisation */
    kry_slq_params sp;     /* log det: probes x steps */
    kry_lanczos_ws *lws;
    kry_funm_ws *fws;
    kry_adjoint_ws *aws;
    kry_adjoint_params ap;
    double std_error;      /* of the last log det estimate */
} gp_solver;

/* LML by kry and (grad != NULL) its exact gradient: -1/2 (quad + logdet) - const. */
static double lml_kry(gp_solver *S, const double *theta, double *grad, double *quad,
                      double *logdet)
{
    gp_set_theta(S->g, theta);
    const size_t n = S->g->n;
    kry_funm_fn inv = kry_funm_inv(), lg = kry_funm_log();
    double q, gq[3] = {0, 0, 0}, gl[3] = {0, 0, 0};
    kry_status st = kry_adjoint_quadform(&S->op, &inv, S->y, &S->lq, &S->ap, S->lws, S->fws,
                                         S->aws, &q, grad ? gq : NULL, NULL);
    if (st != KRY_OK) {
        fprintf(stderr, "ex_gp: y^T K^-1 y: %s\n", kry_strerror(st));
        exit(2);
    }
    kry_slq_result r;
    if (grad != NULL)
        st = kry_adjoint_slq(&S->op, &lg, &S->sp, &S->ap, S->lws, S->fws, S->aws, &r, gl);
    else
        st = kry_slq(&S->op, &lg, &S->sp, S->lws, S->fws, &r);
    if (st != KRY_OK) {
        fprintf(stderr, "ex_gp: log det K: %s\n", kry_strerror(st));
        exit(2);
    }
    S->std_error = r.std_error;
    if (grad != NULL)
        for (int k = 0; k < 3; ++k)
            grad[k] = -0.5 * gq[k] - 0.5 * gl[k];
    if (quad)
        *quad = q;
    if (logdet)
        *logdet = r.estimate;
    return -0.5 * q - 0.5 * r.estimate - 0.5 * (double)n * log(2.0 * M_PI);
}

static int check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int small = 0, quiet = 0, require = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--small") == 0)
            small = 1;
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (strcmp(argv[i], "--require-data") == 0)
            require = 1;
        else {
            fprintf(stderr, "usage: ex_gp [--small] [--quiet] [--require-data]\n");
            return 2;
        }
    }
    double *X = NULL, *y = NULL;
    size_t n = 0, d = 0;
    const char *source = "diabetes";
    if (load_diabetes(&X, &y, &n, &d) != 0) {
        if (require)
            return 77; /* the test harness's "skipped" */
        n = 442;
        d = 10;
        synthetic(n, d, &X, &y);
        source = "synthetic (diabetes files absent)";
    }
    if (small && n > 120)
        n = 120;
    /* Standardise the features and the target over the rows used. */
    double *mean = xcalloc(d, sizeof(double)), *sd = xcalloc(d, sizeof(double)), ym, ys;
    if (kry_data_moments(n, d, X, d, NULL, mean, sd) != KRY_OK ||
        kry_data_standardize(n, d, X, d, mean, sd) != KRY_OK ||
        kry_data_moments(n, 1, y, 1, NULL, &ym, &ys) != KRY_OK ||
        kry_data_standardize(n, 1, y, 1, &ym, &ys) != KRY_OK) {
        fprintf(stderr, "ex_gp: standardisation failed\n");
        return 2;
    }
    printf("data: %s, n = %zu, d = %zu\n", source, n, d);

    gp_kernel g = {n, xcalloc(n * n, sizeof(double)), xcalloc(n * n, sizeof(double)), 0, 0, 0};
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (size_t c = 0; c < d; ++c) {
                double t = X[i * d + c] - X[j * d + c];
                s += t * t;
            }
            g.D2[i * n + j] = s;
        }

    gp_solver S;
    memset(&S, 0, sizeof S);
    S.g = &g;
    S.y = y;
    /* A user-defined parameterised operator: n, matvec, param_vjp, n_params, ctx. */
    S.op.n = n;
    S.op.matvec = gp_matvec;
    S.op.param_vjp = gp_param_vjp;
    S.op.n_params = 3;
    S.op.ctx = &g;
    S.ap = kry_adjoint_params_default();
    S.ap.matvec_vjp = gp_matvec_vjp;
    const size_t Kq = small ? 100 : 150, Ks = small ? 30 : 40;
    S.lq = kry_lanczos_params_default();
    S.lq.max_steps = Kq;
    S.sp = kry_slq_params_default();
    S.sp.probes = small ? 24 : 32;
    S.sp.seed = 2385;
    S.sp.lanczos.max_steps = Ks;
    S.lws = kry_lanczos_ws_alloc(n, Kq);
    S.fws = kry_funm_ws_alloc(n, Kq);
    S.aws = kry_adjoint_ws_alloc(n, Kq);
    if (!S.lws || !S.fws || !S.aws) {
        fprintf(stderr, "ex_gp: out of memory\n");
        return 2;
    }
    int fails = 0;

    /* 1. Value and gradient at a starting point, kry vs Cholesky. */
    double theta[3] = {log(2.0), log(0.8), log(0.6)};
    double qe, lde, ge[3], qk, ldk, gk[3];
    double le = lml_exact(&g, theta, y, ge, &qe, &lde);
    double lk = lml_kry(&S, theta, gk, &qk, &ldk);
    printf("at l = %.3f, s = %.3f, sigma = %.3f:\n", exp(theta[0]), exp(theta[1]),
           exp(theta[2]));
    printf("  y^T K^-1 y: kry %.10f  Cholesky %.10f  (rel. %.1e)\n", qk, qe,
           fabs(qk - qe) / qe);
    printf("  log det K : kry %.6f +/- %.3f  Cholesky %.6f\n", ldk, S.std_error, lde);
    printf("  LML       : kry %.6f  Cholesky %.6f\n", lk, le);
    fails += check(fabs(qk - qe) <= 1e-8 * qe, "y^T K^-1 y by Lanczos quadrature to 1e-8");
    fails += check(fabs(ldk - lde) <= 3.0 * S.std_error,
                   "log det K by SLQ within 3 standard errors");
    /* The quadratic-form part of the gradient is deterministic: compare exactly. */
    {
        kry_funm_fn inv = kry_funm_inv();
        double q, gq[3] = {0, 0, 0};
        gp_set_theta(&g, theta);
        if (kry_adjoint_quadform(&S.op, &inv, y, &S.lq, &S.ap, S.lws, S.fws, S.aws, &q, gq,
                                 NULL) != KRY_OK)
            return 2;
        /* Exact: d(y^T K^-1 y) = -a^T dK a, a = K^-1 y; from the Cholesky gradient:
           ge = 1/2 a^T dK a - 1/2 tr(...), so recompute a^T dK a directly. */
        double *a = xcalloc(n, sizeof(double)), *L = xcalloc(n * n, sizeof(double));
        memcpy(L, g.Kf, n * n * sizeof(double));
        for (size_t i = 0; i < n; ++i)
            L[i * n + i] += g.sig2;
        memcpy(a, y, n * sizeof(double));
        if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)n, 1, L, (int)n, a, 1) != 0)
            return 2;
        double ref[3] = {0, 0, 0};
        if (gp_param_vjp(&g, a, a, ref) != 0)
            return 2;
        double worst = 0.0;
        for (int k = 0; k < 3; ++k) {
            worst = fmax(worst, fabs(gq[k] + ref[k]) / fabs(ref[k]));
            if (!quiet)
                printf("  d(y^T K^-1 y)/dtheta_%d: adjoint %+.10e  Cholesky %+.10e\n", k,
                       gq[k], -ref[k]);
        }
        fails += check(worst <= 1e-6, "gradient of y^T K^-1 y = Cholesky gradient (1e-6)");
        free(a);
        free(L);
    }
    /* The SLQ gradient is the exact derivative of the (stochastic) estimate: check
       against central differences of the same estimate (same probes). */
    {
        double worst = 0.0;
        for (int k = 0; k < 3; ++k) {
            const double h = 1e-5;
            double tp[3] = {theta[0], theta[1], theta[2]}, tm[3] = {theta[0], theta[1], theta[2]};
            tp[k] += h;
            tm[k] -= h;
            double fd = (lml_kry(&S, tp, NULL, NULL, NULL) - lml_kry(&S, tm, NULL, NULL, NULL)) /
                        (2 * h);
            worst = fmax(worst, fabs(gk[k] - fd) / fabs(fd));
            if (!quiet)
                printf("  dLML/dtheta_%d: adjoint %+.8e  FD of the kry LML %+.8e  Cholesky "
                       "%+.8e\n",
                       k, gk[k], fd, ge[k]);
        }
        fails += check(worst <= 1e-5,
                       "kry gradient = central differences of the kry LML (1e-5)");
        double dev = 0.0, nrm = 0.0;
        for (int k = 0; k < 3; ++k) {
            dev += (gk[k] - ge[k]) * (gk[k] - ge[k]);
            nrm += ge[k] * ge[k];
        }
        printf("  |grad_kry - grad_exact| / |grad_exact| = %.3f (SLQ sampling error)\n",
               sqrt(dev / nrm));
        fails += check(sqrt(dev / nrm) <= 0.15, "kry gradient within 15 % of the exact one");
    }

    /* 2. Gradient ascent on the kry LML (fixed probes: a smooth objective), with
       backtracking; the exact LML is printed alongside. */
    double step = 0.05, l = lml_kry(&S, theta, gk, NULL, NULL);
    const double le0 = lml_exact(&g, theta, y, NULL, NULL, NULL);
    const int iters = small ? 10 : 20;
    for (int it = 0; it < iters; ++it) {
        double trial[3], lt;
        for (;;) {
            for (int k = 0; k < 3; ++k)
                trial[k] = theta[k] + step * gk[k];
            lt = lml_kry(&S, trial, NULL, NULL, NULL);
            if (lt > l || step < 1e-8)
                break;
            step *= 0.5;
        }
        memcpy(theta, trial, sizeof theta);
        l = lml_kry(&S, theta, gk, NULL, NULL);
        step *= 1.5;
        if (!quiet)
            printf("  step %2d: l = %.4f s = %.4f sigma = %.4f  LML kry %.4f exact %.4f\n", it,
                   exp(theta[0]), exp(theta[1]), exp(theta[2]), l,
                   lml_exact(&g, theta, y, NULL, NULL, NULL));
    }
    double ge_end[3];
    const double le1 = lml_exact(&g, theta, y, ge_end, NULL, NULL);
    double gnorm0 = sqrt(ge[0] * ge[0] + ge[1] * ge[1] + ge[2] * ge[2]);
    double gnorm1 = sqrt(ge_end[0] * ge_end[0] + ge_end[1] * ge_end[1] + ge_end[2] * ge_end[2]);
    printf("after %d ascent steps: l = %.4f, s = %.4f, sigma = %.4f; exact LML %.4f -> %.4f, "
           "|exact gradient| %.3g -> %.3g\n",
           iters, exp(theta[0]), exp(theta[1]), exp(theta[2]), le0, le1, gnorm0, gnorm1);
    fails += check(le1 > le0, "the exact LML increased");
    fails += check(gnorm1 <= 0.25 * gnorm0, "the exact gradient shrank by 4x or more");

    kry_lanczos_ws_free(S.lws);
    kry_funm_ws_free(S.fws);
    kry_adjoint_ws_free(S.aws);
    free(g.D2);
    free(g.Kf);
    free(X);
    free(y);
    free(mean);
    free(sd);
    return fails == 0 ? 0 : 1;
}
