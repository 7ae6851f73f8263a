/* test_status.c — kry_strerror and kry_reason_str. */
#include <string.h>

#include "kry/status.h"
#include "testops.h"

START_TEST(test_every_status_has_distinct_text)
{
    for (int a = 0; a < KRY_STATUS_COUNT; ++a) {
        const char *ta = kry_strerror((kry_status)a);
        ck_assert_ptr_nonnull(ta);
        ck_assert_str_ne(ta, "unknown status");
        for (int b = a + 1; b < KRY_STATUS_COUNT; ++b)
            ck_assert_str_ne(ta, kry_strerror((kry_status)b));
    }
    ck_assert_str_eq(kry_strerror(KRY_OK), "success");
}
END_TEST

START_TEST(test_every_reason_has_text)
{
    for (int r = 0; r < KRY_REASON_COUNT; ++r)
        ck_assert_str_ne(kry_reason_str((kry_reason)r), "unknown");
    ck_assert_str_eq(kry_reason_str(KRY_CONVERGED_TOL), "converged");
}
END_TEST

START_TEST(test_out_of_range)
{
    ck_assert_str_eq(kry_strerror((kry_status)KRY_STATUS_COUNT), "unknown status");
    ck_assert_str_eq(kry_strerror((kry_status)-1), "unknown status");
    ck_assert_str_eq(kry_reason_str((kry_reason)99), "unknown");
}
END_TEST

static Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *core = tcase_create("core"), *edge = tcase_create("edge");
    tcase_add_test(core, test_every_status_has_distinct_text);
    tcase_add_test(core, test_every_reason_has_text);
    tcase_add_test(edge, test_out_of_range);
    suite_add_tcase(s, core);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(status_suite)
