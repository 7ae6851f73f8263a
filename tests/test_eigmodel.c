/* test_eigmodel.c — the eigenvalue-model layer: forward against LAPACK on the assembled
   matrices, backward against central differences, optimiser pieces, and a tiny
   training run whose loss must fall. */
#include <lapacke.h>
#include <string.h>

#include "kry/eigmodel.h"
#include "kry/optim.h"
#include "kry/rng.h"
#include "testops.h"

/* lambda_k of the model at x, by dstebz on the matrix assembled with naive loops. */
static double ref_forward(size_t n, size_t p, size_t k, const double *th, const double *x)
{
    const double *D = th, *d0 = D + n * p, *E = d0 + n, *e0 = E + (n - 1) * p;
    double d[64], e[64] = {0}, w[64];
    lapack_int m, ns, ib[64], is[64];
    for (size_t i = 0; i < n; ++i) {
        d[i] = d0[i];
        for (size_t j = 0; j < p; ++j)
            d[i] += D[i * p + j] * x[j];
    }
    for (size_t i = 0; i + 1 < n; ++i) {
        e[i] = e0[i];
        for (size_t j = 0; j < p; ++j)
            e[i] += E[i * p + j] * x[j];
    }
    ck_assert_int_eq(LAPACKE_dstebz('I', 'E', (lapack_int)n, 0, 0, (lapack_int)k + 1,
                                    (lapack_int)k + 1, 0.0, d, e, &m, &ns, w, ib, is),
                     0);
    return w[0];
}

/* Forward against LAPACK on the dense matrix, backward against central differences,
   for a small shape and for kry train's (n = 9, k = 4) with p and the batch chosen so
   that the products' row and column blocks all have tails. */
static void check_forward_backward_fd(size_t n, size_t p, size_t k, size_t B)
{
    kry_eigmodel *m = kry_eigmodel_alloc(n, p, k, B);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(kry_eigmodel_nparams(m), n * p + n + (n - 1) * p + (n - 1));
    ck_assert_int_eq(kry_eigmodel_init(m, 2385, 1.0), KRY_OK);
    size_t np = kry_eigmodel_nparams(m);
    double *th = kry_eigmodel_params(m);
    double *X = test_vec_alloc(B * p), *y = test_vec_alloc(B), *gy = test_vec_alloc(B);
    double *gth = test_vec_alloc(np), *gx = test_vec_alloc(B * p);
    for (size_t b = 0; b < B; ++b)
        gy[b] = 0.5 - 0.37 * (double)b + 0.05 * (double)(b * b % 7);
    kry_rng_fill_normal(7, KRY_RNG_STREAM_TEST, 0, B * p, X);
    ck_assert_int_eq(kry_eigmodel_forward(m, B, X, p, 1, y, NULL), KRY_OK);
    for (size_t b = 0; b < B; ++b)
        ck_assert_close(y[b], ref_forward(n, p, k, th, X + b * p), 1e-13);
    ck_assert_int_eq(kry_eigmodel_backward(m, B, X, p, gy, gth, gx, p), KRY_OK);
    const double h = 1e-6;
    /* L = sum_b gy_b y_b: every parameter and every input against central differences. */
    for (size_t i = 0; i < np; ++i) {
        double s = th[i], lp = 0, lm = 0;
        th[i] = s + h;
        for (size_t b = 0; b < B; ++b)
            lp += gy[b] * ref_forward(n, p, k, th, X + b * p);
        th[i] = s - h;
        for (size_t b = 0; b < B; ++b)
            lm += gy[b] * ref_forward(n, p, k, th, X + b * p);
        th[i] = s;
        ck_assert_msg(fabs(gth[i] - (lp - lm) / (2 * h)) <= 1e-7 * fmax(1, fabs(gth[i])),
                      "theta %zu: %.10g vs %.10g", i, gth[i], (lp - lm) / (2 * h));
    }
    for (size_t i = 0; i < B * p; ++i) {
        double s = X[i];
        size_t b = i / p;
        X[i] = s + h;
        double lp = gy[b] * ref_forward(n, p, k, th, X + b * p);
        X[i] = s - h;
        double lm = gy[b] * ref_forward(n, p, k, th, X + b * p);
        X[i] = s;
        ck_assert_msg(fabs(gx[i] - (lp - lm) / (2 * h)) <= 1e-7 * fmax(1, fabs(gx[i])), "x %zu",
                      i);
    }
    kry_eigmodel_free(m);
    free(X), free(y), free(gy), free(gth), free(gx);
}

START_TEST(test_forward_backward_fd)
{
    check_forward_backward_fd(7, 4, 3, 5);
    check_forward_backward_fd(9, 13, 4, 11);
}
END_TEST

/* Tiny run: 64 random inputs, target sign of x_0 x_1; Adam for 40 steps. */
START_TEST(test_training_decreases_loss)
{
    size_t n = 5, p = 3, B = 64;
    kry_eigmodel *m = kry_eigmodel_alloc(n, p, 2, B);
    ck_assert_int_eq(kry_eigmodel_init(m, 11, 1.0), KRY_OK);
    double X[192], t[64], y[64], gy[64], gth[64];
    kry_rng_fill_normal(3, KRY_RNG_STREAM_TEST, 0, B * p, X);
    for (size_t b = 0; b < B; ++b)
        t[b] = X[b * p] * X[b * p + 1] > 0 ? 1.0 : 0.0;
    size_t np = kry_eigmodel_nparams(m);
    kry_optim_params op = kry_optim_params_default();
    op.lr_max = 0.1;
    kry_optim *o = kry_optim_alloc(np, 40, &op);
    ck_assert_ptr_nonnull(o);
    double first = 0, last = 0;
    for (int s = 0; s < 40; ++s) {
        ck_assert_int_eq(kry_eigmodel_forward(m, B, X, p, 1, y, NULL), KRY_OK);
        double l = kry_optim_loss_bce(B, y, t, gy);
        if (s == 0)
            first = l;
        last = l;
        ck_assert_int_eq(kry_eigmodel_backward(m, B, X, p, gy, gth, NULL, 0), KRY_OK);
        ck_assert_int_eq(kry_optim_step(o, kry_eigmodel_params(m), gth, NULL), KRY_OK);
    }
    ck_assert_msg(last < 0.8 * first, "loss %g -> %g", first, last);
    kry_optim_free(o);
    kry_eigmodel_free(m);
}
END_TEST

START_TEST(test_optim_pieces)
{
    kry_optim_params op = kry_optim_params_default();
    op.lr_max = 1.0;
    op.warmup_frac = 0.25;
    op.div_start = 10;
    op.div_final = 100;
    kry_optim *o = kry_optim_alloc(1, 101, &op);
    ck_assert_close(kry_optim_lr(o, 0), 0.1, 1e-15);
    ck_assert_close(kry_optim_lr(o, 25), 1.0, 1e-15);
    ck_assert_close(kry_optim_lr(o, 100), 0.01, 1e-15);
    ck_assert_close(kry_optim_lr(o, 500), 0.01, 1e-15);
    ck_assert(kry_optim_lr(o, 60) < 1.0 && kry_optim_lr(o, 60) > 0.01);
    double x = 1.0, g = NAN;
    ck_assert_int_eq(kry_optim_step(o, &x, &g, NULL), KRY_ENONFINITE);
    ck_assert_int_eq(kry_optim_step(NULL, &x, &g, NULL), KRY_EINVAL);
    kry_optim_free(o);
    kry_optim_free(NULL);
    op.momentum = 1.5;
    ck_assert_ptr_null(kry_optim_alloc(1, 10, &op));
    ck_assert_ptr_null(kry_optim_alloc(0, 10, NULL));
    /* Losses against direct formulas. */
    double yv[2] = {0.7, -30.0}, tv[2] = {1.0, 0.0}, gr[2];
    double bce = kry_optim_loss_bce(2, yv, tv, gr);
    ck_assert_close(bce, 0.5 * (log(1 + exp(-0.7)) + log(1 + exp(-30.0))), 1e-15);
    ck_assert_close(gr[0], 0.5 * (1 / (1 + exp(-0.7)) - 1), 1e-15);
    ck_assert_close(gr[1], 0.5 * exp(-30.0) / (1 + exp(-30.0)), 1e-15);
    ck_assert_close(kry_optim_loss_mse(2, yv, tv, gr), 0.5 * (0.09 + 900.0), 1e-15);
    kry_early_stop es = kry_early_stop_init(2, 0.0);
    int imp;
    ck_assert_int_eq(kry_early_stop_update(&es, 0, 1.0, &imp), 0);
    ck_assert_int_eq(imp, 1);
    ck_assert_int_eq(kry_early_stop_update(&es, 1, 1.5, &imp), 0);
    ck_assert_int_eq(kry_early_stop_update(&es, 2, 1.2, &imp), 1);
    ck_assert_uint_eq(es.best_epoch, 0);
}
END_TEST

START_TEST(test_args)
{
    ck_assert_ptr_null(kry_eigmodel_alloc(0, 3, 0, 4));
    ck_assert_ptr_null(kry_eigmodel_alloc(3, 0, 0, 4));
    ck_assert_ptr_null(kry_eigmodel_alloc(3, 2, 3, 4));
    ck_assert_ptr_null(kry_eigmodel_alloc(3, 2, 0, 0));
    kry_eigmodel_free(NULL);
    ck_assert_uint_eq(kry_eigmodel_nparams(NULL), 0);
    kry_eigmodel *m = kry_eigmodel_alloc(3, 2, 1, 4);
    double X[10] = {1, 2, 3, 4, 5, 6, 7, 8}, y[5], gy[4] = {1, 1, 1, 1}, g[32];
    ck_assert_int_eq(kry_eigmodel_init(m, 1, 0.0), KRY_EINVAL);
    ck_assert_int_eq(kry_eigmodel_init(m, 1, 1.0), KRY_OK);
    ck_assert_int_eq(kry_eigmodel_set_tridiag(m, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_eigmodel_forward(m, 5, X, 2, 1, y, NULL), KRY_EDIM);
    ck_assert_int_eq(kry_eigmodel_forward(m, 0, X, 2, 1, y, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_eigmodel_forward(m, 4, X, 1, 1, y, NULL), KRY_EINVAL);
    /* backward before a forward with gradients */
    ck_assert_int_eq(kry_eigmodel_backward(m, 4, X, 2, gy, g, NULL, 0), KRY_EINVAL);
    ck_assert_int_eq(kry_eigmodel_forward(m, 4, X, 2, 0, y, NULL), KRY_OK);
    ck_assert_int_eq(kry_eigmodel_backward(m, 4, X, 2, gy, g, NULL, 0), KRY_EINVAL);
    X[3] = NAN;
    ck_assert_int_eq(kry_eigmodel_forward(m, 4, X, 2, 1, y, NULL), KRY_ENONFINITE);
    X[3] = 4;
    size_t nt = 9;
    ck_assert_int_eq(kry_eigmodel_forward(m, 4, X, 2, 1, y, &nt), KRY_OK);
    ck_assert_uint_eq(nt, 0);
    ck_assert_int_eq(kry_eigmodel_backward(m, 3, X, 2, gy, g, NULL, 0), KRY_EINVAL);
    ck_assert_int_eq(kry_eigmodel_backward(m, 4, X, 2, gy, g, g, 1), KRY_EINVAL);
    ck_assert_int_eq(kry_eigmodel_backward(m, 4, X, 2, gy, g, NULL, 0), KRY_OK);
    kry_eigmodel_free(m);
}
END_TEST

START_TEST(test_n1)
{
    /* n = 1: y = D x + d0 exactly, gradients x and 1. */
    kry_eigmodel *m = kry_eigmodel_alloc(1, 2, 0, 2);
    double *th = kry_eigmodel_params(m);
    th[0] = 2.385, th[1] = -1.5, th[2] = 0.25;
    double X[4] = {1.0, 2.0, -0.5, 3.0}, y[2], gy[2] = {1.0, 2.0}, g[3], gx[4];
    ck_assert_int_eq(kry_eigmodel_forward(m, 2, X, 2, 1, y, NULL), KRY_OK);
    ck_assert_close(y[0], 2.385 - 3.0 + 0.25, 1e-15);
    ck_assert_int_eq(kry_eigmodel_backward(m, 2, X, 2, gy, g, gx, 2), KRY_OK);
    ck_assert_close(g[0], 1.0 * 1.0 + 2.0 * -0.5, 1e-15);
    ck_assert_close(g[2], 3.0, 1e-15);
    ck_assert_close(gx[3], 2.0 * -1.5, 1e-15);
    kry_eigmodel_free(m);
}
END_TEST

static Suite *eigmodel_suite(void)
{
    Suite *s = suite_create("eigmodel");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_forward_backward_fd);
    tcase_add_test(core, test_training_decreases_loss);
    tcase_add_test(core, test_optim_pieces);
    tcase_add_test(args, test_args);
    tcase_add_test(edge, test_n1);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(eigmodel_suite)
