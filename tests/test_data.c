/* test_data.c — CSV loader (headers, delimiters, every error with its line), moments,
   standardisation, shuffles and splits. Files live in tests/data_small (the test runs
   in tests/). */
#include <string.h>

#include "kry/data.h"
#include "kry/rng.h"
#include "testops.h"

START_TEST(test_load_header_and_blank_lines)
{
    kry_table t;
    kry_data_error err;
    ck_assert_int_eq(kry_data_load_csv("data_small/ok_header.csv", NULL, &t, &err), KRY_OK);
    ck_assert_uint_eq(t.rows, 2);
    ck_assert_uint_eq(t.cols, 3);
    ck_assert_double_eq(t.v[2], -300.0);
    ck_assert_double_eq(t.v[4], 5.25);
    ck_assert_double_eq(t.v[5], 6.0);
    kry_table_free(&t);
    kry_table_free(&t);
    kry_table_free(NULL);
    kry_csv_params p = kry_csv_params_default();
    p.delim = ' ';
    ck_assert_int_eq(kry_data_load_csv("data_small/ok_space.txt", &p, &t, NULL), KRY_OK);
    ck_assert_uint_eq(t.rows, 2);
    ck_assert_uint_eq(t.cols, 3);
    ck_assert_double_eq(t.v[3], 4.0);
    kry_table_free(&t);
}
END_TEST

START_TEST(test_load_errors)
{
    kry_table t;
    kry_data_error err;
    ck_assert_int_eq(kry_data_load_csv("data_small/bad_cols.csv", NULL, &t, &err), KRY_EFORMAT);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad_cols.csv:2:"));
    ck_assert_ptr_null(t.v);
    ck_assert_int_eq(kry_data_load_csv("data_small/bad_field.csv", NULL, &t, &err), KRY_EFORMAT);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.field, 2);
    ck_assert_int_eq(kry_data_load_csv("data_small/bad_nan.csv", NULL, &t, &err),
                     KRY_ENONFINITE);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_int_eq(kry_data_load_csv("data_small/only_header.csv", NULL, &t, &err),
                     KRY_EFORMAT);
    ck_assert_int_eq(kry_data_load_csv("data_small/no_such_file.csv", NULL, &t, &err), KRY_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "no_such_file.csv"));
    kry_csv_params p = kry_csv_params_default();
    p.header = 0; /* the header is then data, and not numeric */
    ck_assert_int_eq(kry_data_load_csv("data_small/ok_header.csv", &p, &t, &err), KRY_EFORMAT);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_int_eq(kry_data_load_csv(NULL, NULL, &t, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_data_load_csv("x", NULL, NULL, NULL), KRY_EINVAL);
    p.delim = '\0';
    ck_assert_int_eq(kry_data_load_csv("data_small/ok_header.csv", &p, &t, NULL), KRY_EINVAL);
}
END_TEST

START_TEST(test_moments_standardize)
{
    double x[8] = {1.0, 10.0, 3.0, 10.0, 5.0, 10.0, 100.0, -7.0}; /* 4 x 2 */
    size_t idx[3] = {0, 1, 2};
    double mean[2], sd[2];
    ck_assert_int_eq(kry_data_moments(3, 2, x, 2, idx, mean, sd), KRY_OK);
    ck_assert_close(mean[0], 3.0, 1e-15);
    ck_assert_close(sd[0], sqrt(8.0 / 3.0), 1e-15);
    ck_assert_double_eq(sd[1], 1.0); /* constant column */
    ck_assert_int_eq(kry_data_standardize(4, 2, x, 2, mean, sd), KRY_OK);
    ck_assert_close(x[4], 2.0 / sqrt(8.0 / 3.0), 1e-15);
    ck_assert_double_eq(x[5], 0.0);
    ck_assert_int_eq(kry_data_moments(0, 2, x, 2, NULL, mean, sd), KRY_EINVAL);
    ck_assert_int_eq(kry_data_moments(3, 2, x, 1, NULL, mean, sd), KRY_EINVAL);
    sd[0] = 0.0;
    ck_assert_int_eq(kry_data_standardize(4, 2, x, 2, mean, sd), KRY_EINVAL);
}
END_TEST

START_TEST(test_split_shuffle)
{
    size_t idx[101], idx2[101], seen[101] = {0}, ntr;
    ck_assert_int_eq(kry_data_split(101, 0.5, 42, idx, &ntr), KRY_OK);
    ck_assert_uint_eq(ntr, 51);
    for (size_t i = 0; i < 101; ++i)
        seen[idx[i]]++;
    for (size_t i = 0; i < 101; ++i)
        ck_assert_uint_eq(seen[i], 1);
    ck_assert_int_eq(kry_data_split(101, 0.5, 42, idx2, &ntr), KRY_OK);
    ck_assert_int_eq(memcmp(idx, idx2, sizeof idx), 0);
    ck_assert_int_eq(kry_data_split(101, 0.5, 43, idx2, &ntr), KRY_OK);
    ck_assert_int_ne(memcmp(idx, idx2, sizeof idx), 0);
    ck_assert_int_eq(kry_data_split(2, 0.01, 1, idx, &ntr), KRY_OK);
    ck_assert_uint_eq(ntr, 1);
    ck_assert_int_eq(kry_data_split(1, 0.5, 1, idx, &ntr), KRY_EINVAL);
    ck_assert_int_eq(kry_data_split(10, 1.0, 1, idx, &ntr), KRY_EINVAL);
}
END_TEST

/* The shuffle is the documented Fisher–Yates, replayed here with kry_rng_u64 (so a
   seed's permutation, and every split and training run built on it, stays the same
   across versions); and every position is reachable (the first entry of 2000 shuffles
   of 5 takes each value 400 +- 100 times). */
START_TEST(test_shuffle_rule)
{
    size_t idx[37], ref[37];
    kry_data_shuffle(37, 9, 123, idx);
    for (size_t i = 0; i < 37; ++i)
        ref[i] = i;
    for (size_t i = 37; i > 1; --i) {
        size_t j = (size_t)(kry_rng_u64(9, 123, i) % i);
        size_t t = ref[i - 1];
        ref[i - 1] = ref[j];
        ref[j] = t;
    }
    ck_assert_int_eq(memcmp(idx, ref, sizeof idx), 0);
    size_t count[5] = {0}, small[5];
    for (uint64_t sd = 0; sd < 2000; ++sd) {
        kry_data_shuffle(5, sd, 1, small);
        count[small[0]]++;
    }
    for (size_t v = 0; v < 5; ++v)
        ck_assert_msg(count[v] > 300 && count[v] < 500, "value %zu first %zu times", v,
                      count[v]);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_load_header_and_blank_lines);
    tcase_add_test(core, test_moments_standardize);
    tcase_add_test(args, test_load_errors);
    tcase_add_test(edge, test_split_shuffle);
    tcase_add_test(core, test_shuffle_rule);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(data_suite)
