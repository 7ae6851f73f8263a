/* test_vec.c — the internal BLAS vector kernels (src/vec.h) against naive loops, and the
   reduction hook that makes them distributed-ready. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kry/rng.h"
#include "testops.h"
#include "vec.h"

static double *randvec(size_t n, uint64_t seed)
{
    double *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 0, n, x);
    return x;
}

static double naive_dot(size_t n, const double *x, const double *y)
{
    double s = 0.0;
    for (size_t i = 0; i < n; ++i)
        s += x[i] * y[i];
    return s;
}

/* A fake allreduce for two identical ranks: the sum of two equal buffers doubles them. */
typedef struct fake_reduce {
    size_t calls, last_count;
    int fail;
} fake_reduce;

static int fake_allreduce(void *ctx, double *buf, size_t count)
{
    fake_reduce *f = ctx;
    f->calls++;
    f->last_count = count;
    if (f->fail)
        return -3;
    for (size_t i = 0; i < count; ++i)
        buf[i] *= 2.0;
    return 0;
}

START_TEST(test_level1_against_loops)
{
    const size_t n = 37;
    double *x = randvec(n, 1), *y = randvec(n, 2), *z = malloc(n * sizeof *z);
    ck_assert_ptr_nonnull(z);
    double d, nrm;
    ck_assert_int_eq(kry_vec_dot(NULL, n, x, y, &d), KRY_OK);
    ck_assert_close(d, naive_dot(n, x, y), 1e-14);
    ck_assert_int_eq(kry_vec_nrm2(NULL, n, x, &nrm), KRY_OK);
    ck_assert_close(nrm, sqrt(naive_dot(n, x, x)), 1e-14);

    memcpy(z, y, n * sizeof *z);
    kry_vec_axpy(n, -2.385, x, z);
    for (size_t i = 0; i < n; ++i)
        ck_assert_close(z[i], y[i] - 2.385 * x[i], 1e-15);

    memcpy(z, x, n * sizeof *z);
    kry_vec_scal(n, 0.731, z);
    for (size_t i = 0; i < n; ++i)
        ck_assert_close(z[i], 0.731 * x[i], 1e-15);

    kry_vec_copy(n, y, z);
    ck_assert(memcmp(z, y, n * sizeof *z) == 0);
    free(x);
    free(y);
    free(z);
}
END_TEST

START_TEST(test_gemv_against_loops)
{
    const size_t n = 29, k = 5, ldq = 33;
    double *Q = randvec(ldq * k, 3), *x = randvec(n, 4), *c = randvec(k, 5);
    double *y = randvec(n, 6), *y0 = malloc(n * sizeof *y0), ct[5];
    ck_assert_ptr_nonnull(y0);
    ck_assert_int_eq(kry_vec_gemv_t(NULL, n, k, Q, ldq, x, ct), KRY_OK);
    for (size_t j = 0; j < k; ++j)
        ck_assert_close(ct[j], naive_dot(n, Q + j * ldq, x), 1e-14);

    memcpy(y0, y, n * sizeof *y0);
    kry_vec_gemv_n(n, k, -0.625, Q, ldq, c, y);
    for (size_t i = 0; i < n; ++i) {
        double s = y0[i];
        for (size_t j = 0; j < k; ++j)
            s += -0.625 * Q[j * ldq + i] * c[j];
        ck_assert_close(y[i], s, 1e-14);
    }
    free(Q);
    free(x);
    free(c);
    free(y);
    free(y0);
}
END_TEST

START_TEST(test_isfinite)
{
    const size_t n = 17;
    double *x = randvec(n, 7);
    ck_assert_int_eq(kry_vec_isfinite(n, x), 1);
    x[3] = 1e308;
    x[4] = -1e308;
    x[5] = DBL_MAX;
    x[6] = DBL_MIN / 4.0; /* subnormal */
    ck_assert_int_eq(kry_vec_isfinite(n, x), 1);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    const size_t where[] = {0, 9, n - 1};
    for (size_t b = 0; b < 3; ++b)
        for (size_t w = 0; w < 3; ++w) {
            double keep = x[where[w]];
            x[where[w]] = bad[b];
            ck_assert_int_eq(kry_vec_isfinite(n, x), 0);
            x[where[w]] = keep;
        }
    /* Inf and -Inf together must not cancel. */
    x[1] = INFINITY;
    x[2] = -INFINITY;
    ck_assert_int_eq(kry_vec_isfinite(n, x), 0);
    free(x);
}
END_TEST

/* Two identical ranks: every reduced quantity doubles, local kernels do not change. */
START_TEST(test_reduction_hook_doubles)
{
    const size_t n = 23, k = 4;
    double *x = randvec(n, 8), *y = randvec(n, 9), *Q = randvec(n * k, 10);
    fake_reduce f = {0, 0, 0};
    kry_space sp = {fake_allreduce, &f, 0, 0};

    double d, nrm, c[4];
    ck_assert_int_eq(kry_vec_dot(&sp, n, x, y, &d), KRY_OK);
    ck_assert_close(d, 2.0 * naive_dot(n, x, y), 1e-14);
    ck_assert_uint_eq(f.calls, 1);
    ck_assert_int_eq(kry_vec_nrm2(&sp, n, x, &nrm), KRY_OK);
    ck_assert_close(nrm, sqrt(2.0 * naive_dot(n, x, x)), 1e-14);
    ck_assert_int_eq(kry_vec_gemv_t(&sp, n, k, Q, n, x, c), KRY_OK);
    ck_assert_uint_eq(f.calls, 3);
    ck_assert_uint_eq(f.last_count, k); /* one reduction of k values */
    for (size_t j = 0; j < k; ++j)
        ck_assert_close(c[j], 2.0 * naive_dot(n, Q + j * n, x), 1e-14);

    double buf[3] = {1.5, -2.25, 0.125};
    ck_assert_int_eq(kry_vec_reduce(&sp, buf, 3), KRY_OK);
    ck_assert(buf[0] == 3.0 && buf[1] == -4.5 && buf[2] == 0.25);
    free(x);
    free(y);
    free(Q);
}
END_TEST

/* kry_vec_random uses the space's offset as the global index of entry 0. */
START_TEST(test_random_uses_offset)
{
    const size_t n = 19;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    kry_space sp = {NULL, NULL, 1000, 5000};
    kry_vec_random(&sp, n, 2385, KRY_RNG_STREAM_START, a);
    kry_rng_fill_normal(2385, KRY_RNG_STREAM_START, 1000, n, b);
    ck_assert(memcmp(a, b, n * sizeof *a) == 0);
    kry_vec_random(NULL, n, 2385, KRY_RNG_STREAM_START, a);
    kry_rng_fill_normal(2385, KRY_RNG_STREAM_START, 0, n, b);
    ck_assert(memcmp(a, b, n * sizeof *a) == 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_failing_hook)
{
    const size_t n = 11;
    double *x = randvec(n, 11), *Q = randvec(2 * n, 12), d, c[2];
    fake_reduce f = {0, 0, 1};
    kry_space sp = {fake_allreduce, &f, 0, 0};
    ck_assert_int_eq(kry_vec_dot(&sp, n, x, x, &d), KRY_ECALLBACK);
    ck_assert_int_eq(kry_vec_nrm2(&sp, n, x, &d), KRY_ECALLBACK);
    ck_assert_int_eq(kry_vec_gemv_t(&sp, n, 2, Q, n, x, c), KRY_ECALLBACK);
    ck_assert_int_eq(kry_vec_reduce(&sp, c, 2), KRY_ECALLBACK);
    ck_assert_uint_eq(f.calls, 4);
    free(x);
    free(Q);
}
END_TEST

/* n = 1, k = 0 (no reduction, y untouched) and count = 0 (hook not called). */
START_TEST(test_edge_sizes)
{
    double x = -2.385, y = 0.5, d;
    fake_reduce f = {0, 0, 0};
    kry_space sp = {fake_allreduce, &f, 0, 0};
    ck_assert_int_eq(kry_vec_dot(NULL, 1, &x, &y, &d), KRY_OK);
    ck_assert(d == -1.1925);
    ck_assert_int_eq(kry_vec_nrm2(NULL, 1, &x, &d), KRY_OK);
    ck_assert_close(d, 2.385, 1e-15);

    double c = 7.0;
    ck_assert_int_eq(kry_vec_gemv_t(&sp, 1, 0, &x, 1, &y, &c), KRY_OK);
    ck_assert(c == 7.0);
    kry_vec_gemv_n(1, 0, 1.0, &x, 1, &c, &y);
    ck_assert(y == 0.5);
    ck_assert_int_eq(kry_vec_reduce(&sp, &c, 0), KRY_OK);
    ck_assert_uint_eq(f.calls, 0);
    /* A space without a hook is serial. */
    kry_space serial = {NULL, NULL, 0, 0};
    ck_assert_int_eq(kry_vec_dot(&serial, 1, &x, &x, &d), KRY_OK);
    ck_assert_close(d, 2.385 * 2.385, 1e-15);
    ck_assert_int_eq(kry_vec_isfinite(0, NULL), 1);
}
END_TEST

static Suite *vec_suite(void)
{
    Suite *s = suite_create("vec");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_level1_against_loops);
    tcase_add_test(core, test_gemv_against_loops);
    tcase_add_test(core, test_isfinite);
    tcase_add_test(core, test_reduction_hook_doubles);
    tcase_add_test(core, test_random_uses_offset);
    tcase_add_test(args, test_failing_hook);
    tcase_add_test(edge, test_edge_sizes);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(vec_suite)
