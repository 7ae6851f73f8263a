/* test_operator.c — the operator interface and its constructors (kry/operator.h):
   dense, tridiagonal, pencil, finite-difference HVP, shift/scale/deflated wrappers and
   the symmetry probe. References are naive loops, LAPACK (dsyevr), central finite
   differences of w^T A(theta) u, and exact gradients/Hessians written out by hand. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kry/operator.h"
#include "kry/rng.h"
#include "testops.h"

/* ---------------------------------------------------------------- helpers ---- */

static double nrmn(size_t n, const double *x) { return sqrt(test_dot(n, x, x)); }

/* |a - b| / |b| over vectors. */
static double rel_err(size_t n, const double *a, const double *b)
{
    double num = 0.0;
    for (size_t i = 0; i < n; ++i)
        num += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(num) / nrmn(n, b);
}

/* y = A x for a full row-major n x n matrix. */
static void naive_matvec(size_t n, const double *a, const double *x, double *y)
{
    for (size_t i = 0; i < n; ++i)
        y[i] = test_dot(n, a + i * n, x);
}

/* y = T x for the tridiagonal (d, e). */
static void naive_tridiag(size_t n, const double *d, const double *e, const double *x,
                          double *y)
{
    for (size_t i = 0; i < n; ++i) {
        double s = d[i] * x[i];
        if (i > 0)
            s += e[i - 1] * x[i - 1];
        if (i + 1 < n)
            s += e[i] * x[i + 1];
        y[i] = s;
    }
}

/* w^T A u through kry_operator_apply. */
static double bilinear(const kry_operator *op, const double *u, const double *w)
{
    double *au = test_vec_alloc(op->n);
    ck_assert_int_eq(kry_operator_apply(op, u, au), KRY_OK);
    double s = test_dot(op->n, w, au);
    free(au);
    return s;
}

/* Dense matrix of an operator, column by column (row-major result). */
static double *op_to_dense(const kry_operator *op)
{
    size_t n = op->n;
    double *a = test_vec_alloc(n * n), *e = test_vec_alloc(n), *col = test_vec_alloc(n);
    for (size_t j = 0; j < n; ++j) {
        memset(e, 0, n * sizeof *e);
        e[j] = 1.0;
        ck_assert_int_eq(kry_operator_apply(op, e, col), KRY_OK);
        for (size_t i = 0; i < n; ++i)
            a[i * n + j] = col[i];
    }
    free(e);
    free(col);
    return a;
}

/* Callbacks for error paths. */
static int failing_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    (void)x;
    (void)y;
    return 7;
}

static int nan_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    size_t n = *(const size_t *)ctx;
    for (size_t i = 0; i < n; ++i)
        y[i] = x[i];
    y[n / 2] = NAN;
    return 0;
}

static int dummy_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    (void)x;
    (void)y;
    return 0;
}

/* y = R x with R = [[0, 1], [-1, 0]], skew-symmetric: as nonsymmetric as it gets. */
static int rotation_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    y[0] = x[1];
    y[1] = -x[0];
    return 0;
}

static int failing_vjp(void *ctx, const double *restrict u, const double *restrict w,
                       double *restrict grad)
{
    (void)ctx;
    (void)u;
    (void)w;
    (void)grad;
    return 5;
}

typedef struct fake_reduce {
    size_t calls;
    int fail;
} fake_reduce;

/* Two identical ranks: the reduced sum doubles the local buffer. */
static int doubling_allreduce(void *ctx, double *buf, size_t count)
{
    fake_reduce *f = ctx;
    f->calls++;
    if (f->fail)
        return 1;
    for (size_t i = 0; i < count; ++i)
        buf[i] *= 2.0;
    return 0;
}

/* ------------------------------------------------------------ dense etc. ---- */

/* Dense: dsymv on the upper triangle of a padded row-major matrix whose lower triangle
   and padding hold NaN (which must never be read). */
START_TEST(test_dense_product)
{
    const size_t n = 13, lda = 16;
    double *full = test_random_gaussian_symmetric(n, 2385);
    double *a = test_vec_alloc(n * lda);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < lda; ++j)
            a[i * lda + j] = (j >= i && j < n) ? full[i * n + j] : NAN;
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, a, lda, &op), KRY_OK);
    ck_assert_uint_eq(op.n, n);
    ck_assert_uint_eq(op.n_params, n * n);
    ck_assert(op.param_vjp != NULL);
    free(a); /* the operator holds a copy */

    double *x = test_randvec(n, 1), *y = test_vec_alloc(n), *yr = test_vec_alloc(n);
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
    naive_matvec(n, full, x, yr);
    ck_assert_double_lt(rel_err(n, y, yr), 1e-14);

    /* Block product: k = 3 columns with leading dimensions larger than n. */
    ck_assert(op.matvec_block != NULL);
    const size_t k = 3, ldx = n + 2, ldy = n + 5;
    double *X = test_randvec(ldx * k, 2), *Y = test_vec_alloc(ldy * k);
    for (size_t i = 0; i < ldy * k; ++i)
        Y[i] = -99.5;
    ck_assert_int_eq(op.matvec_block(op.ctx, k, X, ldx, Y, ldy), 0);
    for (size_t j = 0; j < k; ++j) {
        naive_matvec(n, full, X + j * ldx, yr);
        ck_assert_double_lt(rel_err(n, Y + j * ldy, yr), 1e-14);
        for (size_t i = n; i < ldy; ++i)
            ck_assert(Y[j * ldy + i] == -99.5); /* padding untouched */
    }
    ck_assert_int_eq(op.matvec_block(op.ctx, 0, X, ldx, Y, ldy), 0);
    ck_assert_int_ne(op.matvec_block(op.ctx, k, X, n - 1, Y, ldy), 0);

    kry_operator_destroy(&op);
    ck_assert_ptr_null(op.ctx);
    ck_assert(op.matvec == NULL);
    free(full);
    free(x);
    free(y);
    free(yr);
    free(X);
    free(Y);
}
END_TEST

START_TEST(test_tridiag_matvec)
{
    const size_t n = 11;
    double *d = test_randvec(n, 3), *e = test_randvec(n - 1, 4);
    kry_operator op;
    ck_assert_int_eq(kry_operator_tridiag(n, d, e, &op), KRY_OK);
    ck_assert_uint_eq(op.n_params, 2 * n - 1);
    double *x = test_randvec(n, 5), *y = test_vec_alloc(n), *yr = test_vec_alloc(n);
    naive_tridiag(n, d, e, x, yr);
    d[0] = e[0] = 1e9; /* the operator holds a copy */
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
    ck_assert_double_lt(rel_err(n, y, yr), 1e-15);
    kry_operator_destroy(&op);
    free(d);
    free(e);
    free(x);
    free(y);
    free(yr);
}
END_TEST

/* Pencil: A(x) = A_0 + sum x_i A_i with the point starting at zero. */
START_TEST(test_pencil_matvec)
{
    const size_t n = 9, p = 3;
    double *d0 = test_randvec(n, 6), *e0 = test_randvec(n - 1, 7);
    double *D = test_randvec(n * p, 8), *E = test_randvec((n - 1) * p, 9);
    kry_operator op;
    ck_assert_int_eq(kry_operator_pencil(n, p, d0, e0, D, E, &op), KRY_OK);
    ck_assert_uint_eq(op.n_params, p);
    double *v = test_randvec(n, 10), *y = test_vec_alloc(n), *yr = test_vec_alloc(n);

    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    naive_tridiag(n, d0, e0, v, yr);
    ck_assert_double_lt(rel_err(n, y, yr), 1e-15);

    const double pts[2][3] = {{0.375, -1.25, 2.0625}, {-0.8125, 0.0, 3.3}};
    double d[9], e[8];
    for (int t = 0; t < 2; ++t) {
        ck_assert_int_eq(kry_pencil_set_point(&op, pts[t]), KRY_OK);
        for (size_t r = 0; r < n; ++r) {
            d[r] = d0[r];
            for (size_t i = 0; i < p; ++i)
                d[r] += D[r * p + i] * pts[t][i];
        }
        for (size_t r = 0; r + 1 < n; ++r) {
            e[r] = e0[r];
            for (size_t i = 0; i < p; ++i)
                e[r] += E[r * p + i] * pts[t][i];
        }
        ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
        naive_tridiag(n, d, e, v, yr);
        ck_assert_double_lt(rel_err(n, y, yr), 1e-14);
    }
    kry_operator_destroy(&op);
    free(d0);
    free(e0);
    free(D);
    free(E);
    free(v);
    free(y);
    free(yr);
}
END_TEST

/* Dense param_vjp against central differences of f = w^T A u. The operator reads the
   upper triangle only, so perturbing entry (i, j), i <= j, moves both A_ij and A_ji:
   the finite difference must equal grad[i n + j] + grad[j n + i] (once for i == j). */
START_TEST(test_dense_param_vjp_fd)
{
    const size_t n = 5;
    double *a = test_random_gaussian_symmetric(n, 77);
    double *u = test_randvec(n, 11), *w = test_randvec(n, 12);
    double grad[25];
    for (size_t i = 0; i < n * n; ++i)
        grad[i] = 0.4375; /* param_vjp adds into grad */
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(n, a, n, &op), KRY_OK);
    ck_assert_int_eq(op.param_vjp(op.ctx, u, w, grad), 0);
    kry_operator_destroy(&op);
    for (size_t i = 0; i < n * n; ++i)
        grad[i] -= 0.4375;
    /* The documented, unsymmetrised layout. */
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            ck_assert_close(grad[i * n + j], w[i] * u[j], 1e-15);

    const double h = 1e-4;
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i; j < n; ++j) {
            double keep = a[i * n + j], f[2];
            for (int s = 0; s < 2; ++s) {
                a[i * n + j] = keep + (s == 0 ? h : -h);
                ck_assert_int_eq(kry_operator_dense(n, a, n, &op), KRY_OK);
                f[s] = bilinear(&op, u, w);
                kry_operator_destroy(&op);
            }
            a[i * n + j] = keep;
            double fd = (f[0] - f[1]) / (2.0 * h);
            double g = i == j ? grad[i * n + i] : grad[i * n + j] + grad[j * n + i];
            ck_assert_close(g, fd, 1e-9);
        }
    free(a);
    free(u);
    free(w);
}
END_TEST

START_TEST(test_tridiag_param_vjp_fd)
{
    const size_t n = 7, np = 2 * n - 1;
    double *de = test_randvec(np, 13); /* d = de[0..n), e = de[n..2n-1) */
    double *u = test_randvec(n, 14), *w = test_randvec(n, 15);
    double grad[13];
    for (size_t i = 0; i < np; ++i)
        grad[i] = -1.625;
    kry_operator op;
    ck_assert_int_eq(kry_operator_tridiag(n, de, de + n, &op), KRY_OK);
    ck_assert_int_eq(op.param_vjp(op.ctx, u, w, grad), 0);
    kry_operator_destroy(&op);

    const double h = 1e-4;
    for (size_t q = 0; q < np; ++q) {
        double keep = de[q], f[2];
        for (int s = 0; s < 2; ++s) {
            de[q] = keep + (s == 0 ? h : -h);
            ck_assert_int_eq(kry_operator_tridiag(n, de, de + n, &op), KRY_OK);
            f[s] = bilinear(&op, u, w);
            kry_operator_destroy(&op);
        }
        de[q] = keep;
        ck_assert_close(grad[q] + 1.625, (f[0] - f[1]) / (2.0 * h), 1e-9);
    }
    free(de);
    free(u);
    free(w);
}
END_TEST

START_TEST(test_pencil_param_vjp_fd)
{
    const size_t n = 8, p = 4;
    double *d0 = test_randvec(n, 16), *e0 = test_randvec(n - 1, 17);
    double *D = test_randvec(n * p, 18), *E = test_randvec((n - 1) * p, 19);
    double *u = test_randvec(n, 20), *w = test_randvec(n, 21);
    double x[4] = {0.3125, -2.1, 0.77, 1.0625}, grad[4] = {0.5, 0.5, 0.5, 0.5};
    kry_operator op;
    ck_assert_int_eq(kry_operator_pencil(n, p, d0, e0, D, E, &op), KRY_OK);
    ck_assert_int_eq(kry_pencil_set_point(&op, x), KRY_OK);
    ck_assert_int_eq(op.param_vjp(op.ctx, u, w, grad), 0);

    const double h = 1e-4;
    for (size_t i = 0; i < p; ++i) {
        double keep = x[i], f[2];
        for (int s = 0; s < 2; ++s) {
            x[i] = keep + (s == 0 ? h : -h);
            ck_assert_int_eq(kry_pencil_set_point(&op, x), KRY_OK);
            f[s] = bilinear(&op, u, w);
        }
        x[i] = keep;
        ck_assert_close(grad[i] - 0.5, (f[0] - f[1]) / (2.0 * h), 1e-9);
    }
    kry_operator_destroy(&op);
    free(d0);
    free(e0);
    free(D);
    free(E);
    free(u);
    free(w);
}
END_TEST

/* Shift and scale against the explicit formulas, applied to a user callback and to a
   kry dense operator (whose param_vjp and matvec_block they forward). */
START_TEST(test_shift_scale)
{
    const size_t n = 10;
    double *full = test_random_gaussian_symmetric(n, 31);
    test_dense td = {n, full, 0};
    kry_operator user = test_dense_op(&td), dense, sh, sc;
    ck_assert_int_eq(kry_operator_dense(n, full, n, &dense), KRY_OK);
    double *x = test_randvec(n, 22), *y = test_vec_alloc(n), *yr = test_vec_alloc(n);
    const double sigma = 1.7325, s = -0.6125;
    naive_matvec(n, full, x, yr);

    ck_assert_int_eq(kry_operator_shift(&user, sigma, &sh), KRY_OK);
    ck_assert(sh.param_vjp == NULL);
    ck_assert(sh.matvec_block == NULL);
    ck_assert_int_eq(kry_operator_apply(&sh, x, y), KRY_OK);
    for (size_t i = 0; i < n; ++i)
        ck_assert_close(y[i], yr[i] - sigma * x[i], 1e-14);
    kry_operator_destroy(&sh);

    ck_assert_int_eq(kry_operator_scale(&user, s, &sc), KRY_OK);
    ck_assert(sc.param_vjp == NULL);
    ck_assert_int_eq(kry_operator_apply(&sc, x, y), KRY_OK);
    for (size_t i = 0; i < n; ++i)
        ck_assert_close(y[i], s * yr[i], 1e-14);
    kry_operator_destroy(&sc);
    ck_assert_uint_eq(td.matvecs, 2);

    /* Forwarding of param_vjp and matvec_block. */
    double *u = test_randvec(n, 23), *w = test_randvec(n, 24), *g = test_vec_alloc(n * n);
    const size_t k = 2;
    double *X = test_randvec(n * k, 25), *Y = test_vec_alloc(n * k);

    ck_assert_int_eq(kry_operator_shift(&dense, sigma, &sh), KRY_OK);
    ck_assert_uint_eq(sh.n_params, n * n);
    memset(g, 0, n * n * sizeof *g);
    ck_assert_int_eq(sh.param_vjp(sh.ctx, u, w, g), 0);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            ck_assert_close(g[i * n + j], w[i] * u[j], 1e-15);
    ck_assert_int_eq(sh.matvec_block(sh.ctx, k, X, n, Y, n), 0);
    for (size_t j = 0; j < k; ++j) {
        naive_matvec(n, full, X + j * n, yr);
        for (size_t i = 0; i < n; ++i)
            ck_assert_close(Y[j * n + i], yr[i] - sigma * X[j * n + i], 1e-14);
    }
    kry_operator_destroy(&sh);

    ck_assert_int_eq(kry_operator_scale(&dense, s, &sc), KRY_OK);
    ck_assert_uint_eq(sc.n_params, n * n);
    for (size_t i = 0; i < n * n; ++i)
        g[i] = 2.25;
    ck_assert_int_eq(sc.param_vjp(sc.ctx, u, w, g), 0);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            ck_assert_close(g[i * n + j], 2.25 + s * w[i] * u[j], 1e-15);
    ck_assert_int_eq(sc.matvec_block(sc.ctx, k, X, n, Y, n), 0);
    for (size_t j = 0; j < k; ++j) {
        naive_matvec(n, full, X + j * n, yr);
        for (size_t i = 0; i < n; ++i)
            ck_assert_close(Y[j * n + i], s * yr[i], 1e-14);
    }
    kry_operator_destroy(&sc);

    kry_operator_destroy(&dense);
    free(full);
    free(x);
    free(y);
    free(yr);
    free(u);
    free(w);
    free(g);
    free(X);
    free(Y);
}
END_TEST

/* Deflating eigenpairs of a diagonal matrix replaces their eigenvalues by zero. */
START_TEST(test_deflated_diagonal)
{
    const size_t n = 9, k = 3, ldv = 12;
    double dvals[9] = {4.25, -1.5, 3.125, 0.875, 7.5, -2.75, 1.375, 5.0625, 2.3};
    test_diag td = {n, dvals, 0};
    kry_operator a = test_diag_op(&td), def;
    const size_t idx[3] = {4, 5, 7}; /* deflate 7.5, -2.75, 5.0625 */
    double *V = test_vec_alloc(ldv * k), lambda[3];
    for (size_t j = 0; j < ldv * k; ++j)
        V[j] = NAN; /* padding rows are never read */
    for (size_t j = 0; j < k; ++j) {
        for (size_t i = 0; i < n; ++i)
            V[j * ldv + i] = i == idx[j] ? 1.0 : 0.0;
        lambda[j] = dvals[idx[j]];
    }
    ck_assert_int_eq(kry_operator_deflated(&a, k, lambda, V, ldv, &def), KRY_OK);
    ck_assert(def.param_vjp == NULL);
    free(V); /* copied */
    double *m = op_to_dense(&def), w[9], expect[9];
    ck_assert_int_eq(test_dsyevr(n, m, w, NULL), 0);
    memcpy(expect, dvals, sizeof expect);
    for (size_t j = 0; j < k; ++j)
        expect[idx[j]] = 0.0;
    qsort(expect, n, sizeof *expect, test_cmp_double);
    for (size_t i = 0; i < n; ++i)
        ck_assert_close(w[i], expect[i], 1e-14);
    kry_operator_destroy(&def);
    free(m);
}
END_TEST

/* Deflated operator against y = A x - V diag(lambda) V^T x with a general V, serially
   and with a doubling reduction hook (two identical ranks: V^T x doubles). */
START_TEST(test_deflated_formula_and_space)
{
    const size_t n = 12, k = 4;
    double *full = test_random_gaussian_symmetric(n, 41);
    test_dense td = {n, full, 0};
    fake_reduce f = {0, 0};
    kry_space sp = {doubling_allreduce, &f, 0, 0};
    kry_operator a = test_dense_op(&td), def;
    double *V = test_randvec(n * k, 26), *x = test_randvec(n, 27), *y = test_vec_alloc(n);
    double *yr = test_vec_alloc(n), lambda[4] = {2.5, -0.75, 1.125, 3.875};
    for (int dist = 0; dist < 2; ++dist) {
        a.space = dist ? &sp : NULL;
        ck_assert_int_eq(kry_operator_deflated(&a, k, lambda, V, n, &def), KRY_OK);
        ck_assert_ptr_eq(def.space, a.space);
        ck_assert_int_eq(kry_operator_apply(&def, x, y), KRY_OK);
        naive_matvec(n, full, x, yr);
        for (size_t j = 0; j < k; ++j) {
            double c = (dist ? 2.0 : 1.0) * lambda[j] * test_dot(n, V + j * n, x);
            for (size_t i = 0; i < n; ++i)
                yr[i] -= c * V[j * n + i];
        }
        ck_assert_double_lt(rel_err(n, y, yr), 1e-14);
        kry_operator_destroy(&def);
    }
    ck_assert_uint_eq(f.calls, 1);
    free(full);
    free(V);
    free(x);
    free(y);
    free(yr);
}
END_TEST

START_TEST(test_symmetry_probe)
{
    const size_t n = 40;
    double *full = test_random_gaussian_symmetric(n, 51), rel = -1.0;
    kry_operator dense, tri;
    ck_assert_int_eq(kry_operator_dense(n, full, n, &dense), KRY_OK);
    ck_assert_int_eq(kry_operator_symmetry(&dense, 3, &rel), KRY_OK);
    ck_assert_double_ge(rel, 0.0);
    ck_assert_double_lt(rel, 1e-15 * (double)n);
    double *d = test_randvec(n, 52), *e = test_randvec(n - 1, 53);
    ck_assert_int_eq(kry_operator_tridiag(n, d, e, &tri), KRY_OK);
    ck_assert_int_eq(kry_operator_symmetry(&tri, 4, &rel), KRY_OK);
    ck_assert_double_lt(rel, 1e-15 * (double)n);
    /* Same seed, same answer. */
    double rel2;
    ck_assert_int_eq(kry_operator_symmetry(&tri, 4, &rel2), KRY_OK);
    ck_assert(rel == rel2);

    /* The hand-made skew-symmetric callback: rel = |sin(angle(x, y))|, O(1). */
    kry_operator rot;
    ck_assert_int_eq(kry_operator_callback(2, rotation_matvec, NULL, &rot), KRY_OK);
    ck_assert_int_eq(kry_operator_symmetry(&rot, 5, &rel), KRY_OK);
    ck_assert_double_gt(rel, 0.05);
    ck_assert_double_le(rel, 1.0 + 1e-15);
    kry_operator_destroy(&dense);
    kry_operator_destroy(&tri);
    free(full);
    free(d);
    free(e);
}
END_TEST

/* ------------------------------------------------------------- FD-HVP ---- */

/* f = 0.5 theta^T A theta + b^T theta: g = A theta + b, H = A. */
typedef struct quad_ctx {
    size_t n;
    const double *a, *b;
    const double *user_theta; /* the gradient must never be evaluated at this pointer */
    size_t calls;
    int fail_at; /* 1-based call number that fails; 0: never */
} quad_ctx;

static int quad_grad(void *ctx, const double *restrict theta, double *restrict g)
{
    quad_ctx *q = ctx;
    q->calls++;
    if (theta == q->user_theta)
        return 99;
    if (q->fail_at != 0 && q->calls == (size_t)q->fail_at)
        return -1;
    naive_matvec(q->n, q->a, theta, g);
    for (size_t i = 0; i < q->n; ++i)
        g[i] += q->b[i];
    return 0;
}

/* f = log sum_r exp(c_r^T theta), C m x n row-major: g = C^T p with p = softmax(C theta),
   H = C^T (diag(p) - p p^T) C. */
typedef struct lse_ctx {
    size_t m, n;
    const double *c;
    double *z; /* m: scratch */
    const double *user_theta;
} lse_ctx;

static void lse_softmax(lse_ctx *l, const double *theta)
{
    double zmax = -INFINITY, sum = 0.0;
    for (size_t r = 0; r < l->m; ++r) {
        l->z[r] = test_dot(l->n, l->c + r * l->n, theta);
        zmax = fmax(zmax, l->z[r]);
    }
    for (size_t r = 0; r < l->m; ++r) {
        l->z[r] = exp(l->z[r] - zmax);
        sum += l->z[r];
    }
    for (size_t r = 0; r < l->m; ++r)
        l->z[r] /= sum;
}

static int lse_grad(void *ctx, const double *restrict theta, double *restrict g)
{
    lse_ctx *l = ctx;
    if (theta == l->user_theta)
        return 99;
    lse_softmax(l, theta);
    for (size_t j = 0; j < l->n; ++j) {
        double s = 0.0;
        for (size_t r = 0; r < l->m; ++r)
            s += l->c[r * l->n + j] * l->z[r];
        g[j] = s;
    }
    return 0;
}

/* The exact Hessian, row-major n x n. */
static double *lse_hessian(lse_ctx *l, const double *theta)
{
    size_t n = l->n, m = l->m;
    double *h = test_vec_alloc(n * n), *cp = test_vec_alloc(n);
    lse_softmax(l, theta);
    for (size_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (size_t r = 0; r < m; ++r)
            s += l->c[r * n + j] * l->z[r];
        cp[j] = s; /* (C^T p)_j */
    }
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (size_t r = 0; r < m; ++r)
                s += l->z[r] * l->c[r * n + i] * l->c[r * n + j];
            h[i * n + j] = s - cp[i] * cp[j];
        }
    free(cp);
    return h;
}

/* Largest relative error |y - H v| / |H v| over `nv` random directions. */
static double hvp_max_rel_err(const kry_operator *op, const double *h, size_t nv,
                              uint64_t seed)
{
    size_t n = op->n;
    double *v = test_vec_alloc(n), *y = test_vec_alloc(n), *yr = test_vec_alloc(n), worst = 0.0;
    for (size_t t = 0; t < nv; ++t) {
        kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, t * n, n, v);
        ck_assert_int_eq(kry_operator_apply(op, v, y), KRY_OK);
        naive_matvec(n, h, v, yr);
        worst = fmax(worst, rel_err(n, y, yr));
    }
    free(v);
    free(y);
    free(yr);
    return worst;
}

START_TEST(test_hvp_quadratic)
{
    const size_t n = 30;
    double lam[30];
    for (size_t i = 0; i < n; ++i)
        lam[i] = 0.5 + 0.37 * (double)i - (i % 3 == 0 ? 6.1 : 0.0);
    double *a = test_random_symmetric(n, lam, 61), *b = test_randvec(n, 62);
    double *theta = test_randvec(n, 63), *copy = test_vec_alloc(n);
    memcpy(copy, theta, n * sizeof *copy);
    quad_ctx q = {n, a, b, theta, 0, 0};
    kry_hvp_fd_params prm = kry_hvp_fd_params_default();
    ck_assert_int_eq(prm.scheme, KRY_FD_CENTRAL);
    double err[2];
    for (int s = 0; s < 2; ++s) {
        prm.scheme = s == 0 ? KRY_FD_CENTRAL : KRY_FD_FORWARD;
        kry_operator op;
        ck_assert_int_eq(kry_operator_hvp_fd(n, quad_grad, &q, theta, &prm, &op), KRY_OK);
        ck_assert(op.param_vjp == NULL);
        err[s] = hvp_max_rel_err(&op, a, 5, 64 + (uint64_t)s);
        kry_operator_destroy(&op);
    }
    /* Linear gradient: no truncation error, only cancellation eps |g| / h. */
    ck_assert_double_lt(err[0], 1e-9);
    ck_assert_double_lt(err[1], 1e-6);
    ck_assert(memcmp(theta, copy, n * sizeof *copy) == 0);
    free(a);
    free(b);
    free(theta);
    free(copy);
}
END_TEST

static void lse_setup(lse_ctx *l, size_t m, size_t n, uint64_t seed)
{
    double *c = test_randvec(m * n, seed);
    for (size_t i = 0; i < m * n; ++i)
        c[i] *= 0.45;
    l->m = m;
    l->n = n;
    l->c = c;
    l->z = test_vec_alloc(m);
    l->user_theta = NULL;
}

static void lse_free(lse_ctx *l)
{
    free((double *)l->c);
    free(l->z);
}

/* Log-sum-exp: central error ~1e-10, forward ~1e-8 (MATH.md section 5). */
START_TEST(test_hvp_logsumexp)
{
    const size_t n = 40, m = 60;
    lse_ctx l;
    lse_setup(&l, m, n, 71);
    double *theta = test_randvec(n, 72), *copy = test_vec_alloc(n);
    for (size_t i = 0; i < n; ++i)
        theta[i] *= 0.3;
    memcpy(copy, theta, n * sizeof *copy);
    l.user_theta = theta;
    double *h = lse_hessian(&l, theta);

    kry_hvp_fd_params prm = kry_hvp_fd_params_default();
    kry_operator cen, fwd;
    ck_assert_int_eq(kry_operator_hvp_fd(n, lse_grad, &l, theta, NULL, &cen), KRY_OK);
    prm.scheme = KRY_FD_FORWARD;
    ck_assert_int_eq(kry_operator_hvp_fd(n, lse_grad, &l, theta, &prm, &fwd), KRY_OK);
    double ec = hvp_max_rel_err(&cen, h, 8, 73);
    double ef = hvp_max_rel_err(&fwd, h, 8, 73);
    ck_assert_double_lt(ec, 1e-8);
    ck_assert_double_lt(ef, 1e-5);
    ck_assert_double_gt(ef, ec);
    /* Forward differences really are first order: their error is not at rounding
       level. */
    ck_assert_double_gt(ef, 1e-10);
    ck_assert(memcmp(theta, copy, n * sizeof *copy) == 0);

    /* Move theta: the forward cache is refreshed and both schemes track the new
       Hessian. */
    for (size_t i = 0; i < n; i += 3)
        theta[i] += 0.21;
    double *h2 = lse_hessian(&l, theta);
    ck_assert_double_lt(hvp_max_rel_err(&cen, h2, 3, 74), 1e-8);
    ck_assert_double_lt(hvp_max_rel_err(&fwd, h2, 3, 74), 1e-5);

    kry_operator_destroy(&cen);
    kry_operator_destroy(&fwd);
    free(h);
    free(h2);
    free(theta);
    free(copy);
    lse_free(&l);
}
END_TEST

/* The step rule: h = eps^(1/3) sqrt(1+|theta|) central, eps^(1/2) sqrt(1+|theta|)
   forward, user h verbatim; and the gradient count: 2 per central product, 1 per
   forward product plus 1 whenever theta's contents changed. */
START_TEST(test_hvp_step_and_count)
{
    const size_t n = 6;
    double a[36], b[6], theta[6], v[6], y[6];
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j)
            a[i * n + j] = i == j ? 2.5 + (double)i : 0.125;
        b[i] = 0.3 * (double)i - 0.7;
        theta[i] = 1.1 - 0.45 * (double)i;
        v[i] = (double)(i % 2) - 0.35;
    }
    double tn = nrmn(n, theta);
    quad_ctx q = {n, a, b, theta, 0, 0};
    kry_hvp_fd_params prm = kry_hvp_fd_params_default();
    kry_operator op;
    double h;
    size_t cnt;

    ck_assert_int_eq(kry_operator_hvp_fd(n, quad_grad, &q, theta, &prm, &op), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_last_step(&op, &h), KRY_OK);
    ck_assert(h == 0.0);
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_last_step(&op, &h), KRY_OK);
    ck_assert_close(h, cbrt(DBL_EPSILON) * sqrt(1.0 + tn), 1e-14);
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_grad_count(&op, &cnt), KRY_OK);
    ck_assert_uint_eq(cnt, 4);
    ck_assert_uint_eq(q.calls, 4);
    /* The step follows |theta| when theta changes. */
    theta[2] = 7.25;
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_last_step(&op, &h), KRY_OK);
    ck_assert_close(h, cbrt(DBL_EPSILON) * sqrt(1.0 + nrmn(n, theta)), 1e-14);
    tn = nrmn(n, theta);
    kry_operator_destroy(&op);

    q.calls = 0;
    prm.scheme = KRY_FD_FORWARD;
    prm.grad_rel_acc = 3.5e-11;
    ck_assert_int_eq(kry_operator_hvp_fd(n, quad_grad, &q, theta, &prm, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_last_step(&op, &h), KRY_OK);
    ck_assert_close(h, sqrt(3.5e-11) * sqrt(1.0 + tn), 1e-14);
    ck_assert_int_eq(kry_hvp_fd_grad_count(&op, &cnt), KRY_OK);
    ck_assert_uint_eq(cnt, 2); /* g(theta) cached + g(theta + h u) */
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_grad_count(&op, &cnt), KRY_OK);
    ck_assert_uint_eq(cnt, 4);
    theta[4] += 0.0625; /* changed contents: the cache is refreshed */
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_grad_count(&op, &cnt), KRY_OK);
    ck_assert_uint_eq(cnt, 6);
    ck_assert_uint_eq(q.calls, 6);
    /* Forward on a quadratic is exact up to cancellation. */
    double yr[6];
    naive_matvec(n, a, v, yr);
    ck_assert_double_lt(rel_err(n, y, yr), 1e-6);
    kry_operator_destroy(&op);

    /* A user step is used verbatim (central here). */
    prm.scheme = KRY_FD_CENTRAL;
    prm.h = 2.5e-4;
    ck_assert_int_eq(kry_operator_hvp_fd(n, quad_grad, &q, theta, &prm, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_last_step(&op, &h), KRY_OK);
    ck_assert(h == 2.5e-4);
    ck_assert_double_lt(rel_err(n, y, yr), 1e-10);
    kry_operator_destroy(&op);
}
END_TEST

/* v = 0 gives y = 0 without gradient calls; the scale of v does not matter. */
START_TEST(test_hvp_zero_and_scaling)
{
    const size_t n = 5;
    double a[25], b[5] = {0.5, -1.0, 0.25, 2.0, -0.75}, theta[5] = {1, 2, 3, 4, 5};
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            a[i * n + j] = 1.0 / (double)(i + j + 1) + (i == j ? 1.5 : 0.0);
    quad_ctx q = {n, a, b, theta, 0, 0};
    for (int s = 0; s < 2; ++s) {
        kry_hvp_fd_params prm = kry_hvp_fd_params_default();
        prm.scheme = s ? KRY_FD_FORWARD : KRY_FD_CENTRAL;
        kry_operator op;
        ck_assert_int_eq(kry_operator_hvp_fd(n, quad_grad, &q, theta, &prm, &op), KRY_OK);
        double v[5] = {0}, y[5] = {9, 9, 9, 9, 9}, yr[5];
        size_t cnt;
        ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
        for (size_t i = 0; i < n; ++i)
            ck_assert(y[i] == 0.0);
        ck_assert_int_eq(kry_hvp_fd_grad_count(&op, &cnt), KRY_OK);
        ck_assert_uint_eq(cnt, 0);
        const double scales[3] = {1e-150, 1.0, 3e140};
        for (int t = 0; t < 3; ++t) {
            for (size_t i = 0; i < n; ++i)
                v[i] = scales[t] * (0.3 + 0.1 * (double)i * (i % 2 ? -1.0 : 1.0));
            ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
            naive_matvec(n, a, v, yr);
            ck_assert_double_lt(rel_err(n, y, yr), s ? 1e-6 : 1e-9);
        }
        kry_operator_destroy(&op);
    }
}
END_TEST

/* ------------------------------------------------------------------ args ---- */

START_TEST(test_args_interface)
{
    kry_operator op;
    double x[3] = {1, 2, 3}, y[3];
    ck_assert_int_eq(kry_operator_check(NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_callback(3, NULL, NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_callback(0, dummy_matvec, NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_callback(3, dummy_matvec, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_callback(3, failing_matvec, NULL, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, NULL, y), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_apply(&op, x, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_apply(NULL, x, y), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_ECALLBACK);
    size_t n = 3;
    ck_assert_int_eq(kry_operator_callback(3, nan_matvec, &n, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_ENONFINITE);
    op.n = 0;
    ck_assert_int_eq(kry_operator_check(&op), KRY_EINVAL);
}
END_TEST

START_TEST(test_args_dense_tridiag)
{
    double a[9] = {2.5, 0.5, 0.25, 0, 3.5, 0.75, 0, 0, 1.25}, e[2] = {0.5, 0.75};
    kry_operator op;
    ck_assert_int_eq(kry_operator_dense(3, NULL, 3, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_dense(3, a, 3, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_dense(0, a, 3, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_dense(3, a, 2, &op), KRY_EINVAL);
    a[5] = NAN;
    ck_assert_int_eq(kry_operator_dense(3, a, 3, &op), KRY_ENONFINITE);
    a[5] = -INFINITY;
    ck_assert_int_eq(kry_operator_dense(3, a, 3, &op), KRY_ENONFINITE);
    a[5] = 0.75;
    a[3] = NAN; /* lower triangle: never read */
    ck_assert_int_eq(kry_operator_dense(3, a, 3, &op), KRY_OK);
    kry_operator_destroy(&op);
    /* Sizes are checked before the matrix is touched: a dummy pointer is enough. */
    double dummy = 0.0;
    size_t big = (size_t)INT_MAX + 1;
    ck_assert_int_eq(kry_operator_dense(big, &dummy, big, &op), KRY_ERANGE);
    ck_assert_int_eq(kry_operator_dense(INT_MAX, &dummy, INT_MAX, &op), KRY_ENOMEM);
    ck_assert_int_eq(kry_operator_dense(3, &dummy, SIZE_MAX / 2, &op), KRY_EINVAL);

    double d[3] = {1.5, -2.5, 0.5};
    ck_assert_int_eq(kry_operator_tridiag(3, NULL, e, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_tridiag(3, d, NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_tridiag(3, d, e, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_tridiag(0, d, e, &op), KRY_EINVAL);
    d[2] = INFINITY;
    ck_assert_int_eq(kry_operator_tridiag(3, d, e, &op), KRY_ENONFINITE);
    d[2] = 0.5;
    e[1] = NAN;
    ck_assert_int_eq(kry_operator_tridiag(3, d, e, &op), KRY_ENONFINITE);
    ck_assert_int_eq(kry_operator_tridiag(SIZE_MAX / 8, &dummy, &dummy, &op), KRY_ENOMEM);
}
END_TEST

START_TEST(test_args_pencil)
{
    double d0[3] = {1.5, -2.5, 0.5}, e0[2] = {0.5, 0.75};
    double D[6] = {1, 0.5, 0, 1, 0.5, 0.5}, E[4] = {0.25, 0, 0, 0.25};
    kry_operator op;
    ck_assert_int_eq(kry_operator_pencil(3, 2, NULL, e0, D, E, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil(3, 2, d0, NULL, D, E, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil(3, 2, d0, e0, NULL, E, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil(3, 2, d0, e0, D, NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil(3, 2, d0, e0, D, E, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_pencil(0, 2, d0, e0, D, E, &op), KRY_EINVAL);
    double *arrs[4] = {d0, e0, D, E};
    for (int t = 0; t < 4; ++t) {
        double keep = arrs[t][1];
        arrs[t][1] = NAN;
        ck_assert_int_eq(kry_operator_pencil(3, 2, d0, e0, D, E, &op), KRY_ENONFINITE);
        arrs[t][1] = keep;
    }
    double dummy = 0.0;
    ck_assert_int_eq(kry_operator_pencil(SIZE_MAX / 16, 2, &dummy, &dummy, &dummy, &dummy,
                                         &op),
                     KRY_ENOMEM);
    ck_assert_int_eq(kry_operator_pencil(3, SIZE_MAX / 4, &dummy, &dummy, &dummy, &dummy,
                                         &op),
                     KRY_ENOMEM);

    ck_assert_int_eq(kry_operator_pencil(3, 2, d0, e0, D, E, &op), KRY_OK);
    double x[2] = {0.625, -1.5}, bad[2] = {0.625, NAN}, huge[2] = {1.5e308, 1.5e308};
    ck_assert_int_eq(kry_pencil_set_point(NULL, x), KRY_EINVAL);
    ck_assert_int_eq(kry_pencil_set_point(&op, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_pencil_set_point(&op, bad), KRY_ENONFINITE);
    ck_assert_int_eq(kry_pencil_set_point(&op, x), KRY_OK);
    /* Finite point, overflowing matrix: rejected, and the previous point stays. */
    ck_assert_int_eq(kry_pencil_set_point(&op, huge), KRY_ENONFINITE);
    double v[3] = {0.3, -1.1, 2.2}, y[3], yr[3], dd[3], ee[2];
    for (size_t r = 0; r < 3; ++r)
        dd[r] = d0[r] + D[2 * r] * x[0] + D[2 * r + 1] * x[1];
    for (size_t r = 0; r < 2; ++r)
        ee[r] = e0[r] + E[2 * r] * x[0] + E[2 * r + 1] * x[1];
    naive_tridiag(3, dd, ee, v, yr);
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    for (size_t i = 0; i < 3; ++i)
        ck_assert_close(y[i], yr[i], 1e-15);
    kry_operator_destroy(&op);

    /* set_point on operators that are not pencils. */
    kry_operator other;
    ck_assert_int_eq(kry_operator_tridiag(3, d0, e0, &other), KRY_OK);
    ck_assert_int_eq(kry_pencil_set_point(&other, x), KRY_EINVAL);
    kry_operator_destroy(&other);
    ck_assert_int_eq(kry_operator_callback(3, dummy_matvec, NULL, &other), KRY_OK);
    ck_assert_int_eq(kry_pencil_set_point(&other, x), KRY_EINVAL);
    memset(&other, 0, sizeof other);
    ck_assert_int_eq(kry_pencil_set_point(&other, x), KRY_EINVAL);
}
END_TEST

static int always_fail_grad(void *ctx, const double *restrict theta, double *restrict g)
{
    (void)ctx;
    (void)theta;
    (void)g;
    return 3;
}

START_TEST(test_args_hvp)
{
    double theta[4] = {0.5, -1.5, 2.25, 0.125}, v[4] = {1, 2, -1, 0.5}, y[4], h;
    double a[16] = {0}, b[4] = {0};
    for (size_t i = 0; i < 4; ++i)
        a[i * 4 + i] = 1.5 + (double)i;
    quad_ctx q = {4, a, b, theta, 0, 0};
    kry_operator op;
    size_t cnt;
    ck_assert_int_eq(kry_operator_hvp_fd(4, NULL, &q, theta, NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, NULL, NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_hvp_fd(0, quad_grad, &q, theta, NULL, &op), KRY_EINVAL);
    kry_hvp_fd_params prm = kry_hvp_fd_params_default();
    prm.scheme = (kry_fd_scheme)7;
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, &prm, &op), KRY_EINVAL);
    prm = kry_hvp_fd_params_default();
    prm.h = NAN;
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, &prm, &op), KRY_EINVAL);
    prm.h = INFINITY;
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, &prm, &op), KRY_EINVAL);
    prm = kry_hvp_fd_params_default();
    prm.grad_rel_acc = NAN;
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, &prm, &op), KRY_EINVAL);
    prm.grad_rel_acc = 1.5;
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, &prm, &op), KRY_EINVAL);
    theta[1] = NAN;
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, NULL, &op), KRY_ENONFINITE);
    theta[1] = -1.5;
    ck_assert_int_eq(kry_operator_hvp_fd((size_t)INT_MAX + 1, quad_grad, &q, theta, NULL,
                                         &op),
                     KRY_ERANGE);

    /* Queries on operators that are not FD-HVPs. */
    kry_operator other;
    ck_assert_int_eq(kry_operator_callback(4, dummy_matvec, NULL, &other), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_last_step(&other, &h), KRY_EINVAL);
    ck_assert_int_eq(kry_hvp_fd_grad_count(&other, &cnt), KRY_EINVAL);
    ck_assert_int_eq(kry_hvp_fd_last_step(NULL, &h), KRY_EINVAL);
    ck_assert_int_eq(kry_hvp_fd_grad_count(NULL, &cnt), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, NULL, &op), KRY_OK);
    ck_assert_int_eq(kry_hvp_fd_last_step(&op, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_hvp_fd_grad_count(&op, NULL), KRY_EINVAL);

    /* A failing gradient, on the first or the second call of a central product. */
    for (int at = 1; at <= 2; ++at) {
        q.calls = 0;
        q.fail_at = at;
        ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_ECALLBACK);
    }
    q.fail_at = 0;
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    /* A non-finite direction: reported as such, the gradient is not called. */
    q.calls = 0;
    v[2] = INFINITY;
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_ENONFINITE);
    ck_assert_uint_eq(q.calls, 0);
    v[2] = -1.0;
    kry_operator_destroy(&op);

    /* Forward: failure while caching g(theta) is retried at the next product. */
    prm = kry_hvp_fd_params_default();
    prm.scheme = KRY_FD_FORWARD;
    ck_assert_int_eq(kry_operator_hvp_fd(4, quad_grad, &q, theta, &prm, &op), KRY_OK);
    q.calls = 0;
    q.fail_at = 1;
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_ECALLBACK);
    q.fail_at = 0;
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_OK);
    ck_assert_uint_eq(q.calls, 3);
    double yr[4];
    naive_matvec(4, a, v, yr);
    ck_assert_double_lt(rel_err(4, y, yr), 1e-6);
    kry_operator_destroy(&op);

    ck_assert_int_eq(kry_operator_hvp_fd(4, always_fail_grad, NULL, theta, NULL, &op),
                     KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, v, y), KRY_ECALLBACK);
    kry_operator_destroy(&op);
}
END_TEST

/* Wrappers: argument errors, and failures of the wrapped operator propagate. */
START_TEST(test_args_wrappers)
{
    const size_t n = 4;
    kry_operator bad, ok, w;
    double x[4] = {1, -2, 3, -4}, y[4], lambda[1] = {2.0}, V[4] = {0.5, 0.5, 0.5, 0.5};
    double rel;
    ck_assert_int_eq(kry_operator_callback(n, failing_matvec, NULL, &bad), KRY_OK);
    ck_assert_int_eq(kry_operator_callback(n, dummy_matvec, NULL, &ok), KRY_OK);

    ck_assert_int_eq(kry_operator_shift(NULL, 1.0, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_shift(&ok, 1.0, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_shift(&ok, NAN, &w), KRY_ENONFINITE);
    ck_assert_int_eq(kry_operator_scale(NULL, 1.0, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_scale(&ok, 1.0, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_scale(&ok, INFINITY, &w), KRY_ENONFINITE);
    ck_assert_int_eq(kry_operator_deflated(NULL, 1, lambda, V, n, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_deflated(&ok, 1, lambda, V, n, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_deflated(&ok, 1, NULL, V, n, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_deflated(&ok, 1, lambda, NULL, n, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_deflated(&ok, 1, lambda, V, n - 1, &w), KRY_EINVAL);
    V[3] = NAN;
    ck_assert_int_eq(kry_operator_deflated(&ok, 1, lambda, V, n, &w), KRY_ENONFINITE);
    V[3] = 0.5;
    lambda[0] = -INFINITY;
    ck_assert_int_eq(kry_operator_deflated(&ok, 1, lambda, V, n, &w), KRY_ENONFINITE);
    lambda[0] = 2.0;
    ck_assert_int_eq(kry_operator_symmetry(NULL, 1, &rel), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_symmetry(&ok, 1, NULL), KRY_EINVAL);

    /* An invalid wrapped operator. */
    kry_operator zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(kry_operator_shift(&zero, 1.0, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_scale(&zero, 1.0, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_deflated(&zero, 0, NULL, NULL, 1, &w), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_symmetry(&zero, 1, &rel), KRY_EINVAL);

    /* Sizes beyond a BLAS int, and a V too large to store (dummy pointers only). */
    kry_operator huge;
    ck_assert_int_eq(kry_operator_callback((size_t)INT_MAX + 1, dummy_matvec, NULL, &huge),
                     KRY_OK);
    ck_assert_int_eq(kry_operator_shift(&huge, 1.0, &w), KRY_ERANGE);
    ck_assert_int_eq(kry_operator_scale(&huge, 1.0, &w), KRY_ERANGE);
    ck_assert_int_eq(kry_operator_deflated(&huge, 0, NULL, NULL, 1, &w), KRY_ERANGE);
    ck_assert_int_eq(kry_operator_symmetry(&huge, 1, &rel), KRY_ERANGE);
    ck_assert_int_eq(kry_operator_deflated(&ok, (size_t)INT_MAX + 1, lambda, V, n, &w),
                     KRY_ERANGE);
    huge.n = INT_MAX;
    ck_assert_int_eq(kry_operator_deflated(&huge, INT_MAX, lambda, V, INT_MAX, &w),
                     KRY_ENOMEM);
    ck_assert_int_eq(kry_operator_deflated(&ok, 3, lambda, V, SIZE_MAX / 2, &w),
                     KRY_EINVAL);

    /* Propagation: the wrapped matvec's own code comes back, apply maps it. */
    ck_assert_int_eq(kry_operator_shift(&bad, 0.5, &w), KRY_OK);
    ck_assert_int_eq(w.matvec(w.ctx, x, y), 7);
    ck_assert_int_eq(kry_operator_apply(&w, x, y), KRY_ECALLBACK);
    kry_operator_destroy(&w);
    ck_assert_int_eq(kry_operator_scale(&bad, 0.5, &w), KRY_OK);
    ck_assert_int_eq(w.matvec(w.ctx, x, y), 7);
    ck_assert_int_eq(kry_operator_apply(&w, x, y), KRY_ECALLBACK);
    kry_operator_destroy(&w);
    ck_assert_int_eq(kry_operator_deflated(&bad, 1, lambda, V, n, &w), KRY_OK);
    ck_assert_int_eq(w.matvec(w.ctx, x, y), 7);
    ck_assert_int_eq(kry_operator_apply(&w, x, y), KRY_ECALLBACK);
    kry_operator_destroy(&w);
    ck_assert_int_eq(kry_operator_symmetry(&bad, 1, &rel), KRY_ECALLBACK);
    size_t nn = n;
    kry_operator nanop;
    ck_assert_int_eq(kry_operator_callback(n, nan_matvec, &nn, &nanop), KRY_OK);
    ck_assert_int_eq(kry_operator_symmetry(&nanop, 1, &rel), KRY_ENONFINITE);
    ck_assert_int_eq(kry_operator_shift(&nanop, 0.5, &w), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&w, x, y), KRY_ENONFINITE);
    kry_operator_destroy(&w);

    /* Failing param_vjp and matvec_block of the wrapped operator propagate too. */
    kry_operator withvjp = ok;
    withvjp.param_vjp = failing_vjp;
    withvjp.n_params = 3;
    withvjp.matvec_block = NULL;
    double g[3] = {0};
    ck_assert_int_eq(kry_operator_shift(&withvjp, 0.5, &w), KRY_OK);
    ck_assert_int_eq(w.param_vjp(w.ctx, x, x, g), 5);
    kry_operator_destroy(&w);
    ck_assert_int_eq(kry_operator_scale(&withvjp, 0.5, &w), KRY_OK);
    ck_assert_uint_eq(w.n_params, 3);
    ck_assert_int_eq(w.param_vjp(w.ctx, x, x, g), 5);
    kry_operator_destroy(&w);

    /* A failing reduction hook: deflated product and symmetry probe report it. */
    fake_reduce f = {0, 1};
    kry_space sp = {doubling_allreduce, &f, 0, 0};
    double dd[4] = {1.5, 2.5, 3.5, 4.5};
    test_diag td = {n, dd, 0};
    kry_operator diag = test_diag_op(&td);
    diag.space = &sp;
    ck_assert_int_eq(kry_operator_deflated(&diag, 1, lambda, V, n, &w), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&w, x, y), KRY_ECALLBACK);
    kry_operator_destroy(&w);
    ck_assert_int_eq(kry_operator_symmetry(&diag, 1, &rel), KRY_ECALLBACK);
}
END_TEST

/* ------------------------------------------------------------------ edge ---- */

static int n1_grad(void *ctx, const double *restrict theta, double *restrict g)
{
    (void)ctx;
    g[0] = 1.7 * sin(theta[0]); /* f = -1.7 cos(theta), f'' = 1.7 cos(theta) */
    return 0;
}

START_TEST(test_edge_n1)
{
    double a = -2.385, x = 1.25, y, d = 3.5, d0 = 0.75, D[2] = {1.5, -0.5};
    kry_operator op, w;
    ck_assert_int_eq(kry_operator_dense(1, &a, 1, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, &x, &y), KRY_OK);
    ck_assert_close(y, a * x, 1e-15);
    double g = 0.0;
    ck_assert_int_eq(op.param_vjp(op.ctx, &x, &d, &g), 0);
    ck_assert_close(g, d * x, 1e-15);

    ck_assert_int_eq(kry_operator_shift(&op, 0.5, &w), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&w, &x, &y), KRY_OK);
    ck_assert_close(y, (a - 0.5) * x, 1e-15);
    kry_operator_destroy(&w);
    ck_assert_int_eq(kry_operator_scale(&op, 3.0, &w), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&w, &x, &y), KRY_OK);
    ck_assert_close(y, 3.0 * a * x, 1e-15);
    kry_operator_destroy(&w);
    double one = 1.0;
    ck_assert_int_eq(kry_operator_deflated(&op, 1, &a, &one, 1, &w), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&w, &x, &y), KRY_OK);
    ck_assert_double_lt(fabs(y), 1e-15);
    kry_operator_destroy(&w);
    double rel;
    ck_assert_int_eq(kry_operator_symmetry(&op, 9, &rel), KRY_OK);
    ck_assert_double_lt(rel, 1e-15);
    kry_operator_destroy(&op);

    ck_assert_int_eq(kry_operator_tridiag(1, &d, NULL, &op), KRY_OK);
    ck_assert_uint_eq(op.n_params, 1);
    ck_assert_int_eq(kry_operator_apply(&op, &x, &y), KRY_OK);
    ck_assert(y == d * x);
    kry_operator_destroy(&op);

    ck_assert_int_eq(kry_operator_pencil(1, 2, &d0, NULL, D, NULL, &op), KRY_OK);
    double pt[2] = {0.25, 2.0}, gp[2] = {0, 0};
    ck_assert_int_eq(kry_pencil_set_point(&op, pt), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, &x, &y), KRY_OK);
    ck_assert_close(y, (d0 + 0.25 * 1.5 - 2.0 * 0.5) * x, 1e-15);
    ck_assert_int_eq(op.param_vjp(op.ctx, &x, &d, gp), 0);
    ck_assert_close(gp[0], 1.5 * d * x, 1e-15);
    ck_assert_close(gp[1], -0.5 * d * x, 1e-15);
    kry_operator_destroy(&op);

    double theta = 0.6, v = -2.5;
    ck_assert_int_eq(kry_operator_hvp_fd(1, n1_grad, NULL, &theta, NULL, &op), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, &v, &y), KRY_OK);
    ck_assert_close(y, 1.7 * cos(theta) * v, 1e-9);
    ck_assert(theta == 0.6);
    kry_operator_destroy(&op);
}
END_TEST

/* p = 0: the pencil is the constant A_0, its gradient has no entries. */
START_TEST(test_edge_pencil_p0)
{
    double d0[3] = {1.25, -0.5, 2.0}, e0[2] = {0.75, -1.5}, x[3] = {0.1, 0.2, 0.3}, y[3];
    double yr[3], unused = 4.5, grad = 8.25;
    kry_operator op;
    ck_assert_int_eq(kry_operator_pencil(3, 0, d0, e0, NULL, NULL, &op), KRY_OK);
    ck_assert_uint_eq(op.n_params, 0);
    ck_assert_int_eq(kry_pencil_set_point(&op, &unused), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
    naive_tridiag(3, d0, e0, x, yr);
    for (size_t i = 0; i < 3; ++i)
        ck_assert_close(y[i], yr[i], 1e-15);
    ck_assert_int_eq(op.param_vjp(op.ctx, x, x, &grad), 0);
    ck_assert(grad == 8.25);
    kry_operator_destroy(&op);
}
END_TEST

/* k = 0: the deflated operator is A itself. */
START_TEST(test_edge_deflated_k0)
{
    double dd[5] = {1.5, -2.5, 3.25, 0.125, 7.0}, x[5] = {1, 2, 3, 4, 5}, y[5];
    test_diag td = {5, dd, 0};
    kry_operator a = test_diag_op(&td), w;
    ck_assert_int_eq(kry_operator_deflated(&a, 0, NULL, NULL, 0, &w), KRY_OK);
    ck_assert_int_eq(kry_operator_apply(&w, x, y), KRY_OK);
    for (size_t i = 0; i < 5; ++i)
        ck_assert(y[i] == dd[i] * x[i]);
    kry_operator_destroy(&w);
}
END_TEST

/* Tied eigenvalues: deflating one vector of a repeated eigenvalue leaves the others. */
START_TEST(test_edge_deflated_repeated)
{
    const size_t n = 6;
    double dd[6] = {3.5, 3.5, 3.5, -1.25, 0.5, 2.0}, lambda = 3.5, w6[6];
    test_diag td = {n, dd, 0};
    kry_operator a = test_diag_op(&td), def;
    double V[6] = {0.6, 0.8, 0, 0, 0, 0}; /* a unit vector inside the eigenspace */
    ck_assert_int_eq(kry_operator_deflated(&a, 1, &lambda, V, n, &def), KRY_OK);
    double *m = op_to_dense(&def);
    ck_assert_int_eq(test_dsyevr(n, m, w6, NULL), 0);
    const double expect[6] = {-1.25, 0.0, 0.5, 2.0, 3.5, 3.5};
    for (size_t i = 0; i < n; ++i)
        ck_assert_close(w6[i], expect[i], 1e-14);
    kry_operator_destroy(&def);
    free(m);
}
END_TEST

START_TEST(test_edge_destroy)
{
    kry_operator_destroy(NULL);
    kry_operator op;
    memset(&op, 0, sizeof op);
    kry_operator_destroy(&op);
    ck_assert_uint_eq(op.n, 0);
    /* A user callback has no destroy: the struct is just zeroed, ctx untouched. */
    size_t n = 3;
    ck_assert_int_eq(kry_operator_callback(3, nan_matvec, &n, &op), KRY_OK);
    ck_assert(op.destroy == NULL);
    kry_operator_destroy(&op);
    ck_assert_ptr_null(op.ctx);
    ck_assert_uint_eq(n, 3);
}
END_TEST

static Suite *operator_suite(void)
{
    Suite *s = suite_create("operator");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_dense_product);
    tcase_add_test(core, test_tridiag_matvec);
    tcase_add_test(core, test_pencil_matvec);
    tcase_add_test(core, test_dense_param_vjp_fd);
    tcase_add_test(core, test_tridiag_param_vjp_fd);
    tcase_add_test(core, test_pencil_param_vjp_fd);
    tcase_add_test(core, test_shift_scale);
    tcase_add_test(core, test_deflated_diagonal);
    tcase_add_test(core, test_deflated_formula_and_space);
    tcase_add_test(core, test_symmetry_probe);
    tcase_add_test(core, test_hvp_quadratic);
    tcase_add_test(core, test_hvp_logsumexp);
    tcase_add_test(core, test_hvp_step_and_count);
    tcase_add_test(core, test_hvp_zero_and_scaling);
    tcase_add_test(args, test_args_interface);
    tcase_add_test(args, test_args_dense_tridiag);
    tcase_add_test(args, test_args_pencil);
    tcase_add_test(args, test_args_hvp);
    tcase_add_test(args, test_args_wrappers);
    tcase_add_test(edge, test_edge_n1);
    tcase_add_test(edge, test_edge_pencil_p0);
    tcase_add_test(edge, test_edge_deflated_k0);
    tcase_add_test(edge, test_edge_deflated_repeated);
    tcase_add_test(edge, test_edge_destroy);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(operator_suite)
