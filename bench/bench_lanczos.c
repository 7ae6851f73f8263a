/* bench_lanczos.c — Lanczos cost outside the matvec, per reorthogonalisation mode.

   Problem: the 2-D Laplacian (5-point stencil, Dirichlet) on a G x G grid, n = G^2,
   applied by a stencil callback written here; m Lanczos steps from the same random
   start vector; default G = 300 (n = 90000), m = 300. Each configuration runs 3 times;
   the median is reported. "Outside" = total time minus the time spent inside the
   matvec callback (timed there with CLOCK_MONOTONIC).

   Reference, measured in the same run: full reorthogonalisation written the textbook
   way, a per-vector modified Gram-Schmidt loop (BLAS-1 ddot/daxpy per basis vector,
   two passes, after the same three-term recurrence). kry's full mode does the same
   arithmetic as classical Gram-Schmidt with dgemv; the ratio is the gain from BLAS-2.

   OpenBLAS threads: 1 by default (set with openblas_set_num_threads; the environment
   variable KRY_BENCH_THREADS overrides), so figures do not depend on the load of the
   machine's other cores.

   Reproduce: ninja -C build && ./build/bench/bench_lanczos [G] [m]
   The last line of output is one JSON object with every figure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "kry/lanczos.h"
#include "kry/rng.h"

void openblas_set_num_threads(int num_threads); /* OpenBLAS extension (cblas-openblas.h) */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct stencil {
    size_t g;         /* grid side */
    double seconds;   /* accumulated time inside the matvec */
    size_t calls;
} stencil;

/* y = A x for the 5-point Laplacian; index of grid point (i, j) is i g + j. */
static int stencil_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    stencil *s = ctx;
    double t0 = now();
    size_t g = s->g;
    for (size_t i = 0; i < g; ++i) {
        const double *xc = x + i * g;
        double *yc = y + i * g;
        for (size_t j = 0; j < g; ++j) {
            double v = 4.0 * xc[j];
            if (j > 0)
                v -= xc[j - 1];
            if (j + 1 < g)
                v -= xc[j + 1];
            if (i > 0)
                v -= xc[j - g];
            if (i + 1 < g)
                v -= xc[j + g];
            yc[j] = v;
        }
    }
    s->seconds += now() - t0;
    s->calls++;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double *v)
{
    qsort(v, 3, sizeof *v, cmp);
    return v[1];
}

/* |Q^T Q - I|_max for Q n x k (dsyrk, upper triangle). */
static double orth_error(size_t n, size_t k, const double *Q, double *G)
{
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)k, (int)n, 1.0, Q, (int)n, 0.0, G,
                (int)k);
    double e = 0.0;
    for (size_t j = 0; j < k; ++j)
        for (size_t i = 0; i <= j; ++i) {
            double v = fabs(G[j * k + i] - (i == j ? 1.0 : 0.0));
            if (v > e)
                e = v;
        }
    return e;
}

/* The reference: recurrence + two per-vector MGS passes. Returns the time outside the
   matvec; Q (n x (m+1)) must be allocated by the caller. */
static double reference_full(stencil *s, const double *v0, size_t n, size_t m, double *Q)
{
    double t0 = now(), mv0 = s->seconds;
    double nrm = cblas_dnrm2((int)n, v0, 1);
    for (size_t i = 0; i < n; ++i)
        Q[i] = v0[i] / nrm;
    double beta_prev = 0.0;
    for (size_t j = 0; j < m; ++j) {
        double *q = Q + j * n, *w = Q + (j + 1) * n;
        stencil_matvec(s, q, w);
        if (j > 0)
            cblas_daxpy((int)n, -beta_prev, q - n, 1, w, 1);
        double a = cblas_ddot((int)n, q, 1, w, 1);
        cblas_daxpy((int)n, -a, q, 1, w, 1);
        for (int pass = 0; pass < 2; ++pass)
            for (size_t i = 0; i <= j; ++i) {
                double h = cblas_ddot((int)n, Q + i * n, 1, w, 1);
                cblas_daxpy((int)n, -h, Q + i * n, 1, w, 1);
            }
        beta_prev = cblas_dnrm2((int)n, w, 1);
        cblas_dscal((int)n, 1.0 / beta_prev, w, 1);
    }
    return (now() - t0) - (s->seconds - mv0);
}

int main(int argc, char **argv)
{
    size_t g = argc > 1 ? strtoul(argv[1], NULL, 10) : 300;
    size_t m = argc > 2 ? strtoul(argv[2], NULL, 10) : 300;
    int threads = getenv("KRY_BENCH_THREADS") ? atoi(getenv("KRY_BENCH_THREADS")) : 1;
    if (g < 2 || m < 2 || m >= g * g || threads < 1) {
        fprintf(stderr, "usage: bench_lanczos [grid side >= 2] [steps, < side^2]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    size_t n = g * g;
    stencil s = {g, 0.0, 0};
    kry_operator op;
    if (kry_operator_callback(n, stencil_matvec, &s, &op) != KRY_OK)
        return 1;
    double *v0 = malloc(n * sizeof *v0), *G = malloc((m + 1) * (m + 1) * sizeof *G);
    if (!v0 || !G)
        return 1;
    kry_rng_fill_normal(2024, KRY_RNG_STREAM_USER, 0, n, v0);

    printf("bench_lanczos: 2-D Laplacian %zu x %zu (n = %zu), %zu steps, median of 3, "
           "OpenBLAS threads %d\n",
           g, g, n, m, threads);
    printf("%-10s %10s %10s %10s %12s %12s\n", "mode", "total_s", "matvec_s", "outside_s",
           "reorth_vecs", "orth_error");
    double outside[KRY_REORTH_COUNT], total[KRY_REORTH_COUNT], orth[KRY_REORTH_COUNT];
    size_t rvec[KRY_REORTH_COUNT];
    double matvec_per_run = 0.0;
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode) {
        kry_lanczos_ws *ws = kry_lanczos_ws_alloc_reorth(n, m, (kry_reorth)mode);
        if (!ws) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        kry_lanczos_params p = kry_lanczos_params_default();
        p.reorth = (kry_reorth)mode;
        p.max_steps = m;
        double tt[3], to[3];
        kry_lanczos_result r;
        for (int rep = 0; rep < 3; ++rep) {
            double mv0 = s.seconds, t0 = now();
            if (kry_lanczos_run(&op, v0, &p, ws, &r) != KRY_OK) {
                fprintf(stderr, "run failed\n");
                return 1;
            }
            tt[rep] = now() - t0;
            to[rep] = tt[rep] - (s.seconds - mv0);
            matvec_per_run = s.seconds - mv0;
        }
        total[mode] = median3(tt);
        outside[mode] = median3(to);
        rvec[mode] = r.reorth_vectors;
        orth[mode] = orth_error(n, r.steps + 1, kry_lanczos_basis(ws, NULL), G);
        printf("%-10s %10.3f %10.3f %10.3f %12zu %12.2e\n", kry_reorth_name((kry_reorth)mode),
               total[mode], total[mode] - outside[mode], outside[mode], rvec[mode],
               orth[mode]);
        kry_lanczos_ws_free(ws);
    }

    double *Q = malloc(n * (m + 1) * sizeof *Q);
    if (!Q)
        return 1;
    double ro[3];
    for (int rep = 0; rep < 3; ++rep)
        ro[rep] = reference_full(&s, v0, n, m, Q);
    double ref = median3(ro);
    double ref_orth = orth_error(n, m + 1, Q, G);
    printf("%-10s %10s %10s %10.3f %12zu %12.2e   (reference: per-vector MGS, BLAS-1)\n",
           "ref-full", "", "", ref, m * (m + 1), ref_orth);
    printf("full / reference outside the matvec: %.3f\n", outside[KRY_REORTH_FULL] / ref);

    printf("{\"bench\":\"lanczos\",\"problem\":\"laplace2d\",\"grid\":%zu,\"n\":%zu,"
           "\"steps\":%zu,\"threads\":%d,\"matvec_s\":%.4f,\"modes\":{",
           g, n, m, threads, matvec_per_run);
    for (int mode = 0; mode < KRY_REORTH_COUNT; ++mode)
        printf("%s\"%s\":{\"total_s\":%.4f,\"outside_s\":%.4f,\"reorth_vectors\":%zu,"
               "\"orth_error\":%.3e}",
               mode ? "," : "", kry_reorth_name((kry_reorth)mode), total[mode], outside[mode],
               rvec[mode], orth[mode]);
    printf("},\"reference_full_mgs_blas1_outside_s\":%.4f,\"reference_orth_error\":%.3e,"
           "\"ratio_full_vs_reference\":%.4f}\n",
           ref, ref_orth, outside[KRY_REORTH_FULL] / ref);
    free(Q);
    free(G);
    free(v0);
    return 0;
}
