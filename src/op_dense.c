/* op_dense.c — operator module: dense symmetric matrix operator.

   y = A x with BLAS dsymv on the upper triangle of a private row-major copy (the lower
   triangle of the copy is mirrored from the upper one, so either triangle could serve);
   Y = A X for a block of column-major vectors with dsymm; the parameter
   vector-Jacobian product is the rank-one update grad += w u^T (dger), i.e. the
   derivative of w^T A u with respect to the n*n entries taken as independent parameters
   (see kry/operator.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "internal.h"
#include "kry/operator.h"
#include "vec.h"

typedef struct dense_ctx {
    size_t n;
    double *a; /* n x n row-major, symmetric (both triangles filled) */
} dense_ctx;

static int dense_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    const dense_ctx *c = ctx;
    int n = (int)c->n;
    cblas_dsymv(CblasRowMajor, CblasUpper, n, 1.0, c->a, n, x, 1, 0.0, y, 1);
    return 0;
}

static int dense_matvec_block(void *ctx, size_t k, const double *restrict x, size_t ldx,
                              double *restrict y, size_t ldy)
{
    const dense_ctx *c = ctx;
    if (k == 0)
        return 0;
    if (ldx < c->n || ldy < c->n || !kry_fits_blas_int(k) || !kry_fits_blas_int(ldx) ||
        !kry_fits_blas_int(ldy))
        return 1;
    /* The copy is symmetric, so its row-major storage read column-major is A itself. */
    int n = (int)c->n;
    cblas_dsymm(CblasColMajor, CblasLeft, CblasLower, n, (int)k, 1.0, c->a, n, x, (int)ldx,
                0.0, y, (int)ldy);
    return 0;
}

static int dense_param_vjp(void *ctx, const double *restrict u, const double *restrict w,
                           double *restrict grad)
{
    const dense_ctx *c = ctx;
    int n = (int)c->n;
    /* grad[i*n + j] += w[i] * u[j]. */
    cblas_dger(CblasRowMajor, n, n, 1.0, w, 1, u, 1, grad, n);
    return 0;
}

static void dense_destroy(void *ctx)
{
    dense_ctx *c = ctx;
    if (c == NULL)
        return;
    free(c->a);
    free(c);
}

kry_status kry_operator_dense(size_t n, const double *a, size_t lda, kry_operator *out)
{
    KRY_REQUIRE(out != NULL && a != NULL, KRY_EINVAL);
    KRY_REQUIRE(n >= 1 && lda >= n, KRY_EINVAL);
    /* The range checks come before any access to a, so a huge n is rejected cheaply. */
    KRY_REQUIRE(kry_fits_blas_int(n), KRY_ERANGE);
    /* The last entry read is a[(n-1)*lda + n-1]; its index must be representable. */
    KRY_REQUIRE(n == 1 || lda <= (SIZE_MAX - n) / (n - 1), KRY_EINVAL);
    KRY_REQUIRE(n <= SIZE_MAX / sizeof(double) / n, KRY_ENOMEM);

    for (size_t i = 0; i < n; ++i)
        KRY_REQUIRE(kry_vec_isfinite(n - i, a + i * lda + i), KRY_ENONFINITE);

    dense_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return KRY_ENOMEM;
    c->n = n;
    c->a = malloc(n * n * sizeof *c->a);
    if (c->a == NULL) {
        free(c);
        return KRY_ENOMEM;
    }
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i; j < n; ++j)
            c->a[i * n + j] = c->a[j * n + i] = a[i * lda + j];

    memset(out, 0, sizeof *out);
    out->n = n;
    out->matvec = dense_matvec;
    out->matvec_block = dense_matvec_block;
    out->param_vjp = dense_param_vjp;
    out->n_params = n * n;
    out->ctx = c;
    out->destroy = dense_destroy;
    return KRY_OK;
}
