/* kry/eigmodel.h — the eigenvalue-model layer (MATH.md section 4):

       y(x) = lambda_k( tridiag(e(x), d(x), e(x)) ),  d(x) = D x + d0,  e(x) = E x + e0,

   for inputs x in R^p, an n x n symmetric tridiagonal matrix per sample, and k 0-based
   (k = 0 is the smallest eigenvalue). Forward and backward passes over a mini-batch
   run on the batched kernels of kry/tridiag.h.

   Parameters are one flat array theta, in this order (all row-major):
       D  (n x p), d0 (n), E ((n-1) x p), e0 (n-1)
   so that an optimiser (kry/optim.h) can treat them as one vector. */
#ifndef KRY_EIGMODEL_H
#define KRY_EIGMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/status.h"
#include "kry/tridiag.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kry_eigmodel kry_eigmodel;

/* A model with matrices of size n >= 1, p >= 1 inputs, eigenvalue index k < n, and
   mini-batches of up to batch_max samples. Parameters start at zero (see
   kry_eigmodel_init). NULL on invalid sizes or no memory. */
KRY_API kry_eigmodel *kry_eigmodel_alloc(size_t n, size_t p, size_t k, size_t batch_max);

/* Releases m; NULL is a no-op. */
KRY_API void kry_eigmodel_free(kry_eigmodel *m);

/* Number of parameters: n p + n + (n-1) p + (n-1). */
KRY_API size_t kry_eigmodel_nparams(const kry_eigmodel *m);

/* The parameter array theta (length kry_eigmodel_nparams), owned by the model. */
KRY_API double *kry_eigmodel_params(kry_eigmodel *m);

/* Random initialisation from seed: D and E entries N(0, scale^2 / p), d0 entries
   N(0, scale^2) sorted ascending (which spreads the spectrum), e0 entries
   N(0, (scale/2)^2). Errors: KRY_EINVAL (NULL, scale not positive and finite). */
KRY_API KRY_NODISCARD kry_status kry_eigmodel_init(kry_eigmodel *m, uint64_t seed,
                                                   double scale);

/* Options of the eigenvalue kernel used by forward (threads, tolerances, warm start).
   With p->warm_start nonzero, forward reads y[b] on entry as a guess of sample b's
   eigenvalue (e.g. its value in the previous epoch; NaN: no guess), which saves
   kernel passes while the parameters change little between the two. Errors:
   KRY_EINVAL. */
KRY_API KRY_NODISCARD kry_status kry_eigmodel_set_tridiag(kry_eigmodel *m,
                                                          const kry_tridiag_params *p);

/* Forward pass for `batch` samples X[b*ldx + j] (ldx >= p): y[b] = lambda_k(A(x_b)).
   want_grad nonzero also computes and keeps the eigenvectors for a following
   kry_eigmodel_backward on the same X. ntied (may be NULL) receives the number of
   samples whose eigenvalue was tied with a neighbour (their gradient is a generalised
   gradient; see kry/tridiag.h). Errors: KRY_EINVAL (NULL pointers, batch 0, ldx < p),
   KRY_EDIM (batch > batch_max), KRY_ENONFINITE (NaN/Inf in X or the parameters). */
KRY_API KRY_NODISCARD kry_status kry_eigmodel_forward(kry_eigmodel *m, size_t batch,
                                                      const double *X, size_t ldx,
                                                      int want_grad, double *y,
                                                      size_t *ntied);

/* Backward pass after kry_eigmodel_forward(..., want_grad = 1) on the same batch and X:
   given gy[b] = dL/dy_b, writes gtheta = dL/dtheta (overwritten, layout as theta) and,
   if gx != NULL, gx[b*ldgx + j] = dL/dx_bj (ldgx >= p). Errors: KRY_EINVAL (NULL
   pointers, ldgx < p, batch differing from the forward pass or no forward with
   want_grad before). */
KRY_API KRY_NODISCARD kry_status kry_eigmodel_backward(kry_eigmodel *m, size_t batch,
                                                       const double *X, size_t ldx,
                                                       const double *gy, double *gtheta,
                                                       double *gx, size_t ldgx);

#ifdef __cplusplus
}
#endif
#endif /* KRY_EIGMODEL_H */
