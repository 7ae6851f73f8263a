/* vmath.h — vectorised elementwise functions for training (internal).

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

/* One Adam step over n parameters (Kingma & Ba, with the bias corrections folded into
   the coefficients): if every g[i] is finite,
       m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
       x -= a m / (sqrt(v c2) + eps) + wd x
   for all i, and returns 0; otherwise returns -1 and writes nothing. */
int kry_adam_update(size_t n, double *x, double *m, double *v, const double *g, double b1,
                    double b2, double a, double c2, double eps, double wd);

/* The same with the variant chosen by the caller (see kry_bce_terms_isa). */
int kry_adam_update_isa(int isa, size_t n, double *x, double *m, double *v, const double *g,
                        double b1, double b2, double a, double c2, double eps, double wd);

#endif /* KRY_VMATH_H */
