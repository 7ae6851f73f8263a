/* bench_topk_dense.c — top-10 eigenvalues (LA) of random dense symmetric matrices:
   kry_lanczos_eigs (full reorthogonalisation, tol 1e-10, vectors too) against LAPACK
   dsyevr, all eigenvalues (JOBZ = 'N', RANGE = 'A') and only the top 10 with their
   vectors (JOBZ = 'V', RANGE = 'I', IL..IU = n-9..n), measured in the same run.

   Matrices: A_ij = A_ji ~ N(0, 1) (kry_rng, seed 7), n = 500, 1000, 2000, 4000 by
   default (or the sizes given on the command line), stored full column-major; the
   operator is a dgemv callback. The error of each method is max_i |theta_i - lambda_i|
   over the top 10, relative to |lambda_max|, with the dsyevr 'A' eigenvalues as the
   reference (so that column reads 0 for it). Times: median of 3 runs for n <= 1000,
   one run above. OpenBLAS threads: 1 by default (openblas_set_num_threads;
   KRY_BENCH_THREADS overrides), the same for both methods.

   Reproduce: ninja -C build && ./build/bench/bench_topk_dense [n ...]
   The last line of output is one JSON object with every figure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <lapacke.h>

#include "kry/lanczos.h"
#include "kry/ritz.h"
#include "kry/rng.h"

void openblas_set_num_threads(int num_threads); /* OpenBLAS extension (cblas-openblas.h) */

enum { K = 10 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct dense {
    size_t n;
    const double *a; /* n x n column-major, full */
} dense;

static int dense_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const dense *d = ctx;
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)d->n, (int)d->n, 1.0, d->a, (int)d->n, x, 1,
                0.0, y, 1);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int count)
{
    qsort(v, (size_t)count, sizeof *v, cmp);
    return v[count / 2];
}

typedef struct row {
    size_t n, steps, matvecs, nconv;
    double t_lanczos, t_all, t_range, err_lanczos, err_range, lmax;
} row;

static int run_size(size_t n, row *out)
{
    double *a = malloc(n * n * sizeof *a), *c = malloc(n * n * sizeof *c);
    double *w_all = malloc(n * sizeof *w_all), *z = malloc(n * K * sizeof *z);
    double *vecs = malloc(n * K * sizeof *vecs);
    lapack_int *isuppz = malloc(2 * n * sizeof *isuppz);
    size_t mmax = n < 1500 ? n : 1500;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(n, mmax, KRY_REORTH_FULL);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(mmax);
    int rc = 1;
    if (!a || !c || !w_all || !z || !vecs || !isuppz || !lws || !rws)
        goto done;
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i <= j; ++i)
            a[j * n + i] = a[i * n + j] =
                kry_rng_normal(7, KRY_RNG_STREAM_USER, (uint64_t)(j * n + i));
    int reps = n <= 1000 ? 3 : 1;
    double t[3];
    lapack_int found;
    double w_range[K];

    /* dsyevr, all eigenvalues. */
    for (int r = 0; r < reps; ++r) {
        memcpy(c, a, n * n * sizeof *c);
        double t0 = now();
        if (LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'N', 'A', 'U', (lapack_int)n, c, (lapack_int)n,
                           0.0, 0.0, 0, 0, 0.0, &found, w_all, z, 1, isuppz) != 0)
            goto done;
        t[r] = now() - t0;
    }
    out->t_all = median(t, reps);
    /* dsyevr, the top K with vectors. */
    for (int r = 0; r < reps; ++r) {
        memcpy(c, a, n * n * sizeof *c);
        double t0 = now();
        if (LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', 'I', 'U', (lapack_int)n, c, (lapack_int)n,
                           0.0, 0.0, (lapack_int)(n - K + 1), (lapack_int)n, 0.0, &found,
                           w_range, z, (lapack_int)n, isuppz) != 0 ||
            found != K)
            goto done;
        t[r] = now() - t0;
    }
    out->t_range = median(t, reps);

    /* Lanczos. */
    dense d = {n, a};
    kry_operator op;
    if (kry_operator_callback(n, dense_matvec, &d, &op) != KRY_OK)
        goto done;
    kry_lanczos_params p = kry_lanczos_params_default();
    p.max_steps = mmax;
    p.seed = 3;
    double theta[K];
    kry_eigs_result res;
    for (int r = 0; r < reps; ++r) {
        double t0 = now();
        if (kry_lanczos_eigs(&op, K, KRY_WHICH_LA, 1e-10, NULL, &p, lws, rws, theta, vecs, n,
                             NULL, NULL, &res) != KRY_OK)
            goto done;
        t[r] = now() - t0;
    }
    out->t_lanczos = median(t, reps);

    out->n = n;
    out->steps = res.steps;
    out->matvecs = res.matvecs;
    out->nconv = res.nconv;
    out->lmax = fmax(fabs(w_all[0]), fabs(w_all[n - 1]));
    out->err_lanczos = out->err_range = 0.0;
    for (size_t i = 0; i < K; ++i) {
        double ref = w_all[n - 1 - i];
        out->err_lanczos = fmax(out->err_lanczos, fabs(theta[i] - ref) / out->lmax);
        out->err_range = fmax(out->err_range, fabs(w_range[K - 1 - i] - ref) / out->lmax);
    }
    rc = 0;
done:
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(lws);
    free(isuppz);
    free(vecs);
    free(z);
    free(w_all);
    free(c);
    free(a);
    return rc;
}

int main(int argc, char **argv)
{
    size_t sizes[16] = {500, 1000, 2000, 4000}, ns = 4;
    if (argc > 1) {
        ns = 0;
        for (int i = 1; i < argc && ns < 16; ++i)
            sizes[ns++] = strtoul(argv[i], NULL, 10);
    }
    int threads = getenv("KRY_BENCH_THREADS") ? atoi(getenv("KRY_BENCH_THREADS")) : 1;
    if (threads < 1)
        threads = 1;
    openblas_set_num_threads(threads);
    printf("bench_topk_dense: top %d (LA) of random dense symmetric N(0,1) matrices; "
           "OpenBLAS threads %d\n",
           K, threads);
    printf("%6s %6s %8s %11s %11s %11s %9s %9s %10s %10s\n", "n", "steps", "matvecs",
           "lanczos_s", "syevr_all_s", "syevr_top_s", "all/lanc", "top/lanc", "err_lanc",
           "err_top");
    row rows[16];
    for (size_t s = 0; s < ns; ++s) {
        if (sizes[s] < 2 * K || run_size(sizes[s], &rows[s]) != 0) {
            fprintf(stderr, "n = %zu failed\n", sizes[s]);
            return 1;
        }
        row *r = &rows[s];
        printf("%6zu %6zu %8zu %11.4f %11.4f %11.4f %9.2f %9.2f %10.1e %10.1e\n", r->n,
               r->steps, r->matvecs, r->t_lanczos, r->t_all, r->t_range,
               r->t_all / r->t_lanczos, r->t_range / r->t_lanczos, r->err_lanczos,
               r->err_range);
        fflush(stdout);
    }
    printf("{\"bench\":\"topk_dense\",\"k\":%d,\"which\":\"LA\",\"tol\":1e-10,"
           "\"reorth\":\"full\",\"threads\":%d,\"results\":[",
           K, threads);
    for (size_t s = 0; s < ns; ++s) {
        row *r = &rows[s];
        printf("%s{\"n\":%zu,\"steps\":%zu,\"matvecs\":%zu,\"nconv\":%zu,\"lanczos_s\":%.4f,"
               "\"syevr_all_s\":%.4f,\"syevr_top_s\":%.4f,\"ratio_all_over_lanczos\":%.3f,"
               "\"ratio_top_over_lanczos\":%.3f,\"err_lanczos\":%.2e,\"err_syevr_top\":%.2e}",
               s ? "," : "", r->n, r->steps, r->matvecs, r->nconv, r->t_lanczos, r->t_all,
               r->t_range, r->t_all / r->t_lanczos, r->t_range / r->t_lanczos,
               r->err_lanczos, r->err_range);
    }
    printf("]}\n");
    return 0;
}
