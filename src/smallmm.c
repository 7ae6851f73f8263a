/* smallmm.c — products of small row-major matrices (see smallmm.h).

   Columns of C go in SIMD vectors of W = 8 doubles (GCC/Clang vector extensions; on
   narrower instruction sets the compiler splits them); blocks of 4 rows by 3 vectors
   (12 independent accumulator chains, enough to hide the FMA latency) stay in
   registers through the sum; the columns past the last full vector are done by plain
   loops.
   Unaligned loads and stores go through memcpy. */
/* GCC in ISO C mode contracts no a * b + c into an FMA (see tridiag.c). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

#include "smallmm.h"

#include <stdint.h>
#include <string.h>

#include "isa.h"

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define W 8
#define NB 3
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef double vd __attribute__((vector_size(W * sizeof(double))));
typedef int64_t vl __attribute__((vector_size(W * sizeof(int64_t))));

ALWAYS_INLINE vd ld(const double *p)
{
    vd v;
    memcpy(&v, p, sizeof v);
    return v;
}

ALWAYS_INLINE void st(double *p, vd v) { memcpy(p, &v, sizeof v); }

/* A broadcast, made as one of the bits: for a double that is not a constant, GCC 12
   expands {a, a, ..., a} for AVX-512 into eight masked broadcasts, in every spelling
   tried (initialiser, vector-plus-scalar, shuffle); the integer broadcast is one
   instruction. */
ALWAYS_INLINE vd splat(double a)
{
    int64_t b;
    memcpy(&b, &a, sizeof b);
    vl v = {b, b, b, b, b, b, b, b};
    return (vd)v;
}

/* Rows [r0, r0 + nr) of C, column vectors [c0, c0 + nb): the block stays in registers
   through the kk loop. */
ALWAYS_INLINE void nn_block(size_t r0, int nr, size_t c0, int nb, size_t kk,
                            const double *A, size_t lda, const double *B, size_t ldb,
                            const double *init, double *C, size_t ldc)
{
    vd acc[4][NB];
    _Pragma("GCC unroll 4") for (int r = 0; r < nr; ++r)
        _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
            acc[r][v] = ld(init ? init + c0 + v * W : C + (r0 + (size_t)r) * ldc + c0 + v * W);
    for (size_t j = 0; j < kk; ++j) {
        const double *bj = B + j * ldb + c0;
        vd bv[NB];
        _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
            bv[v] = ld(bj + v * W);
        _Pragma("GCC unroll 4") for (int r = 0; r < nr; ++r) {
            vd x = splat(A[(r0 + (size_t)r) * lda + j]);
            _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
                acc[r][v] += x * bv[v];
        }
    }
    _Pragma("GCC unroll 4") for (int r = 0; r < nr; ++r)
        _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
            st(C + (r0 + (size_t)r) * ldc + c0 + v * W, acc[r][v]);
}

/* Up to 12 accumulators: 4 rows of C by 3 column vectors. */
ALWAYS_INLINE void nn_rows(size_t r0, int nr, size_t nv, size_t kk, const double *A,
                           size_t lda, const double *B, size_t ldb, const double *init,
                           double *C, size_t ldc)
{
    size_t v = 0;
    for (; v + 3 <= nv; v += 3)
        nr == 4   ? nn_block(r0, 4, v * W, 3, kk, A, lda, B, ldb, init, C, ldc)
        : nr == 3 ? nn_block(r0, 3, v * W, 3, kk, A, lda, B, ldb, init, C, ldc)
        : nr == 2 ? nn_block(r0, 2, v * W, 3, kk, A, lda, B, ldb, init, C, ldc)
                  : nn_block(r0, 1, v * W, 3, kk, A, lda, B, ldb, init, C, ldc);
    for (; v < nv; ++v)
        nr == 4   ? nn_block(r0, 4, v * W, 1, kk, A, lda, B, ldb, init, C, ldc)
        : nr == 3 ? nn_block(r0, 3, v * W, 1, kk, A, lda, B, ldb, init, C, ldc)
        : nr == 2 ? nn_block(r0, 2, v * W, 1, kk, A, lda, B, ldb, init, C, ldc)
                  : nn_block(r0, 1, v * W, 1, kk, A, lda, B, ldb, init, C, ldc);
}

ALWAYS_INLINE void nn_body(size_t m, size_t nc, size_t kk, const double *A, size_t lda,
                           const double *B, size_t ldb, const double *init, double *C,
                           size_t ldc)
{
    const size_t nv = nc / W;
    size_t r = 0;
    for (; r + 4 <= m; r += 4)
        nn_rows(r, 4, nv, kk, A, lda, B, ldb, init, C, ldc);
    switch (m - r) {
    case 3:
        nn_rows(r, 3, nv, kk, A, lda, B, ldb, init, C, ldc);
        break;
    case 2:
        nn_rows(r, 2, nv, kk, A, lda, B, ldb, init, C, ldc);
        break;
    case 1:
        nn_rows(r, 1, nv, kk, A, lda, B, ldb, init, C, ldc);
        break;
    default:
        break;
    }
    for (r = 0; r < m; ++r)
        for (size_t i = nv * W; i < nc; ++i) {
            double s = init ? init[i] : C[r * ldc + i];
            for (size_t j = 0; j < kk; ++j)
                s += A[r * lda + j] * B[j * ldb + i];
            C[r * ldc + i] = s;
        }
}

/* Rows [j0, j0 + nr) of C = A^T B, column vectors [c0, c0 + nb), summed over the m rows
   of A and B with the block in registers. */
ALWAYS_INLINE void tn_block(size_t j0, int nr, size_t c0, int nb, size_t m, const double *A,
                            size_t lda, const double *B, size_t ldb, double *C, size_t ldc)
{
    vd acc[4][NB];
    _Pragma("GCC unroll 4") for (int r = 0; r < nr; ++r)
        _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
            acc[r][v] = ld(C + (j0 + (size_t)r) * ldc + c0 + v * W);
    for (size_t b = 0; b < m; ++b) {
        const double *bb = B + b * ldb + c0, *ab = A + b * lda + j0;
        vd bv[NB];
        _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
            bv[v] = ld(bb + v * W);
        _Pragma("GCC unroll 4") for (int r = 0; r < nr; ++r) {
            vd x = splat(ab[r]);
            _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
                acc[r][v] += x * bv[v];
        }
    }
    _Pragma("GCC unroll 4") for (int r = 0; r < nr; ++r)
        _Pragma("GCC unroll 4") for (int v = 0; v < nb; ++v)
            st(C + (j0 + (size_t)r) * ldc + c0 + v * W, acc[r][v]);
}

/* Up to 12 accumulators: 4 rows of C by 3 column vectors. */
ALWAYS_INLINE void tn_rows(size_t j0, int nr, size_t nv, size_t m, const double *A,
                           size_t lda, const double *B, size_t ldb, double *C, size_t ldc)
{
    size_t v = 0;
    for (; v + 3 <= nv; v += 3)
        nr == 4   ? tn_block(j0, 4, v * W, 3, m, A, lda, B, ldb, C, ldc)
        : nr == 3 ? tn_block(j0, 3, v * W, 3, m, A, lda, B, ldb, C, ldc)
        : nr == 2 ? tn_block(j0, 2, v * W, 3, m, A, lda, B, ldb, C, ldc)
                  : tn_block(j0, 1, v * W, 3, m, A, lda, B, ldb, C, ldc);
    for (; v < nv; ++v)
        nr == 4   ? tn_block(j0, 4, v * W, 1, m, A, lda, B, ldb, C, ldc)
        : nr == 3 ? tn_block(j0, 3, v * W, 1, m, A, lda, B, ldb, C, ldc)
        : nr == 2 ? tn_block(j0, 2, v * W, 1, m, A, lda, B, ldb, C, ldc)
                  : tn_block(j0, 1, v * W, 1, m, A, lda, B, ldb, C, ldc);
}

ALWAYS_INLINE void tn_body(size_t m, size_t nc, size_t kk, const double *A, size_t lda,
                           const double *B, size_t ldb, double *C, size_t ldc)
{
    const size_t nv = nc / W;
    size_t j = 0;
    for (; j + 4 <= kk; j += 4)
        tn_rows(j, 4, nv, m, A, lda, B, ldb, C, ldc);
    switch (kk - j) {
    case 3:
        tn_rows(j, 3, nv, m, A, lda, B, ldb, C, ldc);
        break;
    case 2:
        tn_rows(j, 2, nv, m, A, lda, B, ldb, C, ldc);
        break;
    case 1:
        tn_rows(j, 1, nv, m, A, lda, B, ldb, C, ldc);
        break;
    default:
        break;
    }
    for (size_t r = 0; r < kk; ++r)
        for (size_t i = nv * W; i < nc; ++i) {
            double s = C[r * ldc + i];
            for (size_t b = 0; b < m; ++b)
                s += A[b * lda + r] * B[b * ldb + i];
            C[r * ldc + i] = s;
        }
}

#define NN_ARGS                                                                        \
    size_t m, size_t nc, size_t kk, const double *A, size_t lda, const double *B, size_t ldb, \
        const double *init, double *C, size_t ldc
#define TN_ARGS                                                                        \
    size_t m, size_t nc, size_t kk, const double *A, size_t lda, const double *B, size_t ldb, \
        double *C, size_t ldc

KRY_ISA_CLONES_VOID(nn, (NN_ARGS), nn_body(m, nc, kk, A, lda, B, ldb, init, C, ldc))
KRY_ISA_CLONES_VOID(tn, (TN_ARGS), tn_body(m, nc, kk, A, lda, B, ldb, C, ldc))

void kry_mm_nn_isa(int isa, NN_ARGS)
{
    KRY_ISA_PICK(kry_isa_clamp(isa), nn)(m, nc, kk, A, lda, B, ldb, init, C, ldc);
}

void kry_mm_tn_isa(int isa, TN_ARGS)
{
    KRY_ISA_PICK(kry_isa_clamp(isa), tn)(m, nc, kk, A, lda, B, ldb, C, ldc);
}

void kry_mm_nn(NN_ARGS) { kry_mm_nn_isa(2, m, nc, kk, A, lda, B, ldb, init, C, ldc); }

void kry_mm_tn(TN_ARGS) { kry_mm_tn_isa(2, m, nc, kk, A, lda, B, ldb, C, ldc); }
