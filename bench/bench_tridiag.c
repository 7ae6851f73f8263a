/* bench_tridiag.c — batched k-th eigenpair of tridiagonal matrices: kry vs LAPACK loops.

   For B = 50 random matrices (d, e i.i.d. standard normal, fixed seed) of size
   n in {10, 45, 100, 1000} and k = n/2 (0-based), times in the same run:
     values only:          kry_tridiag_eigvals      vs a loop of dstebz (RANGE='I')
     value+vector+grad:    kry_tridiag_eigpairs + kry_tridiag_grad
                                                    vs a loop of dstemr (RANGE='I', one
                                                       vector) + the same gradient loop
   LAPACK is called through the *_work interfaces with workspace allocated once, and
   OpenBLAS is pinned to one thread (openblas_set_num_threads(1)). Every figure is the
   median over R repetitions of the time for the whole batch (each repetition averages
   enough inner calls to last about 2 ms). A last row, "9w", is the shape of kry train's
   layer: n = 9, k = 4, warm-started from the eigenvalues of the same matrices before
   a perturbation of 1e-2 times N(0,1) in every entry (as between two epochs), against
   the same LAPACK loops (which have no warm start). The last line is JSON.

   Usage: bench_tridiag [R] [threads]   (defaults R = 31, threads = 1; with threads > 1
   the kry timings use that many threads, the LAPACK loops stay single-threaded).
   Reproduce: ninja -C build && ./build/bench/bench_tridiag */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kry/rng.h"
#include "kry/tridiag.h"

void openblas_set_num_threads(int num_threads);

#define BATCH 50

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int r)
{
    qsort(v, (size_t)r, sizeof *v, cmp);
    return v[r / 2];
}

typedef struct setup {
    int n, k;
    double *d, *e;       /* BATCH x n, BATCH x (n-1) */
    double *lam, *q, *gd, *ge;
    double *dw, *ew, *w, *z, *work; /* LAPACK scratch */
    lapack_int *iwork, *isuppz, *iblock, *isplit;
    lapack_int lwork, liwork;
    kry_tridiag_ws *ws;
    kry_tridiag_params par;
    double *guess; /* warm start: copied into lam before each kry call; NULL: cold */
    double checksum;
} setup;

static void run_dstebz(setup *s)
{
    int n = s->n;
    for (int b = 0; b < BATCH; ++b) {
        lapack_int m, nsplit;
        lapack_int info = LAPACKE_dstebz_work('I', 'E', n, 0.0, 0.0, s->k + 1, s->k + 1,
                                              0.0, s->d + (size_t)b * n,
                                              s->e + (size_t)b * (n - 1), &m, &nsplit,
                                              s->w, s->iblock, s->isplit, s->work,
                                              s->iwork);
        if (info != 0 || m != 1)
            abort();
        s->lam[b] = s->w[0];
    }
}

static void run_dstemr(setup *s)
{
    int n = s->n;
    for (int b = 0; b < BATCH; ++b) {
        memcpy(s->dw, s->d + (size_t)b * n, sizeof(double) * (size_t)n);
        if (n > 1)
            memcpy(s->ew, s->e + (size_t)b * (n - 1), sizeof(double) * (size_t)(n - 1));
        s->ew[n - 1] = 0.0;
        lapack_int m, tryrac = 1;
        lapack_int info = LAPACKE_dstemr_work(LAPACK_COL_MAJOR, 'V', 'I', n, s->dw, s->ew,
                                              0.0, 0.0, s->k + 1, s->k + 1, &m, s->w,
                                              s->z, n, 1, s->isuppz, &tryrac, s->work,
                                              s->lwork, s->iwork, s->liwork);
        if (info != 0 || m != 1)
            abort();
        s->lam[b] = s->w[0];
        memcpy(s->q + (size_t)b * n, s->z, sizeof(double) * (size_t)n);
    }
    if (kry_tridiag_grad((size_t)n, BATCH, s->q, (size_t)n, NULL, s->gd, (size_t)n, s->ge,
                         (size_t)(n > 1 ? n - 1 : 1)) != KRY_OK)
        abort();
}

static kry_tridiag_batch batch_of(setup *s)
{
    kry_tridiag_batch B = {(size_t)s->n, BATCH, s->d, (size_t)s->n, s->e,
                           (size_t)(s->n > 1 ? s->n - 1 : 1)};
    return B;
}

static void run_kry_vals(setup *s)
{
    kry_tridiag_batch B = batch_of(s);
    if (s->guess)
        memcpy(s->lam, s->guess, sizeof(double) * BATCH);
    if (kry_tridiag_eigvals(s->ws, &B, (size_t)s->k, NULL, &s->par, s->lam, NULL) !=
        KRY_OK)
        abort();
}

static void run_kry_vvg(setup *s)
{
    kry_tridiag_batch B = batch_of(s);
    size_t n = (size_t)s->n;
    if (s->guess)
        memcpy(s->lam, s->guess, sizeof(double) * BATCH);
    if (kry_tridiag_eigpairs(s->ws, &B, (size_t)s->k, NULL, &s->par, s->lam, s->q, n, NULL,
                             NULL) != KRY_OK)
        abort();
    if (kry_tridiag_grad(n, BATCH, s->q, n, NULL, s->gd, n, s->ge, n > 1 ? n - 1 : 1) !=
        KRY_OK)
        abort();
}

/* Median over r repetitions of the per-batch time of fn, in seconds. */
static double time_it(void (*fn)(setup *), setup *s, int r)
{
    fn(s); /* warm-up, and the inner count */
    double t0 = now();
    fn(s);
    double one = now() - t0;
    int inner = one > 0 ? (int)(2e-3 / one) : 100;
    if (inner < 1)
        inner = 1;
    double *v = malloc(sizeof(double) * (size_t)r);
    for (int i = 0; i < r; ++i) {
        t0 = now();
        for (int j = 0; j < inner; ++j)
            fn(s);
        v[i] = (now() - t0) / inner;
    }
    double m = median(v, r);
    free(v);
    return m;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 31;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    if (reps < 1)
        reps = 1;
    if (threads < 1)
        threads = 1;
    openblas_set_num_threads(1);
    const int sizes[] = {10, 45, 100, 1000, 9}, warm[] = {0, 0, 0, 0, 1};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    double sp_bz[5], sp_mr[5];
    printf("bench_tridiag: B = %d, k = n/2, d,e ~ N(0,1); median of %d repetitions; "
           "OpenBLAS 1 thread; kry threads = %d\n",
           BATCH, reps, threads);
    printf("%6s %12s %12s %8s %7s | %12s %12s %8s\n", "n", "dstebz_us", "kry_val_us",
           "speedup", "passes", "dstemr+g_us", "kry_vvg_us", "speedup");
    for (int t = 0; t < ns; ++t) {
        setup s;
        memset(&s, 0, sizeof s);
        int n = sizes[t];
        s.n = n;
        s.k = n / 2;
        double guess[BATCH];
        size_t nn = (size_t)n;
        s.d = malloc(sizeof(double) * nn * BATCH);
        s.e = malloc(sizeof(double) * nn * BATCH);
        s.lam = malloc(sizeof(double) * BATCH);
        s.q = malloc(sizeof(double) * nn * BATCH);
        s.gd = malloc(sizeof(double) * nn * BATCH);
        s.ge = malloc(sizeof(double) * nn * BATCH);
        s.dw = malloc(sizeof(double) * nn);
        s.ew = malloc(sizeof(double) * nn);
        s.w = malloc(sizeof(double) * nn);
        s.z = malloc(sizeof(double) * nn);
        s.lwork = 18 * n;
        s.liwork = 10 * n;
        s.work = malloc(sizeof(double) * (size_t)s.lwork);
        s.iwork = malloc(sizeof(lapack_int) * (size_t)s.liwork);
        s.isuppz = malloc(sizeof(lapack_int) * 2 * nn);
        s.iblock = malloc(sizeof(lapack_int) * nn);
        s.isplit = malloc(sizeof(lapack_int) * nn);
        kry_rng_fill_normal(2024, KRY_RNG_STREAM_TEST, 0, nn * BATCH, s.d);
        kry_rng_fill_normal(2024, KRY_RNG_STREAM_TEST, 1000000, (nn - 1) * BATCH, s.e);
        s.ws = kry_tridiag_ws_alloc(nn, BATCH);
        s.par = kry_tridiag_params_default();
        s.par.nthreads = (size_t)threads;
        if (!s.d || !s.e || !s.ws || !s.work || !s.iwork)
            return 1;
        if (warm[t]) {
            run_kry_vals(&s);
            memcpy(guess, s.lam, sizeof guess);
            double *pd = malloc(sizeof(double) * nn * BATCH);
            if (pd == NULL)
                return 1;
            kry_rng_fill_normal(2024, KRY_RNG_STREAM_TEST + 1, 0, nn * BATCH, pd);
            for (size_t i = 0; i < nn * BATCH; ++i)
                s.d[i] += 1e-2 * pd[i];
            kry_rng_fill_normal(2024, KRY_RNG_STREAM_TEST + 2, 0, (nn - 1) * BATCH, pd);
            for (size_t i = 0; i < (nn - 1) * BATCH; ++i)
                s.e[i] += 1e-2 * pd[i];
            free(pd);
            s.par.warm_start = 1;
            s.guess = guess;
        }

        /* Agreement check before timing. */
        double ref[BATCH], err = 0.0;
        run_dstebz(&s);
        memcpy(ref, s.lam, sizeof ref);
        run_kry_vvg(&s);
        for (int b = 0; b < BATCH; ++b)
            err = fmax(err, fabs(ref[b] - s.lam[b]));
        size_t passes_vvg = kry_tridiag_ws_passes(s.ws);
        run_kry_vals(&s);
        size_t passes = kry_tridiag_ws_passes(s.ws);
        (void)passes_vvg;

        double t_bz = time_it(run_dstebz, &s, reps);
        double t_kv = time_it(run_kry_vals, &s, reps);
        double t_mr = time_it(run_dstemr, &s, reps);
        double t_kg = time_it(run_kry_vvg, &s, reps);
        sp_bz[t] = t_bz / t_kv;
        sp_mr[t] = t_mr / t_kg;
        printf("%5d%s %12.2f %12.2f %7.1fx %7zu | %12.2f %12.2f %7.1fx   (max |dlam| %.1e)\n",
               n, warm[t] ? "w" : " ", 1e6 * t_bz, 1e6 * t_kv, sp_bz[t], passes, 1e6 * t_mr, 1e6 * t_kg,
               sp_mr[t], err);
        fflush(stdout);
        kry_tridiag_ws_free(s.ws);
        free(s.d), free(s.e), free(s.lam), free(s.q), free(s.gd), free(s.ge);
        free(s.dw), free(s.ew), free(s.w), free(s.z), free(s.work), free(s.iwork);
        free(s.isuppz), free(s.iblock), free(s.isplit);
    }
    printf("{\"bench\":\"tridiag\",\"batch\":%d,\"threads\":%d,\"repetitions\":%d", BATCH,
           threads, reps);
    for (int t = 0; t < ns; ++t)
        printf(",\"n%d%s\":{\"speedup_vs_dstebz\":%.2f,\"speedup_vs_dstemr\":%.2f}",
               sizes[t], warm[t] ? "_warm" : "", sp_bz[t], sp_mr[t]);
    printf("}\n");
    return 0;
}
