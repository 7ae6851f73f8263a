/* test_tridiag.c — batched k-th eigenpair of tridiagonal matrices against LAPACK
   (dstebz, dstemr and dsyevr on the dense matrix), analytic spectra and central
   differences. */
#include <float.h>
#include <lapacke.h>
#include <string.h>

#include "kry/rng.h"
#include "kry/tridiag.h"
#include "testops.h"

/* ---- helpers (independent of the code under test) ---- */

static double tnorm(size_t n, const double *d, const double *e)
{
    double m = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double r = fabs(d[i]);
        if (i > 0)
            r += fabs(e[i - 1]);
        if (i + 1 < n)
            r += fabs(e[i]);
        m = fmax(m, r);
    }
    return m;
}

/* k-th eigenvalue (0-based) by LAPACK dstebz. */
static double ref_dstebz(size_t n, const double *d, const double *e, size_t k)
{
    lapack_int m, nsplit, iblock[2000], isplit[2000];
    double w[2000];
    double ez[2000] = {0};
    if (n > 1)
        memcpy(ez, e, sizeof(double) * (n - 1));
    lapack_int info = LAPACKE_dstebz('I', 'E', (lapack_int)n, 0, 0, (lapack_int)k + 1,
                                     (lapack_int)k + 1, 0.0, d, ez, &m, &nsplit, w, iblock,
                                     isplit);
    ck_assert_int_eq(info, 0);
    ck_assert_int_eq(m, 1);
    return w[0];
}

/* k-th eigenpair from LAPACK dsyevr on the dense matrix (dstemr's n = 2 path in some
   LAPACK versions returns the wrong vector for IL = IU = 2). */
static double ref_dense(size_t n, const double *d, const double *e, size_t k, double *z)
{
    double *a = calloc(n * n, sizeof(double)), *w = malloc(sizeof(double) * n),
           *zz = malloc(sizeof(double) * n * n);
    for (size_t i = 0; i < n; ++i) {
        a[i * n + i] = d[i];
        if (i + 1 < n)
            a[i * n + i + 1] = a[(i + 1) * n + i] = e[i];
    }
    ck_assert_int_eq(test_dsyevr(n, a, w, zz), 0);
    memcpy(z, zz + k * n, sizeof(double) * n);
    double lam = w[k];
    free(a), free(w), free(zz);
    return lam;
}

/* k-th eigenpair by LAPACK dstemr. */
static double ref_dstemr(size_t n, const double *d, const double *e, size_t k, double *z)
{
    double dw[2000], ew[2000] = {0}, w[2000];
    lapack_int m, isuppz[4000], tryrac = 1;
    memcpy(dw, d, sizeof(double) * n);
    if (n > 1)
        memcpy(ew, e, sizeof(double) * (n - 1));
    lapack_int info = LAPACKE_dstemr(LAPACK_COL_MAJOR, 'V', 'I', (lapack_int)n, dw, ew, 0, 0,
                                     (lapack_int)k + 1, (lapack_int)k + 1, &m, w, z,
                                     (lapack_int)n, 1, isuppz, &tryrac);
    ck_assert_int_eq(info, 0);
    ck_assert_int_eq(m, 1);
    return w[0];
}

/* |T q - lam q|_2 with a naive loop. */
static double residual(size_t n, const double *d, const double *e, double lam,
                       const double *q)
{
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double r = (d[i] - lam) * q[i];
        if (i > 0)
            r += e[i - 1] * q[i - 1];
        if (i + 1 < n)
            r += e[i] * q[i + 1];
        s += r * r;
    }
    return sqrt(s);
}

static void fill_random(size_t count, size_t n, uint64_t seed, double *d, double *e)
{
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 0, count * n, d);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 1u << 30, count * (n - 1 ? n - 1 : 1), e);
}

/* One call of eigpairs on `count` contiguous matrices; checks every matrix against
   dstebz (value), dstemr (vector) and the residual. With guess != NULL the calls
   warm-start from guess[b] (par must ask for it). */
static void check_batch_from(size_t n, size_t count, const double *d, const double *e,
                             size_t k, const size_t *kvec, const kry_tridiag_params *par,
                             const double *guess)
{
    size_t lde = n > 1 ? n - 1 : 1;
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
    ck_assert_ptr_nonnull(ws);
    double *lam = malloc(sizeof(double) * count), *q = malloc(sizeof(double) * n * count);
    double *lam2 = malloc(sizeof(double) * count), *z = malloc(sizeof(double) * n);
    unsigned char *tied = malloc(count);
    kry_tridiag_batch B = {n, count, d, n, e, lde};
    size_t bad = 99;
    for (size_t b = 0; guess && b < count; ++b)
        lam[b] = lam2[b] = guess[b];
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, k, kvec, par, lam, q, n, tied, &bad), KRY_OK);
    ck_assert_uint_eq(bad, count);
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, k, kvec, par, lam2, NULL), KRY_OK);
    for (size_t b = 0; b < count; ++b) {
        const double *db = d + b * n, *eb = e + b * lde;
        size_t kb = kvec ? kvec[b] : k;
        double tn = tnorm(n, db, eb);
        double ref = ref_dstebz(n, db, eb, kb);
        ck_assert_msg(fabs(lam[b] - ref) <= 1e-13 * tn, "n=%zu b=%zu lam %.17g ref %.17g", n,
                      b, lam[b], ref);
        ck_assert_msg(fabs(lam2[b] - ref) <= 1e-13 * tn, "values-only b=%zu", b);
        const double *qb = q + b * n;
        ck_assert_msg(residual(n, db, eb, lam[b], qb) <= 1e-13 * tn, "residual b=%zu %g", b,
                      residual(n, db, eb, lam[b], qb) / tn);
        double nrm = 0.0;
        for (size_t i = 0; i < n; ++i)
            nrm += qb[i] * qb[i];
        ck_assert_close(nrm, 1.0, 1e-13);
        ref_dense(n, db, eb, kb, z);
        double dot = 0.0;
        for (size_t i = 0; i < n; ++i)
            dot += qb[i] * z[i];
        ck_assert_msg(fabs(dot) >= 1.0 - 1e-12, "n=%zu k=%zu b=%zu |q^T q_lapack| = %.17g", n, kb, b, fabs(dot));
        ck_assert_int_eq(tied[b], 0);
    }
    free(lam), free(q), free(lam2), free(z), free(tied);
    kry_tridiag_ws_free(ws);
}

static void check_batch(size_t n, size_t count, const double *d, const double *e,
                        size_t k, const size_t *kvec, const kry_tridiag_params *par)
{
    check_batch_from(n, count, d, e, k, kvec, par, NULL);
}

/* ---- core ---- */

START_TEST(test_random_vs_lapack)
{
    const size_t sizes[] = {2, 3, 7, 8, 9, 10, 16, 17, 45, 100};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; ++t) {
        size_t n = sizes[t], count = 21;
        double *d = malloc(sizeof(double) * n * count), *e = malloc(sizeof(double) * n * count);
        fill_random(count, n, 17 + t, d, e);
        check_batch(n, count, d, e, n / 2, NULL, NULL);
        check_batch(n, count, d, e, 0, NULL, NULL);
        check_batch(n, count, d, e, n - 1, NULL, NULL);
        free(d), free(e);
    }
}
END_TEST

START_TEST(test_per_matrix_k)
{
    size_t n = 31, count = 19;
    double d[31 * 19], e[31 * 19];
    size_t kv[19];
    fill_random(count, n, 5, d, e);
    for (size_t b = 0; b < count; ++b)
        kv[b] = (b * 7) % n;
    check_batch(n, count, d, e, 0, kv, NULL);
}
END_TEST

START_TEST(test_strided_and_threads)
{
    /* Matrices embedded in wider rows (ldd = n + 3), two threads, vs one thread. */
    size_t n = 23, count = 37, ldd = n + 3, lde = n + 1;
    double *d = malloc(sizeof(double) * ldd * count), *e = malloc(sizeof(double) * lde * count);
    kry_rng_fill_uniform(9, KRY_RNG_STREAM_TEST, 0, ldd * count, -2.385, 1.75, d);
    kry_rng_fill_uniform(9, KRY_RNG_STREAM_TEST, 99999, lde * count, -1.5, 1.25, e);
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
    double lam[37], lam1[37], q[37 * 23], q1[37 * 23];
    kry_tridiag_batch B = {n, count, d, ldd, e, lde};
    kry_tridiag_params p = kry_tridiag_params_default();
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, 11, NULL, &p, lam1, q1, n, NULL, NULL), KRY_OK);
    p.nthreads = 3;
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, 11, NULL, &p, lam, q, n, NULL, NULL), KRY_OK);
    for (size_t b = 0; b < count; ++b) {
        double ref = ref_dstebz(n, d + b * ldd, e + b * lde, 11);
        ck_assert_msg(fabs(lam[b] - ref) <= 1e-13 * tnorm(n, d + b * ldd, e + b * lde),
                      "b=%zu", b);
        ck_assert_double_eq(lam[b], lam1[b]);
        for (size_t i = 0; i < n; ++i)
            ck_assert_double_eq(q[b * n + i], q1[b * n + i]);
    }
    kry_tridiag_ws_free(ws);
    free(d), free(e);
}
END_TEST

START_TEST(test_warm_start)
{
    size_t n = 40, count = 16;
    double d[40 * 16], e[40 * 16], lam[16], guess[16];
    fill_random(count, n, 77, d, e);
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
    kry_tridiag_batch B = {n, count, d, n, e, n - 1};
    kry_tridiag_params p = kry_tridiag_params_default();
    p.warm_start = 1;
    for (size_t b = 0; b < count; ++b) {
        double ref = ref_dstebz(n, d + b * n, e + b * (n - 1), 20);
        /* Good, poor, exact, NaN and out-of-range guesses. */
        guess[b] = b % 5 == 0 ? ref + 1e-3 : b % 5 == 1 ? ref - 0.7 : b % 5 == 2 ? ref
                   : b % 5 == 3 ? NAN : 1e300;
        lam[b] = guess[b];
    }
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, 20, NULL, &p, lam, NULL), KRY_OK);
    for (size_t b = 0; b < count; ++b) {
        double ref = ref_dstebz(n, d + b * n, e + b * (n - 1), 20);
        ck_assert_msg(fabs(lam[b] - ref) <= 1e-13 * tnorm(n, d + b * n, e + b * (n - 1)),
                      "b=%zu guess %g", b, guess[b]);
    }
    kry_tridiag_ws_free(ws);
}
END_TEST

/* Warm starts past a neighbour of lambda_k (the hop across it), past two neighbours
   (interpolation), past a neighbour 1e-6 away, between two neighbours, and 1e-4 past a
   neighbour 1e-2 away (then next to lambda_k but much nearer the neighbour, where
   Laguerre's steps start tiny: the deflated Newton step): all reach dstebz's value in
   at most 8 passes (before the hop and the deflated step: 7 to 14). */
START_TEST(test_warm_start_past_neighbour)
{
    enum { n = 9, count = 8, k = 4 };
    double d[n * count], e[(n - 1) * count], lam[count], guess[count];
    fill_random(count, n, 4242, d, e);
    /* Matrices 4..7: d = 1..9 with small couplings, d_5 moved next to d_4. */
    for (size_t b = 4; b < count; ++b) {
        for (size_t i = 0; i < n; ++i)
            d[b * n + i] = (double)i + 1.0;
        for (size_t i = 0; i + 1 < n; ++i)
            e[b * (n - 1) + i] = 1e-4;
        d[b * n + 5] = d[b * n + 4] + (b == 4 ? 1e-6 : 1e-2);
    }
    for (size_t b = 0; b < count; ++b) {
        const double *db = d + b * n, *eb = e + b * (n - 1);
        double up = ref_dstebz(n, db, eb, k + 1), dn = ref_dstebz(n, db, eb, k - 1);
        double up2 = ref_dstebz(n, db, eb, k + 2);
        guess[b] = b == 0 ? up + 1e-3 : b == 1 ? dn - 1e-3 : b == 2 ? up2 + 1e-3
                 : b == 3 ? ref_dstebz(n, db, eb, k - 2) - 1e-3 : b == 4 ? up + 1e-9
                 : b == 5 ? 0.5 * (up + up2) : up + 1e-4;
        lam[b] = guess[b];
    }
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
    kry_tridiag_params p = kry_tridiag_params_default();
    p.warm_start = 1;
    for (size_t b = 0; b < count; ++b) {
        kry_tridiag_batch B1 = {n, 1, d + b * n, n, e + b * (n - 1), n - 1};
        ck_assert_int_eq(kry_tridiag_eigvals(ws, &B1, k, NULL, &p, lam + b, NULL), KRY_OK);
        double ref = ref_dstebz(n, d + b * n, e + b * (n - 1), k);
        ck_assert_msg(fabs(lam[b] - ref) <= 1e-13 * tnorm(n, d + b * n, e + b * (n - 1)),
                      "b=%zu guess %.17g: %.17g vs %.17g", b, guess[b], lam[b], ref);
        ck_assert_msg(kry_tridiag_ws_passes(ws) <= 8, "b=%zu: %zu passes", b,
                      kry_tridiag_ws_passes(ws));
    }
    kry_tridiag_ws_free(ws);
}
END_TEST

/* Warm starts as in training: the guesses are the eigenvalues of the matrices before a
   perturbation of scale 1e-1 ... 1e-12 (so the stopping rule that accepts the last
   Laguerre step from the observed rate meets every phase of the iteration); values and
   vectors are checked as for cold starts, at n = 9 and 40. */
START_TEST(test_warm_start_perturbed)
{
    const size_t ns[] = {9, 40};
    const double scales[] = {1e-1, 1e-3, 1e-6, 1e-9, 1e-12};
    for (size_t a = 0; a < 2; ++a)
        for (size_t c = 0; c < sizeof scales / sizeof scales[0]; ++c) {
            size_t n = ns[a], count = 67, k = n / 2;
            double *d = malloc(sizeof(double) * n * count), *e = malloc(sizeof(double) * n * count);
            double *pd = malloc(sizeof(double) * n * count), *guess = malloc(sizeof(double) * count);
            fill_random(count, n, 900 + c, d, e);
            for (size_t b = 0; b < count; ++b)
                guess[b] = ref_dstebz(n, d + b * n, e + b * (n - 1), k);
            kry_rng_fill_normal(77, KRY_RNG_STREAM_TEST, c, n * count, pd);
            for (size_t i = 0; i < n * count; ++i)
                d[i] += scales[c] * pd[i];
            for (size_t i = 0; i < (n - 1) * count; ++i)
                e[i] += scales[c] * pd[n * count - 1 - i];
            kry_tridiag_params p = kry_tridiag_params_default();
            p.warm_start = 1;
            check_batch_from(n, count, d, e, k, NULL, &p, guess);
            free(d), free(e), free(pd), free(guess);
        }
}
END_TEST

/* d lambda / d d_i = q_i^2 and d lambda / d e_i = 2 q_i q_{i+1}, against central
   differences of dstebz. */
START_TEST(test_gradient_fd)
{
    size_t n = 12, count = 3;
    double d[36], e[36], lam[3], q[36], gd[36], ge[36], gy[3] = {1.0, -2.385, 0.5};
    fill_random(count, n, 123, d, e);
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
    kry_tridiag_batch B = {n, count, d, n, e, n - 1};
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, 5, NULL, NULL, lam, q, n, NULL, NULL), KRY_OK);
    ck_assert_int_eq(kry_tridiag_grad(n, count, q, n, gy, gd, n, ge, n - 1), KRY_OK);
    const double h = 1e-6;
    for (size_t b = 0; b < count; ++b) {
        double *db = d + b * n, *eb = e + b * (n - 1);
        for (size_t i = 0; i < n; ++i) {
            double s = db[i];
            db[i] = s + h;
            double lp = ref_dstebz(n, db, eb, 5);
            db[i] = s - h;
            double lm = ref_dstebz(n, db, eb, 5);
            db[i] = s;
            ck_assert_msg(fabs(gd[b * n + i] - gy[b] * (lp - lm) / (2 * h)) <= 1e-7,
                          "gd b=%zu i=%zu", b, i);
        }
        for (size_t i = 0; i + 1 < n; ++i) {
            double s = eb[i];
            eb[i] = s + h;
            double lp = ref_dstebz(n, db, eb, 5);
            eb[i] = s - h;
            double lm = ref_dstebz(n, db, eb, 5);
            eb[i] = s;
            ck_assert_msg(fabs(ge[b * (n - 1) + i] - gy[b] * (lp - lm) / (2 * h)) <= 1e-7,
                          "ge b=%zu i=%zu", b, i);
        }
    }
    kry_tridiag_ws_free(ws);
}
END_TEST


/* Inputs that drive the division-free recurrences into their fallbacks: an exact zero
   minor at the eigenvalue (zero diagonal, odd n: lambda = 0 exactly, so the eigenvector
   pivots hit 0 and the guarded scalar path takes over), off-diagonals so small that
   e^2 underflows (near splits), and a split right after a zero minor; mixed in one
   vector with ordinary matrices. Checked against LAPACK as everywhere else. */
START_TEST(test_fallback_paths)
{
    size_t n = 9, count = 11;
    double d[9 * 11], e[8 * 11];
    fill_random(count, n, 4242, d, e);
    for (size_t i = 0; i < n; ++i)
        d[0 * n + i] = 0.0; /* matrix 0: zero diagonal, e random: lambda_4 = 0 */
    for (size_t i = 0; i + 1 < n; ++i) {
        e[2 * (n - 1) + i] = 2.385e-170 * (double)(i + 1); /* matrix 2: e^2 underflows */
        e[3 * (n - 1) + i] = i % 2 ? 1e-300 : 0.75;      /* matrix 3: tiny and normal */
    }
    for (size_t i = 0; i < n; ++i)
        d[4 * n + i] = (double)i - 4.0; /* matrix 4: integer diagonal with a split */
    e[4 * (n - 1) + 4] = 0.0;
    check_batch(n, count, d, e, n / 2, NULL, NULL);
    check_batch(n, count, d, e, 0, NULL, NULL);
    check_batch(n, count, d, e, n - 1, NULL, NULL);
}
END_TEST

/* ---- args ---- */

/* Every entry is checked: a NaN or Inf in any row of d or e of any lane (first rows,
   last rows, the rows the loader reads twice) is reported with its matrix index. */
START_TEST(test_nonfinite_every_row)
{
    const size_t sizes[] = {5, 9, 12, 17};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; ++t) {
        size_t n = sizes[t], count = 10;
        double *d = malloc(sizeof(double) * n * count), *e = malloc(sizeof(double) * n * count);
        double lam[10];
        kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
        kry_tridiag_batch B = {n, count, d, n, e, n - 1};
        for (size_t row = 0; row < n; ++row)
            for (int which = 0; which < 2; ++which) {
                if (which == 1 && row + 1 == n)
                    continue;
                fill_random(count, n, 3, d, e);
                size_t b = 3 + row % 6, bad = 99;
                double *p = which ? e + b * (n - 1) + row : d + b * n + row;
                *p = row % 2 ? NAN : -INFINITY;
                ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, n / 2, NULL, NULL, lam, &bad),
                                 KRY_ENONFINITE);
                ck_assert_msg(bad == b, "n %zu row %zu %s: bad %zu, want %zu", n, row,
                              which ? "e" : "d", bad, b);
            }
        kry_tridiag_ws_free(ws);
        free(d), free(e);
    }
}
END_TEST

START_TEST(test_args)
{
    size_t n = 5, bad;
    double d[10] = {1.5, 2, 3, 4, 5, 1, 2, 3, 4, 5}, e[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    double lam[2], q[10], gd[10], ge[8];
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, 2);
    kry_tridiag_batch B = {n, 2, d, n, e, n - 1}, Bx;
    ck_assert_ptr_null(kry_tridiag_ws_alloc(0, 3));
    ck_assert_ptr_null(kry_tridiag_ws_alloc(3, 0));
    ck_assert(kry_tridiag_ws_bytes(5, 2) > 0);
    kry_tridiag_ws_free(NULL);
    ck_assert_uint_eq(kry_tridiag_ws_passes(NULL), 0);
    ck_assert_int_eq(kry_tridiag_eigvals(NULL, &B, 1, NULL, NULL, lam, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_eigvals(ws, NULL, 1, NULL, NULL, lam, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, 1, NULL, NULL, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, 5, NULL, NULL, lam, NULL), KRY_EINVAL);
    size_t kv[2] = {1, 7};
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, 0, kv, NULL, lam, &bad), KRY_EINVAL);
    ck_assert_uint_eq(bad, 1);
    Bx = B;
    Bx.ldd = 4;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &Bx, 1, NULL, NULL, lam, NULL), KRY_EINVAL);
    Bx = B;
    Bx.lde = 3;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &Bx, 1, NULL, NULL, lam, NULL), KRY_EINVAL);
    Bx = B;
    Bx.e = NULL;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &Bx, 1, NULL, NULL, lam, NULL), KRY_EINVAL);
    Bx = B;
    Bx.n = 0;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &Bx, 0, NULL, NULL, lam, NULL), KRY_EINVAL);
    Bx = B;
    Bx.count = 3;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &Bx, 1, NULL, NULL, lam, NULL), KRY_EDIM);
    Bx = B;
    Bx.n = 6;
    Bx.ldd = 6;
    Bx.lde = 5;
    Bx.count = 1;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &Bx, 1, NULL, NULL, lam, NULL), KRY_EDIM);
    kry_tridiag_params p = kry_tridiag_params_default();
    p.tol = NAN;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, 1, NULL, &p, lam, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, 1, NULL, NULL, lam, NULL, n, NULL, NULL),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, 1, NULL, NULL, lam, q, n - 1, NULL, NULL),
                     KRY_EINVAL);
    /* NaN and Inf name the matrix. */
    d[7] = NAN;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, 1, NULL, NULL, lam, &bad), KRY_ENONFINITE);
    ck_assert_uint_eq(bad, 1);
    d[7] = 3;
    e[2] = -INFINITY;
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, 1, NULL, NULL, lam, q, n, NULL, &bad),
                     KRY_ENONFINITE);
    ck_assert_uint_eq(bad, 0);
    e[2] = 1;
    ck_assert_int_eq(kry_tridiag_eigvals(ws, &B, 1, NULL, NULL, lam, &bad), KRY_OK);
    ck_assert_uint_eq(bad, 2);
    /* grad */
    ck_assert_int_eq(kry_tridiag_grad(0, 2, q, n, NULL, gd, n, ge, n - 1), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_grad(n, 0, q, n, NULL, gd, n, ge, n - 1), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_grad(n, 2, NULL, n, NULL, gd, n, ge, n - 1), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_grad(n, 2, q, n - 1, NULL, gd, n, ge, n - 1), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_grad(n, 2, q, n, NULL, gd, n - 1, ge, n - 1), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_grad(n, 2, q, n, NULL, gd, n, NULL, n - 1), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_grad(n, 2, q, n, NULL, gd, n, ge, n - 2), KRY_EINVAL);
    ck_assert_int_eq(kry_tridiag_grad(n, 2, q, n, NULL, NULL, n, ge, n - 1), KRY_EINVAL);
    kry_tridiag_ws_free(ws);
}
END_TEST

/* ---- edge ---- */

START_TEST(test_small_sizes)
{
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(2, 3);
    /* n = 1: lambda = d, q = 1, e may be NULL. */
    double d1[3] = {2.385, -1e-300, 7e200}, lam[3], q[6], gd[3];
    kry_tridiag_batch B1 = {1, 3, d1, 1, NULL, 0};
    unsigned char tied[3];
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B1, 0, NULL, NULL, lam, q, 1, tied, NULL),
                     KRY_OK);
    for (int b = 0; b < 3; ++b) {
        ck_assert_double_eq(lam[b], d1[b]);
        ck_assert_double_eq(q[b], 1.0);
        ck_assert_int_eq(tied[b], 0);
    }
    ck_assert_int_eq(kry_tridiag_grad(1, 3, q, 1, NULL, gd, 1, NULL, 0), KRY_OK);
    ck_assert_double_eq(gd[1], 1.0);
    /* n = 2: lambda = (a+c)/2 -+ sqrt(((a-c)/2)^2 + b^2). */
    double d2[6] = {1.25, -0.5, 3.0, 3.0, 0.0, 1e-3}, e2[3] = {0.75, 2.0, 1e-3};
    kry_tridiag_batch B2 = {2, 3, d2, 2, e2, 1};
    for (size_t k = 0; k < 2; ++k) {
        ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B2, k, NULL, NULL, lam, q, 2, tied, NULL),
                         KRY_OK);
        for (int b = 0; b < 3; ++b) {
            double a = d2[2 * b], c = d2[2 * b + 1], bb = e2[b];
            double m = 0.5 * (a + c), r = hypot(0.5 * (a - c), bb);
            double ref = k == 0 ? m - r : m + r;
            ck_assert_msg(fabs(lam[b] - ref) <= 1e-15 * fmax(fabs(a) + fabs(bb), 1e-300),
                          "n=2 b=%d k=%zu", b, k);
            ck_assert(residual(2, d2 + 2 * b, e2 + b, lam[b], q + 2 * b) <=
                      1e-14 * (fabs(a) + fabs(c) + fabs(bb)));
        }
    }
    kry_tridiag_ws_free(ws);
}
END_TEST

START_TEST(test_laplacian_analytic)
{
    size_t n = 64;
    double d[64], e[63], lam[1], q[64], ev[64];
    for (size_t i = 0; i < n; ++i)
        d[i] = 2.0;
    for (size_t i = 0; i + 1 < n; ++i)
        e[i] = -1.0;
    test_laplace1d_eigs(n, ev);
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, 1);
    kry_tridiag_batch B = {n, 1, d, n, e, n - 1};
    for (size_t k = 0; k < n; k += 9) {
        ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, k, NULL, NULL, lam, q, n, NULL, NULL),
                         KRY_OK);
        ck_assert_msg(fabs(lam[0] - ev[k]) <= 1e-14 * 4, "k=%zu", k);
        /* q_i = sqrt(2/(n+1)) sin((i+1)(k+1) pi/(n+1)) up to sign. */
        double dot = 0.0;
        for (size_t i = 0; i < n; ++i)
            dot += q[i] * sqrt(2.0 / (double)(n + 1)) *
                   sin((double)((i + 1) * (k + 1)) * M_PI / (double)(n + 1));
        ck_assert_msg(fabs(fabs(dot) - 1.0) <= 1e-12, "k=%zu dot %.17g", k, dot);
    }
    kry_tridiag_ws_free(ws);
}
END_TEST

START_TEST(test_scales)
{
    /* The same matrices scaled by 1e-150 and 1e150: eigenvalues scale, vectors do not. */
    size_t n = 17, count = 9;
    double d[17 * 9], e[17 * 9], ds[17 * 9], es[17 * 9], lam[9], lams[9], q[17 * 9],
        qs[17 * 9];
    fill_random(count, n, 31, d, e);
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
    kry_tridiag_batch B = {n, count, d, n, e, n - 1}, Bs = {n, count, ds, n, es, n - 1};
    ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, 8, NULL, NULL, lam, q, n, NULL, NULL), KRY_OK);
    const double scales[] = {1e-150, 1e150, 3.7e-300, 2.1e300};
    for (int t = 0; t < 4; ++t) {
        for (size_t i = 0; i < n * count; ++i) {
            ds[i] = d[i] * scales[t];
            es[i] = e[i] * scales[t];
        }
        ck_assert_int_eq(kry_tridiag_eigpairs(ws, &Bs, 8, NULL, NULL, lams, qs, n, NULL, NULL),
                         KRY_OK);
        for (size_t b = 0; b < count; ++b) {
            double tn = tnorm(n, ds + b * n, es + b * (n - 1));
            double ref = ref_dstebz(n, d + b * n, e + b * (n - 1), 8) * scales[t];
            ck_assert_msg(fabs(lams[b] - ref) <= 1e-13 * tn, "scale %g b=%zu", scales[t], b);
            double dot = 0.0;
            for (size_t i = 0; i < n; ++i)
                dot += qs[b * n + i] * q[b * n + i];
            ck_assert_msg(fabs(dot) >= 1.0 - 1e-12, "scale %g b=%zu", scales[t], b);
        }
    }
    kry_tridiag_ws_free(ws);
}
END_TEST

START_TEST(test_splits_and_ties)
{
    /* Matrix 0: two identical 3x3 blocks (e_2 = 0): every eigenvalue is double, so
       every k is tied. Matrix 1: blocks with distinct spectra: no ties. Matrix 2: the
       zero matrix (all tied). Matrix 3: diagonal with distinct entries (splits
       everywhere, no ties). */
    size_t n = 6, count = 4;
    double d[24] = {1.5, -0.25, 2.0, 1.5, -0.25, 2.0,   /* */
                    1.5, -0.25, 2.0, 0.3, 4.0, -3.0,    /* */
                    0, 0, 0, 0, 0, 0,                   /* */
                    5.5, -1.25, 0.5, 3.0, -7.0, 2.25};
    double e[20] = {0.7, -1.1, 0.0, 0.7, -1.1, /* */
                    0.7, -1.1, 0.0, 0.9, 0.4,  /* */
                    0, 0, 0, 0, 0,             /* */
                    0, 0, 0, 0, 0};
    double lam[4], q[24];
    unsigned char tied[4];
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, count);
    kry_tridiag_batch B = {n, count, d, n, e, n - 1};
    for (size_t k = 0; k < n; ++k) {
        ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, k, NULL, NULL, lam, q, n, tied, NULL),
                         KRY_OK);
        for (size_t b = 0; b < count; ++b) {
            double ref = ref_dstebz(n, d + b * n, e + b * (n - 1), k);
            double tn = fmax(tnorm(n, d + b * n, e + b * (n - 1)), 1e-300);
            ck_assert_msg(fabs(lam[b] - ref) <= 1e-13 * tn, "k=%zu b=%zu lam %g ref %g", k, b, lam[b], ref);
            /* Tied or not, the vector is a unit eigenvector. */
            ck_assert_msg(residual(n, d + b * n, e + b * (n - 1), lam[b], q + b * n) <=
                              1e-13 * tn + 1e-300,
                          "k=%zu b=%zu", k, b);
            double nrm = 0;
            for (size_t i = 0; i < n; ++i)
                nrm += q[b * n + i] * q[b * n + i];
            ck_assert_close(nrm, 1.0, 1e-13);
        }
        ck_assert_int_eq(tied[0], 1);
        ck_assert_int_eq(tied[1], 0);
        ck_assert_int_eq(tied[2], 1);
        ck_assert_int_eq(tied[3], 0);
    }
    kry_tridiag_ws_free(ws);
}
END_TEST

START_TEST(test_wilkinson_close_pairs)
{
    /* Wilkinson's W21+: d_i = |10 - i|, e = 1; its top eigenvalues come in pairs
       agreeing to ~1e-14 relative (and to 1e-7 for the lower pairs). */
    size_t n = 21;
    double d[21], e[20], lam[1], q[21], z[21];
    for (size_t i = 0; i < n; ++i)
        d[i] = fabs(10.0 - (double)i);
    for (size_t i = 0; i + 1 < n; ++i)
        e[i] = 1.0;
    kry_tridiag_ws *ws = kry_tridiag_ws_alloc(n, 1);
    kry_tridiag_batch B = {n, 1, d, n, e, n - 1};
    for (size_t k = 0; k < n; ++k) {
        unsigned char tied;
        ck_assert_int_eq(kry_tridiag_eigpairs(ws, &B, k, NULL, NULL, lam, q, n, &tied, NULL),
                         KRY_OK);
        double ref = ref_dstemr(n, d, e, k, z);
        ck_assert_msg(fabs(lam[0] - ref) <= 1e-13 * 12, "k=%zu", k);
        ck_assert_msg(residual(n, d, e, lam[0], q) <= 1e-13 * 12, "k=%zu", k);
        /* The top pair (k = 19, 20) is closer than tie_tol * ||T|| = 1.2e-9. */
        if (k >= 19)
            ck_assert_int_eq(tied, 1);
        if (k < 10)
            ck_assert_int_eq(tied, 0);
    }
    kry_tridiag_ws_free(ws);
}
END_TEST

static Suite *tridiag_suite(void)
{
    Suite *s = suite_create("tridiag");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_random_vs_lapack);
    tcase_add_test(core, test_per_matrix_k);
    tcase_add_test(core, test_strided_and_threads);
    tcase_add_test(core, test_warm_start);
    tcase_add_test(core, test_warm_start_past_neighbour);
    tcase_add_test(core, test_warm_start_perturbed);
    tcase_add_test(core, test_gradient_fd);
    tcase_add_test(args, test_args);
    tcase_add_test(args, test_nonfinite_every_row);
    tcase_add_test(edge, test_small_sizes);
    tcase_add_test(edge, test_laplacian_analytic);
    tcase_add_test(edge, test_scales);
    tcase_add_test(edge, test_splits_and_ties);
    tcase_add_test(edge, test_wilkinson_close_pairs);
    tcase_add_test(edge, test_fallback_paths);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(tridiag_suite)
