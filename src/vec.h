/* vec.h — vector kernels on BLAS, with every inner product going through the space's
   reduction hook (DESIGN.md "Distributed-ready"). Local parts use BLAS; the reduced
   parts call space->allreduce when one is set. Never installed. Callers must have
   checked that n and k fit a BLAS int (kry_fits_blas_int). */
#ifndef KRY_VEC_H
#define KRY_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "kry/operator.h"
#include "kry/status.h"

/* Sums buf[0..count) across processes (no-op when sp or sp->allreduce is NULL).
   KRY_ECALLBACK when the hook fails. */
kry_status kry_vec_reduce(const kry_space *sp, double *buf, size_t count);

/* *out = x^T y over the whole (global) vector. */
kry_status kry_vec_dot(const kry_space *sp, size_t n, const double *x, const double *y,
                       double *out);

/* *out = |x|_2 over the whole vector (overflow-safe dnrm2 when serial). */
kry_status kry_vec_nrm2(const kry_space *sp, size_t n, const double *x, double *out);

/* c[0..k) = Q^T x, Q n x k column-major with leading dimension ldq (dgemv + one
   reduction of k values). */
kry_status kry_vec_gemv_t(const kry_space *sp, size_t n, size_t k, const double *Q,
                          size_t ldq, const double *x, double *c);

/* y += alpha Q c, Q n x k column-major (local, no reduction). */
void kry_vec_gemv_n(size_t n, size_t k, double alpha, const double *Q, size_t ldq,
                    const double *c, double *y);

/* y += a x. */
void kry_vec_axpy(size_t n, double a, const double *x, double *y);

/* x *= a. */
void kry_vec_scal(size_t n, double a, double *x);

/* y = x. */
void kry_vec_copy(size_t n, const double *x, double *y);

/* 1 if every x[i] is finite, else 0. */
int kry_vec_isfinite(size_t n, const double *x);

/* Fills the local part of a standard normal random vector from (seed, stream), using
   global indices so the result does not depend on the process layout. */
void kry_vec_random(const kry_space *sp, size_t n, uint64_t seed, uint64_t stream,
                    double *x);

#endif /* KRY_VEC_H */
