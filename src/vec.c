/* vec.c — BLAS-backed vector kernels with a reduction hook (see vec.h). */
#include <math.h>

#include <cblas.h>

#include "kry/rng.h"
#include "vec.h"

kry_status kry_vec_reduce(const kry_space *sp, double *buf, size_t count)
{
    if (sp == NULL || sp->allreduce == NULL || count == 0)
        return KRY_OK;
    return sp->allreduce(sp->ctx, buf, count) == 0 ? KRY_OK : KRY_ECALLBACK;
}

kry_status kry_vec_dot(const kry_space *sp, size_t n, const double *x, const double *y,
                       double *out)
{
    double s = cblas_ddot((int)n, x, 1, y, 1);
    kry_status st = kry_vec_reduce(sp, &s, 1);
    *out = s;
    return st;
}

kry_status kry_vec_nrm2(const kry_space *sp, size_t n, const double *x, double *out)
{
    if (sp == NULL || sp->allreduce == NULL) {
        *out = cblas_dnrm2((int)n, x, 1);
        return KRY_OK;
    }
    /* Distributed: reduce the local scale and the scaled sum of squares separately
       would need two reductions; one sum of squares is what PETSc's VecNorm does too. */
    double s = cblas_ddot((int)n, x, 1, x, 1);
    kry_status st = kry_vec_reduce(sp, &s, 1);
    *out = sqrt(s);
    return st;
}

kry_status kry_vec_gemv_t(const kry_space *sp, size_t n, size_t k, const double *Q,
                          size_t ldq, const double *x, double *c)
{
    if (k == 0)
        return KRY_OK;
    cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)k, 1.0, Q, (int)ldq, x, 1, 0.0, c,
                1);
    return kry_vec_reduce(sp, c, k);
}

void kry_vec_gemv_n(size_t n, size_t k, double alpha, const double *Q, size_t ldq,
                    const double *c, double *y)
{
    if (k == 0)
        return;
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, (int)k, alpha, Q, (int)ldq, c, 1, 1.0,
                y, 1);
}

void kry_vec_axpy(size_t n, double a, const double *x, double *y)
{
    cblas_daxpy((int)n, a, x, 1, y, 1);
}

void kry_vec_scal(size_t n, double a, double *x) { cblas_dscal((int)n, a, x, 1); }

void kry_vec_copy(size_t n, const double *x, double *y) { cblas_dcopy((int)n, x, 1, y, 1); }

int kry_vec_isfinite(size_t n, const double *x)
{
    /* x - x is 0 for finite x and NaN for NaN or Inf, so one accumulation tests all. */
    double acc = 0.0;
    for (size_t i = 0; i < n; ++i)
        acc += x[i] - x[i];
    return acc == 0.0;
}

void kry_vec_random(const kry_space *sp, size_t n, uint64_t seed, uint64_t stream,
                    double *x)
{
    uint64_t offset = sp ? sp->offset : 0;
    kry_rng_fill_normal(seed, stream, offset, n, x);
}
