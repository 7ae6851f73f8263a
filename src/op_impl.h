/* op_impl.h — kernels shared by the operator families (never installed). */
#ifndef KRY_OP_IMPL_H
#define KRY_OP_IMPL_H

#include <stddef.h>

/* y = T x for the symmetric tridiagonal T with diagonal d[0..n) and off-diagonal
   e[0..n-1) (e unused when n == 1). Defined in op_tridiag.c; the pencil uses it at its
   current point. */
void kry_tridiag_apply(size_t n, const double *restrict d, const double *restrict e,
                       const double *restrict x, double *restrict y);

#endif /* KRY_OP_IMPL_H */
