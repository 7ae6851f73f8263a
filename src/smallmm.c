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

#include <string.h>
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define W 8
#define NB 3
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef double vd __attribute__((vector_size(W * sizeof(double))));

ALWAYS_INLINE vd ld(const double *p)
{
    vd v;
    memcpy(&v, p, sizeof v);
    return v;
}

ALWAYS_INLINE void st(double *p, vd v) { memcpy(p, &v, sizeof v); }

ALWAYS_INLINE vd splat(double a)
{
    vd v = {a, a, a, a, a, a, a, a};
    return v;
}

/* Broadcasts of *p. The bodies below take one as a (constant, inlined) argument:
   GCC 12 expands a splat of a 512-bit vector into eight masked broadcasts, in every
   spelling tried (initialiser, vector-plus-scalar, shuffle), unless the whole file is
   compiled for AVX-512, so the AVX-512 variant uses the intrinsic. */
typedef vd bcast_fn(const double *p);
ALWAYS_INLINE vd bc_plain(const double *p) { return splat(*p); }
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KRY_MM_X86 1
__attribute__((target("avx512f"))) ALWAYS_INLINE vd bc_avx512(const double *p)
{
    return (vd)_mm512_broadcastsd_pd(_mm_load_sd(p));
}
#endif

/* Rows [r0, r0 + nr) of C, column vectors [c0, c0 + nb): the block stays in registers
   through the kk loop. */
ALWAYS_INLINE void nn_block(size_t r0, int nr, size_t c0, int nb, size_t kk,
                            const double *A, size_t lda, const double *B, size_t ldb,
                            const double *init, double *C, size_t ldc, bcast_fn *bc)
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
            vd x = bc(A + (r0 + (size_t)r) * lda + j);
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
                           double *C, size_t ldc, bcast_fn *bc)
{
    size_t v = 0;
    for (; v + 3 <= nv; v += 3)
        nr == 4   ? nn_block(r0, 4, v * W, 3, kk, A, lda, B, ldb, init, C, ldc, bc)
        : nr == 3 ? nn_block(r0, 3, v * W, 3, kk, A, lda, B, ldb, init, C, ldc, bc)
        : nr == 2 ? nn_block(r0, 2, v * W, 3, kk, A, lda, B, ldb, init, C, ldc, bc)
                  : nn_block(r0, 1, v * W, 3, kk, A, lda, B, ldb, init, C, ldc, bc);
    for (; v < nv; ++v)
        nr == 4   ? nn_block(r0, 4, v * W, 1, kk, A, lda, B, ldb, init, C, ldc, bc)
        : nr == 3 ? nn_block(r0, 3, v * W, 1, kk, A, lda, B, ldb, init, C, ldc, bc)
        : nr == 2 ? nn_block(r0, 2, v * W, 1, kk, A, lda, B, ldb, init, C, ldc, bc)
                  : nn_block(r0, 1, v * W, 1, kk, A, lda, B, ldb, init, C, ldc, bc);
}

ALWAYS_INLINE void nn_body(size_t m, size_t nc, size_t kk, const double *A, size_t lda,
                           const double *B, size_t ldb, const double *init, double *C,
                           size_t ldc, bcast_fn *bc)
{
    const size_t nv = nc / W;
    size_t r = 0;
    for (; r + 4 <= m; r += 4)
        nn_rows(r, 4, nv, kk, A, lda, B, ldb, init, C, ldc, bc);
    switch (m - r) {
    case 3:
        nn_rows(r, 3, nv, kk, A, lda, B, ldb, init, C, ldc, bc);
        break;
    case 2:
        nn_rows(r, 2, nv, kk, A, lda, B, ldb, init, C, ldc, bc);
        break;
    case 1:
        nn_rows(r, 1, nv, kk, A, lda, B, ldb, init, C, ldc, bc);
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
                            size_t lda, const double *B, size_t ldb, double *C, size_t ldc,
                            bcast_fn *bc)
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
            vd x = bc(ab + r);
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
                           size_t lda, const double *B, size_t ldb, double *C, size_t ldc,
                           bcast_fn *bc)
{
    size_t v = 0;
    for (; v + 3 <= nv; v += 3)
        nr == 4   ? tn_block(j0, 4, v * W, 3, m, A, lda, B, ldb, C, ldc, bc)
        : nr == 3 ? tn_block(j0, 3, v * W, 3, m, A, lda, B, ldb, C, ldc, bc)
        : nr == 2 ? tn_block(j0, 2, v * W, 3, m, A, lda, B, ldb, C, ldc, bc)
                  : tn_block(j0, 1, v * W, 3, m, A, lda, B, ldb, C, ldc, bc);
    for (; v < nv; ++v)
        nr == 4   ? tn_block(j0, 4, v * W, 1, m, A, lda, B, ldb, C, ldc, bc)
        : nr == 3 ? tn_block(j0, 3, v * W, 1, m, A, lda, B, ldb, C, ldc, bc)
        : nr == 2 ? tn_block(j0, 2, v * W, 1, m, A, lda, B, ldb, C, ldc, bc)
                  : tn_block(j0, 1, v * W, 1, m, A, lda, B, ldb, C, ldc, bc);
}

ALWAYS_INLINE void tn_body(size_t m, size_t nc, size_t kk, const double *A, size_t lda,
                           const double *B, size_t ldb, double *C, size_t ldc, bcast_fn *bc)
{
    const size_t nv = nc / W;
    size_t j = 0;
    for (; j + 4 <= kk; j += 4)
        tn_rows(j, 4, nv, m, A, lda, B, ldb, C, ldc, bc);
    switch (kk - j) {
    case 3:
        tn_rows(j, 3, nv, m, A, lda, B, ldb, C, ldc, bc);
        break;
    case 2:
        tn_rows(j, 2, nv, m, A, lda, B, ldb, C, ldc, bc);
        break;
    case 1:
        tn_rows(j, 1, nv, m, A, lda, B, ldb, C, ldc, bc);
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
typedef void nn_fn(NN_ARGS);
typedef void tn_fn(TN_ARGS);

#ifdef KRY_MM_X86
__attribute__((target("avx512f,fma"))) static void nn_avx512(NN_ARGS)
{
    nn_body(m, nc, kk, A, lda, B, ldb, init, C, ldc, bc_avx512);
}
__attribute__((target("avx2,fma"))) static void nn_avx2(NN_ARGS)
{
    nn_body(m, nc, kk, A, lda, B, ldb, init, C, ldc, bc_plain);
}
__attribute__((target("avx512f,fma"))) static void tn_avx512(TN_ARGS)
{
    tn_body(m, nc, kk, A, lda, B, ldb, C, ldc, bc_avx512);
}
__attribute__((target("avx2,fma"))) static void tn_avx2(TN_ARGS)
{
    tn_body(m, nc, kk, A, lda, B, ldb, C, ldc, bc_plain);
}
#endif
static void nn_generic(NN_ARGS) { nn_body(m, nc, kk, A, lda, B, ldb, init, C, ldc, bc_plain); }
static void tn_generic(TN_ARGS) { tn_body(m, nc, kk, A, lda, B, ldb, C, ldc, bc_plain); }

/* The widest variant the CPU runs: 2 AVX-512, 1 AVX2 + FMA, 0 baseline. */
static int isa_level(void)
{
#ifdef KRY_MM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

void kry_mm_nn_isa(int isa, NN_ARGS)
{
    int top = isa_level();
    isa = isa < 0 ? 0 : isa > top ? top : isa;
#ifdef KRY_MM_X86
    nn_fn *const fns[] = {nn_generic, nn_avx2, nn_avx512};
    fns[isa](m, nc, kk, A, lda, B, ldb, init, C, ldc);
#else
    nn_generic(m, nc, kk, A, lda, B, ldb, init, C, ldc);
#endif
}

void kry_mm_tn_isa(int isa, TN_ARGS)
{
    int top = isa_level();
    isa = isa < 0 ? 0 : isa > top ? top : isa;
#ifdef KRY_MM_X86
    tn_fn *const fns[] = {tn_generic, tn_avx2, tn_avx512};
    fns[isa](m, nc, kk, A, lda, B, ldb, C, ldc);
#else
    tn_generic(m, nc, kk, A, lda, B, ldb, C, ldc);
#endif
}

void kry_mm_nn(NN_ARGS) { kry_mm_nn_isa(2, m, nc, kk, A, lda, B, ldb, init, C, ldc); }

void kry_mm_tn(TN_ARGS) { kry_mm_tn_isa(2, m, nc, kk, A, lda, B, ldb, C, ldc); }
