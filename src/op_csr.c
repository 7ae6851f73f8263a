/* op_csr.c — compressed sparse row matrices: allocation, validation, construction from
   triplets, the sparse matrix-vector product and the CSR operator.

   Construction from triplets uses two stable counting sorts (by column, then by row),
   the classical way of sorting sparse entries in linear time (as in a sparse transpose;
   see Gustavson, "Two fast algorithms for sparse matrices: multiplication and permuted
   transposition", ACM TOMS 4(3), 1978): the second pass visits columns in increasing
   order, so every row comes out sorted, and duplicates end up adjacent and in input
   order, which makes their summation deterministic.

   The product is the plain row-oriented loop: one pass over rowptr/colind/val, one
   gather of x per entry, one store per row. 32-bit column indices keep the index stream
   at 4 bytes per entry; the kernel is memory-bound, so that matters more than unrolling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/mtx.h"

/* Largest entry count whose arrays (and the 2x of mirroring plus scratch) can be sized
   without size_t overflow: 48 bytes per entry covers output + scratch. */
#define CSR_MAX_NNZ (SIZE_MAX / 48)

kry_status kry_csr_alloc(size_t n_rows, size_t n_cols, size_t nnz, kry_csr **out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    *out = NULL;
    KRY_REQUIRE(n_rows >= 1 && n_cols >= 1, KRY_EINVAL);
    KRY_REQUIRE(n_cols <= UINT32_MAX, KRY_ERANGE);
    KRY_REQUIRE(n_rows < SIZE_MAX / sizeof(size_t) && nnz <= CSR_MAX_NNZ, KRY_ERANGE);

    kry_csr *a = calloc(1, sizeof *a);
    if (a == NULL)
        return KRY_ENOMEM;
    a->n_rows = n_rows;
    a->n_cols = n_cols;
    a->nnz = nnz;
    a->rowptr = calloc(n_rows + 1, sizeof *a->rowptr);
    /* One element at least, so that the arrays are never NULL. */
    a->colind = malloc((nnz ? nnz : 1) * sizeof *a->colind);
    a->val = malloc((nnz ? nnz : 1) * sizeof *a->val);
    if (a->rowptr == NULL || a->colind == NULL || a->val == NULL) {
        kry_csr_free(a);
        return KRY_ENOMEM;
    }
    *out = a;
    return KRY_OK;
}

void kry_csr_free(kry_csr *a)
{
    if (a == NULL)
        return;
    free(a->rowptr);
    free(a->colind);
    free(a->val);
    free(a);
}

kry_status kry_csr_check(const kry_csr *a)
{
    KRY_REQUIRE(a != NULL, KRY_EINVAL);
    KRY_REQUIRE(a->n_rows >= 1 && a->n_cols >= 1 && a->n_cols <= UINT32_MAX, KRY_EINVAL);
    KRY_REQUIRE(a->rowptr != NULL && a->colind != NULL && a->val != NULL, KRY_EINVAL);
    KRY_REQUIRE(a->rowptr[0] == 0 && a->rowptr[a->n_rows] == a->nnz, KRY_EINVAL);
    for (size_t i = 0; i < a->n_rows; ++i) {
        size_t b = a->rowptr[i], e = a->rowptr[i + 1];
        KRY_REQUIRE(b <= e && e <= a->nnz, KRY_EINVAL);
        for (size_t k = b; k < e; ++k) {
            KRY_REQUIRE(a->colind[k] < a->n_cols, KRY_EINVAL);
            KRY_REQUIRE(k == b || a->colind[k - 1] < a->colind[k], KRY_EINVAL);
        }
    }
    for (size_t k = 0; k < a->nnz; ++k)
        KRY_REQUIRE(isfinite(a->val[k]), KRY_ENONFINITE);
    return KRY_OK;
}

kry_status kry_csr_from_triplets(size_t n_rows, size_t n_cols, size_t nnz,
                                 const uint32_t *row, const uint32_t *col,
                                 const double *val, unsigned flags, kry_csr **out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    *out = NULL;
    KRY_REQUIRE(nnz == 0 || (row != NULL && col != NULL && val != NULL), KRY_EINVAL);
    KRY_REQUIRE(n_rows >= 1 && n_cols >= 1, KRY_EINVAL);
    KRY_REQUIRE((flags & ~(unsigned)KRY_CSR_MIRROR) == 0, KRY_EINVAL);
    KRY_REQUIRE(n_rows <= UINT32_MAX && n_cols <= UINT32_MAX, KRY_ERANGE);
    KRY_REQUIRE(nnz <= CSR_MAX_NNZ / 2, KRY_ERANGE);
    const int mirror = (flags & KRY_CSR_MIRROR) != 0;
    KRY_REQUIRE(!mirror || n_rows == n_cols, KRY_EDIM);

    kry_status st = KRY_OK;
    size_t *cptr = NULL;
    uint32_t *trow = NULL;
    double *tval = NULL;
    kry_csr *a = NULL;

    /* Validate and count entries per column (mirrored ones included). */
    size_t total = 0;
    cptr = calloc(n_cols + 1, sizeof *cptr);
    if (cptr == NULL)
        goto nomem;
    for (size_t k = 0; k < nnz; ++k) {
        if (row[k] >= n_rows || col[k] >= n_cols) {
            st = KRY_EINVAL;
            goto fail;
        }
        if (!isfinite(val[k])) {
            st = KRY_ENONFINITE;
            goto fail;
        }
        cptr[col[k] + 1]++;
        if (mirror && row[k] != col[k])
            cptr[row[k] + 1]++;
    }
    for (size_t j = 0; j < n_cols; ++j)
        cptr[j + 1] += cptr[j];
    total = cptr[n_cols];

    /* Pass 1: bucket by column (stable). cptr[j] advances to the end of bucket j. */
    trow = malloc((total ? total : 1) * sizeof *trow);
    tval = malloc((total ? total : 1) * sizeof *tval);
    if (trow == NULL || tval == NULL)
        goto nomem;
    for (size_t k = 0; k < nnz; ++k) {
        size_t p = cptr[col[k]]++;
        trow[p] = row[k];
        tval[p] = val[k];
        if (mirror && row[k] != col[k]) {
            p = cptr[row[k]]++;
            trow[p] = col[k];
            tval[p] = val[k];
        }
    }
    /* Now cptr[j] is the end of bucket j, i.e. the start of bucket j + 1. */

    /* Pass 2: bucket by row, visiting columns in increasing order. */
    KRY_TRY_GOTO(st, kry_csr_alloc(n_rows, n_cols, total, &a));
    for (size_t p = 0; p < total; ++p)
        a->rowptr[trow[p] + 1]++;
    for (size_t i = 0; i < n_rows; ++i)
        a->rowptr[i + 1] += a->rowptr[i];
    {
        size_t p = 0;
        for (size_t j = 0; j < n_cols; ++j) {
            for (; p < cptr[j]; ++p) {
                size_t q = a->rowptr[trow[p]]++;
                a->colind[q] = (uint32_t)j;
                a->val[q] = tval[p];
            }
        }
    }
    /* rowptr[i] now holds the end of row i: shift it back into place. */
    memmove(a->rowptr + 1, a->rowptr, n_rows * sizeof *a->rowptr);
    a->rowptr[0] = 0;

    /* Sum adjacent duplicates and compact in place. */
    {
        size_t w = 0, b = 0;
        for (size_t i = 0; i < n_rows; ++i) {
            size_t e = a->rowptr[i + 1];
            size_t row_start = w;
            for (size_t k = b; k < e; ++k) {
                if (w > row_start && a->colind[w - 1] == a->colind[k]) {
                    a->val[w - 1] += a->val[k];
                } else {
                    a->colind[w] = a->colind[k];
                    a->val[w] = a->val[k];
                    ++w;
                }
            }
            b = e;
            a->rowptr[i + 1] = w;
        }
        a->nnz = w;
        for (size_t k = 0; k < w; ++k)
            if (!isfinite(a->val[k])) {
                st = KRY_ENONFINITE;
                goto fail;
            }
        if (w < total && w > 0) {
            /* Give back the space of merged duplicates; failure to shrink is harmless. */
            uint32_t *c2 = realloc(a->colind, w * sizeof *c2);
            if (c2 != NULL)
                a->colind = c2;
            double *v2 = realloc(a->val, w * sizeof *v2);
            if (v2 != NULL)
                a->val = v2;
        }
    }

    free(cptr);
    free(trow);
    free(tval);
    *out = a;
    return KRY_OK;

nomem:
    st = KRY_ENOMEM;
fail:
    free(cptr);
    free(trow);
    free(tval);
    kry_csr_free(a);
    return st;
}

/* The kernel shared by kry_csr_matvec and the operator. */
static inline void csr_mv(const kry_csr *a, const double *restrict x, double *restrict y)
{
    const size_t n = a->n_rows;
    const size_t *restrict rp = a->rowptr;
    const uint32_t *restrict ci = a->colind;
    const double *restrict v = a->val;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        const size_t e = rp[i + 1];
        double s = 0.0;
        for (; k < e; ++k)
            s += v[k] * x[ci[k]];
        y[i] = s;
    }
}

void kry_csr_matvec(const kry_csr *a, const double *restrict x, double *restrict y)
{
    csr_mv(a, x, y);
}

static int csr_op_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    csr_mv(ctx, x, y);
    return 0;
}

/* Y = A X for k vectors: the matrix is streamed once per group of four columns, which
   is where a block product saves memory traffic over k separate products. */
static int csr_op_matvec_block(void *ctx, size_t k, const double *restrict x, size_t ldx,
                               double *restrict y, size_t ldy)
{
    const kry_csr *a = ctx;
    const size_t n = a->n_rows;
    const size_t *restrict rp = a->rowptr;
    const uint32_t *restrict ci = a->colind;
    const double *restrict v = a->val;
    size_t c = 0;
    for (; c + 4 <= k; c += 4) {
        const double *x0 = x + c * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        double *y0 = y + c * ldy, *y1 = y0 + ldy, *y2 = y1 + ldy, *y3 = y2 + ldy;
        size_t p = 0;
        for (size_t i = 0; i < n; ++i) {
            const size_t e = rp[i + 1];
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            for (; p < e; ++p) {
                const size_t j = ci[p];
                const double w = v[p];
                s0 += w * x0[j];
                s1 += w * x1[j];
                s2 += w * x2[j];
                s3 += w * x3[j];
            }
            y0[i] = s0;
            y1[i] = s1;
            y2[i] = s2;
            y3[i] = s3;
        }
    }
    for (; c < k; ++c)
        csr_mv(a, x + c * ldx, y + c * ldy);
    return 0;
}

static void csr_op_destroy(void *ctx) { kry_csr_free(ctx); }

static kry_status csr_op_init(const kry_csr *a, kry_operator *out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    memset(out, 0, sizeof *out);
    KRY_TRY(kry_csr_check(a));
    KRY_REQUIRE(a->n_rows == a->n_cols, KRY_EDIM);
    out->n = a->n_rows;
    out->matvec = csr_op_matvec;
    out->matvec_block = csr_op_matvec_block;
    /* The operator never writes through ctx; the cast only fits the generic field. */
    out->ctx = (void *)(uintptr_t)a;
    return KRY_OK;
}

kry_status kry_operator_csr(const kry_csr *a, kry_operator *out)
{
    return csr_op_init(a, out);
}

kry_status kry_operator_csr_owned(kry_csr *a, kry_operator *out)
{
    KRY_TRY(csr_op_init(a, out));
    out->destroy = csr_op_destroy;
    return KRY_OK;
}
