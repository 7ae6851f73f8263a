/* test_smallmm.c — the small matrix products against a plain triple loop in long
   double (an independent reference: a different summation in a wider type). */
#include <math.h>
#include <stdlib.h>

#include "kry/rng.h"
#include "smallmm.h"
#include "testops.h"

/* C = (init ? 1 init^T : C) + A B, or C += A^T B (trans), in long double. */
static void ref_mm(int trans, size_t m, size_t nc, size_t kk, const double *A, size_t lda,
                   const double *B, size_t ldb, const double *init, double *C, size_t ldc)
{
    size_t rows = trans ? kk : m, inner = trans ? m : kk;
    for (size_t r = 0; r < rows; ++r)
        for (size_t i = 0; i < nc; ++i) {
            long double s = init ? init[i] : C[r * ldc + i];
            for (size_t j = 0; j < inner; ++j)
                s += (long double)(trans ? A[j * lda + r] : A[r * lda + j]) * B[j * ldb + i];
            C[r * ldc + i] = (double)s;
        }
}

/* Every shape in the grid, with padding in every leading dimension, for each
   instruction-set variant (those the CPU lacks fall back to one it has): the result
   matches the reference to rounding, and entries outside C are untouched. */
static void check_shapes(int trans, int with_init)
{
    for (int isa = 0; isa <= 2; ++isa) {
    const size_t ms[] = {1, 2, 3, 7, 64}, ncs[] = {1, 7, 8, 9, 17, 24, 33, 40},
                 kks[] = {1, 3, 4, 5, 12};
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; ++a)
        for (size_t b = 0; b < sizeof ncs / sizeof ncs[0]; ++b)
            for (size_t c = 0; c < sizeof kks / sizeof kks[0]; ++c) {
                size_t m = ms[a], nc = ncs[b], kk = kks[c];
                size_t arows = m, acols = kk, brows = trans ? m : kk;
                size_t crows = trans ? kk : m;
                size_t lda = acols + 3, ldb = nc + 2, ldc = nc + 5;
                double *A = test_randvec(arows * lda, ++seed);
                double *Bm = test_randvec(brows * ldb, ++seed);
                double *init = with_init ? test_randvec(nc, ++seed) : NULL;
                double *C = test_randvec(crows * ldc, ++seed);
                double *R = test_vec_alloc(crows * ldc);
                for (size_t i = 0; i < crows * ldc; ++i)
                    R[i] = C[i];
                if (trans)
                    kry_mm_tn_isa(isa, m, nc, kk, A, lda, Bm, ldb, C, ldc);
                else
                    kry_mm_nn_isa(isa, m, nc, kk, A, lda, Bm, ldb, init, C, ldc);
                ref_mm(trans, m, nc, kk, A, lda, Bm, ldb, init, R, ldc);
                double scale = (double)(trans ? m : kk) + 1.0;
                for (size_t r = 0; r < crows; ++r)
                    for (size_t i = 0; i < ldc; ++i) {
                        double got = C[r * ldc + i], want = R[r * ldc + i];
                        if (i < nc)
                            ck_assert_msg(fabs(got - want) <= 1e-15 * scale * 4.0,
                                          "isa %d trans %d m %zu nc %zu kk %zu: C[%zu][%zu] "
                                          "%.17g vs %.17g",
                                          isa, trans, m, nc, kk, r, i, got, want);
                        else
                            ck_assert_double_eq(got, want); /* padding untouched */
                    }
                free(A), free(Bm), free(init), free(C), free(R);
            }
    }
}

START_TEST(test_nn_accumulate) { check_shapes(0, 0); }
END_TEST

START_TEST(test_nn_bias_row) { check_shapes(0, 1); }
END_TEST

START_TEST(test_tn_accumulate) { check_shapes(1, 0); }
END_TEST

/* Empty products leave C as it was (nn without init) or set every row to init. */
START_TEST(test_empty)
{
    double A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[4] = {1, 2, 3, 4};
    double init[2] = {-1, -2};
    kry_mm_nn(2, 2, 0, A, 2, B, 2, NULL, C, 2);
    ck_assert_double_eq(C[0], 1.0);
    ck_assert_double_eq(C[3], 4.0);
    kry_mm_tn(0, 2, 2, A, 2, B, 2, C, 2);
    ck_assert_double_eq(C[1], 2.0);
    kry_mm_nn(2, 2, 0, A, 2, B, 2, init, C, 2);
    ck_assert_double_eq(C[0], -1.0);
    ck_assert_double_eq(C[3], -2.0);
    kry_mm_nn(0, 2, 2, A, 2, B, 2, init, C, 2); /* no rows: nothing written */
    ck_assert_double_eq(C[1], -2.0);
}
END_TEST

/* Non-finite inputs propagate as IEEE arithmetic says (no reassociation tricks). */
START_TEST(test_nonfinite)
{
    double A[2] = {INFINITY, 1.0}, B[2 * 8], C[8] = {0};
    for (int i = 0; i < 16; ++i)
        B[i] = 1.0;
    B[8] = NAN;
    kry_mm_nn(1, 8, 2, A, 2, B, 8, NULL, C, 8);
    ck_assert(isnan(C[0]));
    for (int i = 1; i < 8; ++i)
        ck_assert(isinf(C[i]));
}
END_TEST

static Suite *smallmm_suite(void)
{
    Suite *s = suite_create("smallmm");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_nn_accumulate);
    tcase_add_test(core, test_nn_bias_row);
    tcase_add_test(core, test_tn_accumulate);
    tcase_add_test(args, test_empty);
    tcase_add_test(edge, test_nonfinite);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(smallmm_suite)
