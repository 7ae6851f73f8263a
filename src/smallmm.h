/* smallmm.h — products of small row-major matrices (internal; never installed).

   For the shapes of a mini-batch layer (tens of rows, a dozen or two columns), a BLAS
   call costs more in dispatch and packing than in arithmetic: OpenBLAS took about
   1.3 us for 64 x 17 x 12, whose 13 000 multiply-adds take a fifth of that in
   registers. These loops keep one or two rows of C (or four rows of C and one row of
   B) in SIMD registers and are compiled for AVX-512, AVX2 + FMA and the baseline
   instruction set, chosen at run time. Results agree with the BLAS to rounding (the
   order of the sums differs). */
#ifndef KRY_SMALLMM_H
#define KRY_SMALLMM_H

#include <stddef.h>

/* C (m x nc) += A (m x kk) B (kk x nc): row r of C is C[r*ldc + i], likewise A, B.
   With init != NULL, every row of C starts from init[0..nc) instead of its contents
   (C = 1 init^T + A B, a bias row). */
void kry_mm_nn(size_t m, size_t nc, size_t kk, const double *A, size_t lda, const double *B,
               size_t ldb, const double *init, double *C, size_t ldc);

/* C (kk x nc) += A^T B for A (m x kk) and B (m x nc), all row-major. */
void kry_mm_tn(size_t m, size_t nc, size_t kk, const double *A, size_t lda, const double *B,
               size_t ldb, double *C, size_t ldc);

/* The same with the variant chosen by the caller (0 baseline, 1 AVX2 + FMA,
   2 AVX-512), lowered to the widest one the CPU runs: for the tests, which check every
   variant the machine has. */
void kry_mm_nn_isa(int isa, size_t m, size_t nc, size_t kk, const double *A, size_t lda,
                   const double *B, size_t ldb, const double *init, double *C, size_t ldc);
void kry_mm_tn_isa(int isa, size_t m, size_t nc, size_t kk, const double *A, size_t lda,
                   const double *B, size_t ldb, double *C, size_t ldc);

#endif /* KRY_SMALLMM_H */
