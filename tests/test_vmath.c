/* test_vmath.c — the vectorised cross-entropy terms against long-double references
   (expl, log1pl of the C library: an independent implementation in a wider type), for
   every instruction-set variant the machine runs. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "kry/rng.h"
#include "testops.h"
#include "vmath.h"

/* log(1 + exp(y)) - t y and 1 / (1 + exp(-y)) in long double. */
static long double ref_term(double y, double t)
{
    long double a = y;
    long double sp = a > 0 ? a + log1pl(expl(-a)) : log1pl(expl(a));
    return sp - (long double)t * a;
}

static long double ref_sig(double y)
{
    long double a = y;
    return a >= 0 ? 1.0L / (1.0L + expl(-a)) : expl(a) / (1.0L + expl(a));
}

/* Each term alone (m = 1, the tail path) and all of them in one call (vector path),
   with y over [-800, 800] in a spread of magnitudes, zeros, subnormal-producing and
   near-cancelling values. */
START_TEST(test_against_long_double)
{
    enum { m = 203 };
    double y[m], t[m], sig[m];
    kry_rng_fill_normal(5, 0, 0, m, y);
    for (size_t i = 0; i < m; ++i) {
        double scale = pow(10.0, (double)(i % 7) - 3.0); /* 1e-3 .. 1e3 */
        y[i] *= scale;
        t[i] = i % 3 == 0 ? 1.0 : i % 3 == 1 ? 0.0 : 0.25;
    }
    y[0] = 0.0, y[1] = -0.0, y[2] = 745.0, y[3] = -745.0, y[4] = 800.0, y[5] = -800.0;
    y[6] = 708.3, y[7] = -708.3, y[8] = 1e-300, y[9] = 36.7, y[10] = -36.7;
    for (int isa = 0; isa <= 2; ++isa) {
        long double sum = 0.0L, abs_sum = 0.0L;
        for (size_t i = 0; i < m; ++i) {
            double s1;
            double term = kry_bce_terms_isa(isa, 1, y + i, t + i, &s1);
            long double ref = ref_term(y[i], t[i]);
            /* Relative to the larger of the term and the magnitude of its parts. */
            long double mag = fabsl(ref) + fabsl((long double)t[i] * y[i]) + 1e-300L;
            ck_assert_msg(fabsl((long double)term - ref) <= 8.0L * DBL_EPSILON * mag,
                          "isa %d y %.17g t %g: %.17g vs %.17Lg", isa, y[i], t[i], term, ref);
            long double rs = ref_sig(y[i]);
            /* (plus the subnormal spacing: sigmoid(-745) rounds to the smallest one) */
            ck_assert_msg(fabsl((long double)s1 - rs) <= 4.0L * DBL_EPSILON * rs + 0x1p-1074L,
                          "isa %d sigmoid(%.17g) = %.17g vs %.17Lg", isa, y[i], s1, rs);
            sum += ref;
            abs_sum += mag;
        }
        double all = kry_bce_terms_isa(isa, m, y, t, sig);
        ck_assert_msg(fabsl((long double)all - sum) <= 8.0L * DBL_EPSILON * abs_sum,
                      "isa %d sum %.17g vs %.17Lg", isa, all, sum);
        for (size_t i = 0; i < m; ++i)
            ck_assert(fabsl((long double)sig[i] - ref_sig(y[i])) <=
                      4.0L * DBL_EPSILON * ref_sig(y[i]) + 0x1p-1074L);
    }
}
END_TEST

/* m = 0: zero sum, nothing written; sig may be NULL. */
START_TEST(test_empty_and_null)
{
    double y[3] = {1.0, -2.0, 3.0}, t[3] = {1.0, 0.0, 1.0}, sig[3] = {7.0, 7.0, 7.0};
    ck_assert_double_eq(kry_bce_terms(0, y, t, sig), 0.0);
    ck_assert_double_eq(sig[0], 7.0);
    double a = kry_bce_terms(3, y, t, NULL), b = kry_bce_terms(3, y, t, sig);
    ck_assert_double_eq(a, b);
}
END_TEST

/* NaN in y gives a NaN sum and NaN sigmoid (and leaves the other lanes alone);
   infinite logits give sigmoids 0 and 1 and, with a label against them, an infinite
   loss (IEEE arithmetic: with the label agreeing, -inf * 0 makes the term NaN). */
START_TEST(test_nonfinite)
{
    double y[9] = {0.5, NAN, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, t[9] = {0}, sig[9];
    ck_assert(isnan(kry_bce_terms(9, y, t, sig)));
    ck_assert(isnan(sig[1]));
    ck_assert(!isnan(sig[0]) && !isnan(sig[8]));
    double yi[2] = {-INFINITY, INFINITY}, ti[2] = {1.0, 0.0}, si[2];
    double s = kry_bce_terms(1, yi, ti, si);
    ck_assert(isinf(s) && s > 0);
    ck_assert(isnan(kry_bce_terms(1, yi + 1, ti + 1, si + 1))); /* inf - inf * 0 */
    ck_assert_double_eq(si[0], 0.0);
    ck_assert_double_eq(si[1], 1.0);
}
END_TEST

/* The Adam step against the formulas evaluated here in long double, for n = 221 (the
   vector path and a tail) and n = 5 (tail only); every variant. */
START_TEST(test_adam_against_formula)
{
    const size_t ns[] = {221, 5};
    for (int isa = 0; isa <= 2; ++isa)
        for (size_t c = 0; c < 2; ++c) {
            size_t n = ns[c];
            double *x = test_randvec(n, 11), *m = test_randvec(n, 12), *v = test_randvec(n, 13);
            double *g = test_randvec(n, 14), *x0 = test_randvec(n, 11);
            double *m0 = test_randvec(n, 12), *v0 = test_randvec(n, 13);
            for (size_t i = 0; i < n; ++i)
                v[i] = v0[i] = v0[i] * v0[i];
            const double b1 = 0.9, b2 = 0.999, a = 0.05, c2 = 1.7, eps = 1e-8, wd = 1e-3;
            ck_assert_int_eq(kry_adam_update_isa(isa, n, x, m, v, g, b1, b2, a, c2, eps, wd), 0);
            for (size_t i = 0; i < n; ++i) {
                long double mi = b1 * (long double)m0[i] + (1.0L - b1) * g[i];
                long double vi = b2 * (long double)v0[i] + (1.0L - b2) * (long double)g[i] * g[i];
                long double xi = x0[i] - (a * mi / (sqrtl(vi * c2) + eps) + wd * (long double)x0[i]);
                ck_assert_msg(fabsl(m[i] - mi) <= 4 * DBL_EPSILON * (fabsl(mi) + fabs(g[i])),
                              "isa %d m[%zu]", isa, i);
                ck_assert_msg(fabsl(v[i] - vi) <= 4 * DBL_EPSILON * vi, "isa %d v[%zu]", isa, i);
                ck_assert_msg(fabsl(x[i] - xi) <= 8 * DBL_EPSILON * (fabsl(xi) + a),
                              "isa %d x[%zu] %.17g vs %.17Lg", isa, i, x[i], xi);
            }
            free(x), free(m), free(v), free(g), free(x0), free(m0), free(v0);
        }
}
END_TEST

/* A non-finite gradient anywhere (vector part or tail) writes nothing. */
START_TEST(test_adam_nonfinite)
{
    for (int isa = 0; isa <= 2; ++isa)
        for (size_t at = 0; at < 19; at += 6) {
            double x[19], m[19], v[19], g[19];
            for (size_t i = 0; i < 19; ++i)
                x[i] = m[i] = v[i] = g[i] = 1.0;
            g[at] = at % 2 ? INFINITY : NAN;
            ck_assert_int_eq(kry_adam_update_isa(isa, 19, x, m, v, g, 0.9, 0.99, 0.1, 1.0,
                                                 1e-8, 0.0),
                             -1);
            for (size_t i = 0; i < 19; ++i)
                ck_assert(x[i] == 1.0 && m[i] == 1.0 && v[i] == 1.0);
        }
}
END_TEST

static Suite *vmath_suite(void)
{
    Suite *s = suite_create("vmath");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_against_long_double);
    tcase_add_test(core, test_adam_against_formula);
    tcase_add_test(args, test_empty_and_null);
    tcase_add_test(edge, test_nonfinite);
    tcase_add_test(edge, test_adam_nonfinite);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(vmath_suite)
