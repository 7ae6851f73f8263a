/* bench_hessian.c — HVPs needed for the top-10 eigenvalues of an MLP loss Hessian on real
   data (the `kry hessian` demo model), checked against LAPACK on the dense Hessian.

   Model and data: the digits data set (1797 x 64 pixels scaled by 1/16, 10 classes) from
   $KRY_DATA_DIR or ~/.cache/kry/data (scripts/fetch-data); a 64-16-10 tanh MLP
   initialised from seed 1 and trained for 200 SGD steps (lr 0.1, batch 64, seed 1) on all
   rows, exactly as `kry hessian --steps 200` does. The Hessian is that of the mean
   cross-entropy over the first 500 rows (P = 1210 parameters), at initialisation and
   after training. Reference: the dense Hessian built column by column from exact HVPs,
   symmetrised, all eigenvalues by LAPACKE_dsyevr.

   Methods (all with the exact R-operator HVP; each HVP is one product):
     kry        the thick-restart top-k driver (kry_topk_solve, default basis) with LA
                and the residual test of MATH.md section 3, as `kry hessian` runs it by
                default: tol 1e-4 (the eigenvalue error is then about 1e-8 |lambda|^2 /
                gap), multiplicity check off; the same with the check on (`--verify`);
                the unrestarted Lanczos eigensolver (kry_lanczos_eigs) at the same
                tolerance; a sweep of tolerances of the driver; and the oracle count: the
                fewest Lanczos steps whose top-10 Ritz values are all within 1e-6 relative
                of the reference (not a usable stopping rule: a lower bound for any driver
                built on this Krylov space from this start vector).
     pyhessian  power iteration + deflation as PyHessian's hessian.eigenvalues() does it:
                for each eigenvalue a fresh normal start vector, at every iteration the
                iterate is Gram-Schmidt-orthogonalised against the eigenvectors found so
                far and normalised, v <- Hv/|Hv|, and the iteration stops when the Rayleigh
                quotient changes by less than 1e-3 relative (|l - l_old| / (|l_old| +
                1e-6) < 1e-3) or after 100 iterations. (Written here from that
                description; PyHessian's defaults are maxIter=100, tol=1e-3.)
     residual   the same iteration stopped by the residual instead: |Hv - l v| <= 1e-4 |l|
                (for a Rayleigh quotient, the eigenvalue error is about |r|^2 / gap, so
                this aims at 1e-6-relative eigenvalues when the gap is ~1e-2 |l|), at
                most 2000 iterations per eigenvalue.
   Accuracy: max over the 10 of |computed - reference| / |reference|, matching the i-th
   computed value (sorted descending) with the i-th largest reference eigenvalue. Power
   iteration converges to the eigenvalues of largest magnitude, so for the power methods
   the error against the top-10 by magnitude is reported too (at initialisation the 10th
   largest eigenvalue is smaller than |smallest|, and both differ).

   OpenBLAS threads: 1 (KRY_BENCH_THREADS overrides). Times are wall-clock seconds of one
   run, HVPs included (an HVP on 500 rows costs about a millisecond here).

   Reproduce: ninja -C build && ./build/bench/bench_hessian   (once 'bench_hessian' is in
   the list of bench/meson.build; until then by hand: cc -O2 -std=c11 -D_XOPEN_SOURCE=700
   -Iinclude -Isrc bench/bench_hessian.c build/libkry_static.a -lopenblas -llapacke -lm
   -lpthread -o bench_hessian). Skips with a message (exit 0) when the digits data is
   absent.
   The last line of output is one JSON object with every figure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>

#include "kry/data.h"
#include "kry/lanczos.h"
#include "kry/mlp.h"
#include "kry/ritz.h"
#include "kry/rng.h"
#include "kry/topk.h"

void openblas_set_num_threads(int num_threads); /* OpenBLAS extension (cblas-openblas.h) */

enum { K = 10 };
#define TARGET 1e-6
#define KRY_TOL 1e-4 /* the default --tol of `kry hessian` */
#define PYH_TOL 1e-3
#define PYH_MAXIT 100
#define RES_TOL 1e-4
#define RES_MAXIT 2000
#define HESS_ROWS 500
#define TRAIN_STEPS 200

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct problem {
    kry_mlp *model;
    kry_mlp_ws *ws;
    const double *theta, *X;
    const int *y;
    size_t rows, P;
    size_t hvps;
} problem;

static int hvp(problem *pb, const double *v, double *hv)
{
    pb->hvps++;
    return kry_mlp_hvp(pb->model, pb->theta, pb->X, pb->y, pb->rows, pb->ws, v, hv) != KRY_OK;
}

static int hvp_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    return hvp(ctx, x, y);
}

static double max_rel_err(const double *theta, const double *ref)
{
    double e = 0.0;
    for (size_t i = 0; i < K; ++i)
        e = fmax(e, fabs(theta[i] - ref[i]) / fabs(ref[i]));
    return e;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

typedef struct result {
    size_t hvps;
    double err, err_lm, seconds;
    size_t nconv;
} result;

static int cmp_abs_desc(const void *a, const void *b)
{
    double x = fabs(*(const double *)a), y = fabs(*(const double *)b);
    return (x < y) - (x > y);
}

/* PyHessian-style power iteration with Gram-Schmidt deflation; stop rule by `residual`. */
static int power_deflation(problem *pb, int residual, const double *ref, const double *ref_lm,
                           uint64_t seed, result *out)
{
    size_t P = pb->P;
    double *V = malloc(P * K * sizeof *V), *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv);
    double vals[K];
    if (!V || !v || !hv)
        return 1;
    pb->hvps = 0;
    out->nconv = 0;
    double t0 = now();
    for (size_t j = 0; j < K; ++j) {
        kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, (uint64_t)j * P, P, v);
        cblas_dscal((int)P, 1.0 / cblas_dnrm2((int)P, v, 1), v, 1);
        double lam = NAN;
        int conv = 0;
        size_t maxit = residual ? RES_MAXIT : PYH_MAXIT;
        for (size_t it = 0; it < maxit; ++it) {
            for (size_t i = 0; i < j; ++i) /* orthonormalise against found vectors */
                cblas_daxpy((int)P, -cblas_ddot((int)P, v, 1, V + i * P, 1), V + i * P, 1, v, 1);
            cblas_dscal((int)P, 1.0 / cblas_dnrm2((int)P, v, 1), v, 1);
            if (hvp(pb, v, hv) != 0)
                return 1;
            double l = cblas_ddot((int)P, v, 1, hv, 1);
            int stop;
            if (residual) {
                double r2 = 0.0;
                for (size_t i = 0; i < P; ++i)
                    r2 += (hv[i] - l * v[i]) * (hv[i] - l * v[i]);
                stop = sqrt(r2) <= RES_TOL * fabs(l);
                lam = l;
            } else {
                stop = it > 0 && fabs(lam - l) / (fabs(lam) + 1e-6) < PYH_TOL;
                lam = l;
            }
            memcpy(v, hv, P * sizeof *v);
            cblas_dscal((int)P, 1.0 / cblas_dnrm2((int)P, v, 1), v, 1);
            if (stop) {
                conv = 1;
                break;
            }
        }
        out->nconv += (size_t)conv;
        vals[j] = lam;
        memcpy(V + j * P, v, P * sizeof *v);
    }
    out->seconds = now() - t0;
    out->hvps = pb->hvps;
    qsort(vals, K, sizeof *vals, cmp_abs_desc);
    out->err_lm = max_rel_err(vals, ref_lm);
    qsort(vals, K, sizeof *vals, cmp_desc);
    out->err = max_rel_err(vals, ref);
    free(V);
    free(v);
    free(hv);
    return 0;
}

/* The top-k driver (verify off or on) at tolerance tol, LA. */
static int topk_solve(problem *pb, double tol, int verify, const double *ref, result *out)
{
    size_t P = pb->P;
    kry_operator op;
    if (kry_operator_callback(P, hvp_matvec, pb, &op) != KRY_OK)
        return 1;
    kry_topk_ws *ws = kry_topk_ws_alloc(P, K, 0);
    if (!ws)
        return 1;
    kry_topk_params p = kry_topk_params_default();
    p.tol = tol;
    p.verify = verify;
    p.seed = 1;
    double theta[K];
    kry_topk_result res;
    pb->hvps = 0;
    double t0 = now();
    kry_status st = kry_topk_solve(&op, K, &p, NULL, 0, 0, ws, theta, NULL, 0, NULL, NULL, &res);
    out->seconds = now() - t0;
    kry_topk_ws_free(ws);
    if (st != KRY_OK)
        return 1;
    out->hvps = res.matvecs;
    out->nconv = res.nconv;
    out->err = max_rel_err(theta, ref);
    out->err_lm = NAN;
    return 0;
}

/* The unrestarted Lanczos eigensolver at tolerance tol, LA. */
static int lanczos_solve(problem *pb, double tol, const double *ref, result *out)
{
    size_t P = pb->P, mmax = P < 400 ? P : 400;
    kry_operator op;
    if (kry_operator_callback(P, hvp_matvec, pb, &op) != KRY_OK)
        return 1;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(P, mmax, KRY_REORTH_FULL);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(mmax);
    if (!lws || !rws)
        return 1;
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = mmax;
    p.seed = 1;
    double theta[K];
    kry_eigs_result res;
    pb->hvps = 0;
    double t0 = now();
    kry_status st = kry_lanczos_eigs(&op, K, KRY_WHICH_LA, tol, NULL, &p, lws, rws, theta, NULL,
                                     P, NULL, NULL, &res);
    out->seconds = now() - t0;
    kry_lanczos_ws_free(lws);
    kry_ritz_ws_free(rws);
    if (st != KRY_OK)
        return 1;
    out->hvps = res.matvecs;
    out->nconv = res.nconv;
    out->err = max_rel_err(theta, ref);
    out->err_lm = NAN;
    return 0;
}

/* The fewest Lanczos steps (same start vector) with all top-10 Ritz values within TARGET. */
static int kry_oracle(problem *pb, const double *ref, size_t *steps)
{
    size_t P = pb->P, mmax = P < 400 ? P : 400;
    kry_operator op;
    if (kry_operator_callback(P, hvp_matvec, pb, &op) != KRY_OK)
        return 1;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(P, mmax, KRY_REORTH_FULL);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(mmax);
    if (!lws || !rws)
        return 1;
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = mmax;
    p.seed = 1;
    int rc = 1;
    *steps = 0;
    if (kry_lanczos_start(lws, &op, NULL, &p) != KRY_OK)
        goto done;
    for (size_t m = 1; m <= mmax; ++m) {
        if (kry_lanczos_step(lws, &op) != KRY_OK)
            goto done;
        if (m < K)
            continue;
        double theta[K];
        if (kry_ritz_pairs(lws, rws, K, KRY_WHICH_LA, 0.0, theta, NULL, 0, NULL, NULL) != KRY_OK)
            goto done;
        if (max_rel_err(theta, ref) <= TARGET) {
            *steps = m;
            break;
        }
    }
    rc = 0;
done:
    kry_lanczos_ws_free(lws);
    kry_ritz_ws_free(rws);
    return rc;
}

static const double sweep_tols[] = {1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10};
#define NSWEEP (sizeof sweep_tols / sizeof *sweep_tols)

typedef struct point {
    const char *name;
    double lam[K], lam_lm[K], lam_min, loss;
    result kry, kry_verify, lanczos, pyh, res, sweep[NSWEEP];
    size_t oracle;
    double t_dense;
} point;

static int run_point(problem *pb, point *pt)
{
    size_t P = pb->P;
    double *H = malloc(P * P * sizeof *H), *w = malloc(P * sizeof *w);
    lapack_int *isuppz = malloc(2 * P * sizeof *isuppz);
    if (!H || !w || !isuppz)
        return 1;
    if (kry_mlp_loss(pb->model, pb->theta, pb->X, pb->y, pb->rows, pb->ws, &pt->loss) != KRY_OK)
        return 1;
    double t0 = now();
    if (kry_mlp_dense_hessian(pb->model, pb->theta, pb->X, pb->y, pb->rows, pb->ws, H, P) !=
        KRY_OK)
        return 1;
    for (size_t i = 0; i < P; ++i)
        for (size_t j = i + 1; j < P; ++j)
            H[i * P + j] = H[j * P + i] = 0.5 * (H[i * P + j] + H[j * P + i]);
    lapack_int found;
    double dummy;
    if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'N', 'A', 'U', (lapack_int)P, H, (lapack_int)P, 0, 0, 0,
                       0, 0.0, &found, w, &dummy, 1, isuppz) != 0)
        return 1;
    pt->t_dense = now() - t0;
    for (size_t i = 0; i < K; ++i)
        pt->lam[i] = w[P - 1 - i];
    for (size_t i = 0, lo = 0, hi = P - 1; i < K; ++i)
        pt->lam_lm[i] = fabs(w[lo]) > fabs(w[hi]) ? w[lo++] : w[hi--];
    pt->lam_min = w[0];
    free(H);
    free(w);
    free(isuppz);
    for (size_t i = 0; i < NSWEEP; ++i)
        if (topk_solve(pb, sweep_tols[i], 0, pt->lam, &pt->sweep[i]))
            return 1;
    if (topk_solve(pb, KRY_TOL, 0, pt->lam, &pt->kry) ||
        topk_solve(pb, KRY_TOL, 1, pt->lam, &pt->kry_verify) ||
        lanczos_solve(pb, KRY_TOL, pt->lam, &pt->lanczos) ||
        kry_oracle(pb, pt->lam, &pt->oracle) ||
        power_deflation(pb, 0, pt->lam, pt->lam_lm, 11, &pt->pyh) ||
        power_deflation(pb, 1, pt->lam, pt->lam_lm, 11, &pt->res))
        return 1;
    return 0;
}

static void print_point(const point *pt)
{
    printf("\n%s: loss %.6f, top-10 eigenvalues (LAPACK):", pt->name, pt->loss);
    for (size_t i = 0; i < K; ++i)
        printf(" %.6g", pt->lam[i]);
    printf("\n  smallest eigenvalue %.6g; dense Hessian (P HVPs) + dsyevr %.3f s\n",
           pt->lam_min, pt->t_dense);
    printf("  %-38s %6s %11s %11s %9s %6s\n", "method", "HVPs", "relerr(LA)", "relerr(LM)",
           "seconds", "conv");
    printf("  %-38s %6zu %11.2e %11s %9.4f %3zu/%d\n", "kry topk, tol 1e-4 (CLI default)",
           pt->kry.hvps, pt->kry.err, "-", pt->kry.seconds, pt->kry.nconv, K);
    printf("  %-38s %6zu %11.2e %11s %9.4f %3zu/%d\n", "kry topk + multiplicity check",
           pt->kry_verify.hvps, pt->kry_verify.err, "-", pt->kry_verify.seconds,
           pt->kry_verify.nconv, K);
    printf("  %-38s %6zu %11.2e %11s %9.4f %3zu/%d\n", "kry unrestarted lanczos, tol 1e-4",
           pt->lanczos.hvps, pt->lanczos.err, "-", pt->lanczos.seconds, pt->lanczos.nconv, K);
    printf("  %-38s %6zu %11s %11s %9s %6s\n", "kry lanczos oracle: 1e-6 first reached",
           pt->oracle, "<= 1e-6", "-", "-", "-");
    printf("  %-38s %6zu %11.2e %11.2e %9.4f %3zu/%d\n", "pyhessian power (rel change 1e-3, 100)",
           pt->pyh.hvps, pt->pyh.err, pt->pyh.err_lm, pt->pyh.seconds, pt->pyh.nconv, K);
    printf("  %-38s %6zu %11.2e %11.2e %9.4f %3zu/%d\n", "power, residual stop 1e-4 (max 2000)",
           pt->res.hvps, pt->res.err, pt->res.err_lm, pt->res.seconds, pt->res.nconv, K);
    printf("  kry topk tolerance sweep (tol: HVPs, relerr):");
    for (size_t i = 0; i < NSWEEP; ++i)
        printf("%s %.0e: %zu, %.1e", i ? ";" : "", sweep_tols[i], pt->sweep[i].hvps,
               pt->sweep[i].err);
    putchar('\n');
}

static void json_result(const char *name, const result *r)
{
    printf("\"%s\":{\"hvps\":%zu,\"max_rel_err\":%.3e,", name, r->hvps, r->err);
    if (!isnan(r->err_lm))
        printf("\"max_rel_err_vs_lm\":%.3e,", r->err_lm);
    printf("\"seconds\":%.4f,\"converged\":%zu}", r->seconds, r->nconv);
}

int main(void)
{
    int threads = getenv("KRY_BENCH_THREADS") ? atoi(getenv("KRY_BENCH_THREADS")) : 1;
    openblas_set_num_threads(threads < 1 ? 1 : threads);
    char path[2048];
    const char *dir = getenv("KRY_DATA_DIR");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/digits.csv", dir);
    else
        snprintf(path, sizeof path, "%s/.cache/kry/data/digits.csv",
                 getenv("HOME") ? getenv("HOME") : ".");
    if (access(path, R_OK) != 0) {
        printf("bench_hessian: skipped: %s not found (fetch it with scripts/fetch-data)\n", path);
        return 0;
    }
    kry_table t;
    kry_data_error err;
    if (kry_data_load_csv(path, NULL, &t, &err) != KRY_OK || t.cols != 65) {
        fprintf(stderr, "bench_hessian: %s: %s\n", path, err.msg);
        return 1;
    }
    size_t N = t.rows, D = 64;
    double *X = malloc(N * D * sizeof *X);
    int *y = malloc(N * sizeof *y);
    for (size_t r = 0; r < N; ++r) {
        for (size_t c = 0; c < D; ++c)
            X[r * D + c] = t.v[r * 65 + c] / 16.0;
        y[r] = (int)t.v[r * 65 + 64];
    }
    kry_table_free(&t);

    size_t sizes[3] = {64, 16, 10};
    kry_mlp *model = NULL;
    kry_mlp_ws *ws = NULL, *tws = NULL;
    kry_mlp_trainer *tr = NULL;
    if (kry_mlp_alloc(3, sizes, NULL, &model) != KRY_OK ||
        kry_mlp_ws_alloc(model, HESS_ROWS, &ws) != KRY_OK ||
        kry_mlp_ws_alloc(model, 64, &tws) != KRY_OK)
        return 1;
    size_t P = kry_mlp_n_params(model);
    double *theta = malloc(P * sizeof *theta);
    if (kry_mlp_init_params(model, 1, theta) != KRY_OK)
        return 1;
    kry_mlp_train_params tp = kry_mlp_train_params_default();
    tp.lr = 0.1;
    tp.batch = 64;
    tp.seed = 1;
    if (kry_mlp_trainer_alloc(model, &tp, &tr) != KRY_OK)
        return 1;
    problem pb = {model, ws, theta, X, y, HESS_ROWS, P, 0};
    printf("bench_hessian: digits %zu x %zu, MLP 64-16-10 tanh, P = %zu, Hessian of the mean "
           "loss over the first %d rows; top-%d (LA) to %.0e relative; OpenBLAS threads %d\n",
           N, D, P, HESS_ROWS, K, TARGET, threads);
    point pts[2] = {{.name = "init"}, {.name = "trained (200 SGD steps, lr 0.1, batch 64)"}};
    if (run_point(&pb, &pts[0]) != 0)
        return 1;
    print_point(&pts[0]);
    fflush(stdout);
    for (size_t s = 0; s < TRAIN_STEPS; ++s)
        if (kry_mlp_trainer_step(tr, theta, X, y, N, tws, NULL) != KRY_OK)
            return 1;
    if (run_point(&pb, &pts[1]) != 0)
        return 1;
    print_point(&pts[1]);

    printf("{\"bench\":\"hessian\",\"data\":\"digits\",\"model\":\"64-16-10 tanh\",\"P\":%zu,"
           "\"hessian_rows\":%d,\"k\":%d,\"target_rel\":%.0e,\"threads\":%d,\"points\":[",
           P, HESS_ROWS, K, TARGET, threads);
    for (int i = 0; i < 2; ++i) {
        const point *pt = &pts[i];
        printf("%s{\"point\":\"%s\",\"loss\":%.6f,\"lambda_max\":%.6g,\"lambda_10\":%.6g,", i ? "," : "",
               i ? "trained" : "init", pt->loss, pt->lam[0], pt->lam[K - 1]);
        json_result("kry", &pt->kry);
        printf(",");
        json_result("kry_verify", &pt->kry_verify);
        printf(",");
        json_result("kry_lanczos_unrestarted", &pt->lanczos);
        printf(",\"kry_oracle_hvps\":%zu,\"kry_sweep\":[", pt->oracle);
        for (size_t j = 0; j < NSWEEP; ++j)
            printf("%s{\"tol\":%.0e,\"hvps\":%zu,\"max_rel_err\":%.3e}", j ? "," : "",
                   sweep_tols[j], pt->sweep[j].hvps, pt->sweep[j].err);
        printf("],");
        json_result("pyhessian", &pt->pyh);
        printf(",");
        json_result("power_residual", &pt->res);
        printf(",\"hvp_ratio_pyhessian_over_kry\":%.2f,\"hvp_ratio_residual_over_kry\":%.2f}",
               (double)pt->pyh.hvps / (double)pt->kry.hvps,
               (double)pt->res.hvps / (double)pt->kry.hvps);
    }
    printf("]}\n");
    kry_mlp_trainer_free(tr);
    kry_mlp_ws_free(ws);
    kry_mlp_ws_free(tws);
    kry_mlp_free(model);
    free(theta);
    free(X);
    free(y);
    return 0;
}
