/* orth.c — block classical Gram-Schmidt with one reduction per pass (see orth.h).

   Method: classical Gram-Schmidt as two matrix-vector products per block (BLAS-2,
   dgemv^T for the coefficients and dgemv for the update), repeated once ("CGS2") or
   once when needed (DGKS criterion). The coefficients of all blocks are reduced
   together, so a distributed run pays one allreduce per pass.

   References: Daniel, Gragg, Kaufman & Stewart 1976 (Math. Comp. 30, the reorthogonali-
   sation criterion); Giraud, Langou & Rozloznik 2005 (Comput. Math. Appl. 50, "twice is
   enough" for CGS); Hernandez, Roman & Tomas 2007 (SLEPc technical report STR-1,
   orthogonalisation in BV). */
#include <float.h>
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "orth.h"
#include "vec.h"

/* c[0..k) = Q^T w for one block (local, no reduction). */
static void block_t(size_t n, const double *Q, size_t ld, size_t k, const double *w,
                    double *c)
{
    if (k > 0)
        cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)k, 1.0, Q, (int)ld, w, 1, 0.0, c,
                    1);
}

/* w -= Q c for one block. */
static void block_n(size_t n, const double *Q, size_t ld, size_t k, const double *c,
                    double *w)
{
    if (k > 0)
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, (int)k, -1.0, Q, (int)ld, c, 1, 1.0,
                    w, 1);
}

kry_status kry_orth_cgs_pass(const kry_space *sp, size_t n, const kry_orth_basis *b,
                             double *w, double *c)
{
    const size_t k1 = b->k1, k2 = b->k2, k3 = b->k3;
    if (k1 + k2 + k3 == 0)
        return KRY_OK;
    block_t(n, b->q1, b->ld1, k1, w, c);
    block_t(n, b->q2, b->ld2, k2, w, c + k1);
    block_t(n, b->q3, b->ld3, k3, w, c + k1 + k2);
    if (kry_vec_reduce(sp, c, k1 + k2 + k3) != KRY_OK)
        return KRY_ECALLBACK;
    block_n(n, b->q1, b->ld1, k1, c, w);
    block_n(n, b->q2, b->ld2, k2, c + k1, w);
    block_n(n, b->q3, b->ld3, k3, c + k1 + k2, w);
    return KRY_OK;
}

kry_status kry_orth_norm(const kry_space *sp, size_t n, const double *w, double *norm)
{
    double s = cblas_ddot((int)n, w, 1, w, 1);
    if (kry_vec_reduce(sp, &s, 1) != KRY_OK)
        return KRY_ECALLBACK;
    /* The sum of squares is exact enough unless it left the normal range. */
    if (isfinite(s) && (s == 0.0 || s > DBL_MIN / DBL_EPSILON)) {
        *norm = sqrt(s);
        return KRY_OK;
    }
    return kry_vec_nrm2(sp, n, w, norm);
}

/* y -= Q[:, i0:i1) c[i0:i1) for the runs of consecutive columns with c_i != 0. */
static void update_runs(size_t n, const double *Q, size_t ldq, size_t k, const double *c,
                        double *w)
{
    size_t i = 0;
    while (i < k) {
        if (c[i] == 0.0) {
            ++i;
            continue;
        }
        size_t i0 = i;
        while (i < k && c[i] != 0.0)
            ++i;
        if (i - i0 == 1)
            cblas_daxpy((int)n, -c[i0], Q + i0 * ldq, 1, w, 1);
        else
            cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, (int)(i - i0), -1.0,
                        Q + i0 * ldq, (int)ldq, c + i0, 1, 1.0, w, 1);
    }
}

kry_status kry_orth_cgs_sel(const kry_space *sp, size_t n, const kry_orth_basis *b,
                            double tau, double kappa, double *w, double *c, double *work,
                            double *norm_in, double *norm, int *npasses)
{
    const size_t k1 = b->k1, k2 = b->k2, k3 = b->k3, k = k1 + k2 + k3;
    block_t(n, b->q1, b->ld1, k1, w, c);
    block_t(n, b->q2, b->ld2, k2, w, c + k1);
    block_t(n, b->q3, b->ld3, k3, w, c + k1 + k2);
    c[k] = cblas_ddot((int)n, w, 1, w, 1);
    if (kry_vec_reduce(sp, c, k + 1) != KRY_OK)
        return KRY_ECALLBACK;
    const double s0 = c[k];
    const int s0_ok = isfinite(s0) && (s0 == 0.0 || s0 > DBL_MIN / DBL_EPSILON);
    double n0;
    if (s0_ok) {
        n0 = sqrt(s0);
    } else {
        kry_status st = kry_vec_nrm2(sp, n, w, &n0);
        if (st != KRY_OK)
            return st;
    }
    if (norm_in != NULL)
        *norm_in = n0;
    double cmax = 0.0;
    for (size_t i = k1; i < k1 + k2; ++i)
        cmax = fmax(cmax, fabs(c[i]));
    if (cmax > kappa * n0) {
        /* Real cancellation: finish this pass in full and add a second one. */
        block_n(n, b->q1, b->ld1, k1, c, w);
        block_n(n, b->q2, b->ld2, k2, c + k1, w);
        block_n(n, b->q3, b->ld3, k3, c + k1 + k2, w);
        kry_status st = kry_orth_cgs_pass(sp, n, b, w, work);
        if (st != KRY_OK)
            return st;
        for (size_t i = 0; i < k; ++i)
            c[i] += work[i];
        if (npasses != NULL)
            *npasses = 2;
        return norm != NULL ? kry_orth_norm(sp, n, w, norm) : KRY_OK;
    }
    block_n(n, b->q1, b->ld1, k1, c, w);
    block_n(n, b->q3, b->ld3, k3, c + k1 + k2, w);
    double removed = 0.0, full = 0.0;
    for (size_t i = 0; i < k; ++i) {
        if (i >= k1 && i < k1 + k2 && fabs(c[i]) <= tau * n0)
            c[i] = 0.0;
        removed += c[i] * c[i];
        if (i < k1 || i >= k1 + k2)
            full += c[i] * c[i];
    }
    if (k2 > 0)
        update_runs(n, b->q2, b->ld2, k2, c + k1, w);
    if (full > 0.5 * s0 || !s0_ok) {
        /* Blocks 1 and 3 took more than half of |w|^2 (DGKS: |w| < |w_in| / sqrt 2):
           the cancellation calls for a second, full pass. */
        kry_status st = kry_orth_cgs_pass(sp, n, b, w, work);
        if (st != KRY_OK)
            return st;
        for (size_t i = 0; i < k; ++i)
            c[i] += work[i];
        if (npasses != NULL)
            *npasses = 2;
        return norm != NULL ? kry_orth_norm(sp, n, w, norm) : KRY_OK;
    }
    if (npasses != NULL)
        *npasses = 1;
    if (norm == NULL)
        return KRY_OK;
    /* |w_out|^2 = |w_in|^2 - |c|^2 for orthonormal columns; at most half of |w_in|^2 is
       removed, so the difference loses at most one bit. */
    *norm = sqrt(removed <= s0 ? s0 - removed : 0.0);
    return KRY_OK;
}

kry_status kry_orth_cgs(const kry_space *sp, size_t n, const kry_orth_basis *b,
                        kry_orth_passes passes, double eta, double *w, double *c,
                        double *work, double *norm_in, double *norm, int *npasses)
{
    const size_t k = b->k1 + b->k2 + b->k3;
    double n0 = 0.0, n1 = 0.0;
    int done = 0;
    if (passes == KRY_ORTH_IFNEEDED || norm_in != NULL) {
        kry_status st = kry_vec_nrm2(sp, n, w, &n0);
        if (st != KRY_OK)
            return st;
    }
    kry_status st = kry_orth_cgs_pass(sp, n, b, w, c);
    if (st != KRY_OK)
        return st;
    done = 1;
    int second = passes == KRY_ORTH_TWO;
    if (passes == KRY_ORTH_IFNEEDED) {
        st = kry_vec_nrm2(sp, n, w, &n1);
        if (st != KRY_OK)
            return st;
        second = n1 < (eta > 0.0 ? eta : 1.0 / sqrt(2.0)) * n0;
    }
    if (second && k > 0) {
        st = kry_orth_cgs_pass(sp, n, b, w, work);
        if (st != KRY_OK)
            return st;
        for (size_t i = 0; i < k; ++i)
            c[i] += work[i];
        done = 2;
    }
    if (norm != NULL) {
        if (done == 1 && passes == KRY_ORTH_IFNEEDED) {
            *norm = n1;
        } else {
            st = kry_vec_nrm2(sp, n, w, norm);
            if (st != KRY_OK)
                return st;
        }
    }
    if (norm_in != NULL)
        *norm_in = n0;
    if (npasses != NULL)
        *npasses = done;
    return KRY_OK;
}

kry_status kry_orth_cgs2(const kry_space *sp, size_t n, const double *Q, size_t ldq,
                         size_t k, double *w, double *c, double *work, double *norm)
{
    kry_orth_basis b;
    memset(&b, 0, sizeof b);
    b.q1 = Q;
    b.ld1 = ldq;
    b.k1 = k;
    return kry_orth_cgs(sp, n, &b, KRY_ORTH_TWO, 0.0, w, c, work, NULL, norm, NULL);
}
