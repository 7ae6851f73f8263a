/* vmath.h — vectorised elementwise functions for the training losses (internal).

   The C library's exp and log1p are scalar calls of some 10 ns each; a loss over a
   mini-batch spent more time in them than in its arithmetic. These loops evaluate the
   same functions eight elements at a time (see vmath.c for the method and accuracy),
   compiled for AVX-512, AVX2 + FMA and the baseline instruction set (isa.h). */
#ifndef KRY_VMATH_H
#define KRY_VMATH_H

#include <stddef.h>

/* Binary cross-entropy with logits: returns sum_i log(1 + exp(y_i)) - t_i y_i over
   i < m, evaluated as max(y, 0) - t y + log1p(exp(-|y|)) (no overflow), and, when sig
   != NULL, writes sig[i] = 1 / (1 + exp(-y_i)). Each term is within a few ulps of the
   exact value; NaN in y gives a NaN sum and NaN sig[i]. */
double kry_bce_terms(size_t m, const double *y, const double *t, double *sig);

/* The same with the variant chosen by the caller (0 baseline, 1 AVX2 + FMA,
   2 AVX-512), lowered to the widest one the CPU runs (for the tests). */
double kry_bce_terms_isa(int isa, size_t m, const double *y, const double *t, double *sig);

#endif /* KRY_VMATH_H */
