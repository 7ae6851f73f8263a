/* test_rng.c — the counter-based random number generator (kry/rng.h): determinism,
   dependence on (seed, stream, global index) only, and sample statistics. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kry/rng.h"
#include "testops.h"

#define N_STAT 100000

static double *xmalloc(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

START_TEST(test_deterministic)
{
    const uint64_t seed = 0x5eed2385u;
    for (uint64_t i = 0; i < 100; ++i) {
        ck_assert_uint_eq(kry_rng_u64(seed, 7, i * 977), kry_rng_u64(seed, 7, i * 977));
        double a = kry_rng_normal(seed, 7, i), b = kry_rng_normal(seed, 7, i);
        ck_assert(memcmp(&a, &b, sizeof a) == 0);
        a = kry_rng_uniform(seed, 7, i);
        b = kry_rng_uniform(seed, 7, i);
        ck_assert(memcmp(&a, &b, sizeof a) == 0);
    }
    /* The fill functions give the scalar functions' values at offset + i. */
    size_t n = 50;
    double *x = xmalloc(n);
    kry_rng_fill_normal(seed, 3, 1234, n, x);
    for (size_t i = 0; i < n; ++i)
        ck_assert(x[i] == kry_rng_normal(seed, 3, 1234 + i));
    kry_rng_fill_uniform(seed, 3, 99, n, -2.5, 4.125, x);
    for (size_t i = 0; i < n; ++i)
        ck_assert(x[i] == -2.5 + 6.625 * kry_rng_uniform(seed, 3, 99 + i));
    free(x);
}
END_TEST

/* Filling [0, n) at once equals filling [0, a) and then [a, n) with offset a. */
START_TEST(test_split_invariance)
{
    const size_t n = 257;
    const size_t cuts[] = {0, 1, 100, 256, 257};
    double *whole = xmalloc(n), *parts = xmalloc(n);
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; ++c) {
        size_t a = cuts[c];
        kry_rng_fill_normal(42, KRY_RNG_STREAM_START, 0, n, whole);
        kry_rng_fill_normal(42, KRY_RNG_STREAM_START, 0, a, parts);
        kry_rng_fill_normal(42, KRY_RNG_STREAM_START, a, n - a, parts + a);
        ck_assert(memcmp(whole, parts, n * sizeof *whole) == 0);

        kry_rng_fill_uniform(42, KRY_RNG_STREAM_START, 0, n, 0.5, 3.75, whole);
        kry_rng_fill_uniform(42, KRY_RNG_STREAM_START, 0, a, 0.5, 3.75, parts);
        kry_rng_fill_uniform(42, KRY_RNG_STREAM_START, a, n - a, 0.5, 3.75, parts + a);
        ck_assert(memcmp(whole, parts, n * sizeof *whole) == 0);

        kry_rng_fill_rademacher(42, KRY_RNG_STREAM_START, 0, n, whole);
        kry_rng_fill_rademacher(42, KRY_RNG_STREAM_START, 0, a, parts);
        kry_rng_fill_rademacher(42, KRY_RNG_STREAM_START, a, n - a, parts + a);
        ck_assert(memcmp(whole, parts, n * sizeof *whole) == 0);
    }
    free(whole);
    free(parts);
}
END_TEST

/* Different seeds, different streams: no coincident values among 1000. */
START_TEST(test_seeds_and_streams_differ)
{
    const size_t n = 1000;
    double *a = xmalloc(n), *b = xmalloc(n), *c = xmalloc(n);
    kry_rng_fill_normal(11, KRY_RNG_STREAM_PROBE, 0, n, a);
    kry_rng_fill_normal(12, KRY_RNG_STREAM_PROBE, 0, n, b);
    kry_rng_fill_normal(11, KRY_RNG_STREAM_PROBE + 1, 0, n, c);
    size_t same_ab = 0, same_ac = 0;
    for (size_t i = 0; i < n; ++i) {
        same_ab += a[i] == b[i];
        same_ac += a[i] == c[i];
    }
    ck_assert_uint_eq(same_ab, 0);
    ck_assert_uint_eq(same_ac, 0);
    /* Neighbouring counters are not correlated in an obvious way: the lag-1 sample
       correlation of 1000 normals is within 5 standard errors (1/sqrt(n)) of 0. */
    double s = 0.0, q = 0.0;
    for (size_t i = 0; i + 1 < n; ++i)
        s += a[i] * a[i + 1];
    for (size_t i = 0; i < n; ++i)
        q += a[i] * a[i];
    ck_assert_double_lt(fabs(s / q), 5.0 / sqrt((double)n));
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_normal_moments)
{
    double *x = xmalloc(N_STAT);
    kry_rng_fill_normal(2385, KRY_RNG_STREAM_TEST, 0, N_STAT, x);
    double mean = 0.0;
    for (size_t i = 0; i < N_STAT; ++i)
        mean += x[i];
    mean /= N_STAT;
    double var = 0.0, m4 = 0.0;
    for (size_t i = 0; i < N_STAT; ++i) {
        double d = x[i] - mean;
        var += d * d;
        m4 += d * d * d * d;
    }
    var /= N_STAT - 1;
    m4 /= N_STAT;
    /* Standard errors: 1/sqrt(N) for the mean, sqrt(2/N) for the variance of N(0,1). */
    ck_assert_double_lt(fabs(mean), 5.0 / sqrt((double)N_STAT));
    ck_assert_double_lt(fabs(var - 1.0), 5.0 * sqrt(2.0 / N_STAT));
    /* Fourth moment 3 (standard error sqrt(96/N)): catches a non-Gaussian shape. */
    ck_assert_double_lt(fabs(m4 - 3.0), 5.0 * sqrt(96.0 / N_STAT));
    for (size_t i = 0; i < N_STAT; ++i)
        ck_assert(isfinite(x[i]));
    free(x);
}
END_TEST

START_TEST(test_rademacher)
{
    double *x = xmalloc(N_STAT);
    kry_rng_fill_rademacher(77, KRY_RNG_STREAM_PROBE, 5, N_STAT, x);
    size_t plus = 0;
    for (size_t i = 0; i < N_STAT; ++i) {
        ck_assert(x[i] == 1.0 || x[i] == -1.0);
        plus += x[i] == 1.0;
    }
    /* Binomial(N, 1/2): standard error sqrt(N)/2. */
    double dev = fabs((double)plus - 0.5 * N_STAT);
    ck_assert_double_lt(dev, 5.0 * 0.5 * sqrt((double)N_STAT));
    free(x);
}
END_TEST

START_TEST(test_uniform_range)
{
    const double lo = -1.375, hi = 2.125;
    double *x = xmalloc(N_STAT);
    kry_rng_fill_uniform(9, KRY_RNG_STREAM_TEST, 0, N_STAT, lo, hi, x);
    double mean = 0.0;
    for (size_t i = 0; i < N_STAT; ++i) {
        ck_assert(x[i] >= lo && x[i] < hi);
        mean += x[i];
    }
    mean /= N_STAT;
    /* Uniform on [lo, hi): mean (lo+hi)/2, standard deviation (hi-lo)/sqrt(12). */
    double se = (hi - lo) / sqrt(12.0 * N_STAT);
    ck_assert_double_lt(fabs(mean - 0.5 * (lo + hi)), 5.0 * se);
    for (uint64_t i = 0; i < 1000; ++i) {
        double u = kry_rng_uniform(31, 2, i);
        ck_assert(u >= 0.0 && u < 1.0);
    }
    free(x);
}
END_TEST

/* n = 0 writes nothing; extreme indices and seeds still give valid values. */
START_TEST(test_edge_lengths_and_indices)
{
    double guard[2] = {2.385, -7.25};
    kry_rng_fill_normal(1, 1, 0, 0, guard);
    kry_rng_fill_uniform(1, 1, 0, 0, 0.0, 1.0, guard);
    kry_rng_fill_rademacher(1, 1, 0, 0, guard);
    ck_assert(guard[0] == 2.385 && guard[1] == -7.25);

    double x;
    kry_rng_fill_normal(UINT64_MAX, UINT64_MAX, UINT64_MAX / 2, 1, &x);
    ck_assert(isfinite(x));
    ck_assert(x == kry_rng_normal(UINT64_MAX, UINT64_MAX, UINT64_MAX / 2));
    double u = kry_rng_uniform(0, 0, UINT64_MAX);
    ck_assert(u >= 0.0 && u < 1.0);
    ck_assert(isfinite(kry_rng_normal(0, 0, 0)));
    /* Degenerate interval: lo == hi gives lo exactly. */
    kry_rng_fill_uniform(5, 5, 5, 1, 3.5, 3.5, &x);
    ck_assert(x == 3.5);
}
END_TEST

static Suite *rng_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *core = tcase_create("core"), *edge = tcase_create("edge");
    tcase_add_test(core, test_deterministic);
    tcase_add_test(core, test_split_invariance);
    tcase_add_test(core, test_seeds_and_streams_differ);
    tcase_add_test(core, test_normal_moments);
    tcase_add_test(core, test_rademacher);
    tcase_add_test(core, test_uniform_range);
    tcase_add_test(edge, test_edge_lengths_and_indices);
    suite_add_tcase(s, core);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(rng_suite)
