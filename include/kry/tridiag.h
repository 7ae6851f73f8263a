/* kry/tridiag.h — batched k-th eigenpair of small symmetric tridiagonal matrices, and
   the gradient of the eigenvalue with respect to the matrix entries (MATH.md section 4).

   A batch holds `count` matrices T_b = tridiag(e_b, d_b, e_b) of one size n: diagonal
   d_b[0..n) and off-diagonal e_b[0..n-1). Matrix b reads its diagonal at d + b*ldd and
   its off-diagonal at e + b*lde, so a contiguous batch-major array (ldd = n,
   lde = n - 1) and strided views into larger arrays are both fine.

   Method: each matrix is scaled by a power of two so that its largest entry lies in
   [0.5, 1) (exact; scales from 1e-300 to 1e300 work). Sturm counts bracket the k-th
   eigenvalue starting from the Gershgorin interval: sign changes of the three-term
   leading and trailing minors of T - xI (division-free, rescaled by powers of two),
   with LAPACK's guarded LDL^T count (dstebz/dlaebz pivmin) as the fallback when
   minors underflow. Count interpolation and bisection shrink the bracket until one end
   is next to lambda_k; then Laguerre's iteration on det(T - xI) converges cubically,
   falling back to bisection whenever a step would leave the bracket, and stops when a
   step is below tol or when the rate of the last two steps predicts the next one
   below tol / 8. A warm start that lies just past a neighbour of lambda_k hops across
   it with twice Laguerre's step; a point next to lambda_k but nearer the other
   neighbour takes a Newton step with that neighbour deflated. Matrices are
   processed in SIMD vectors of 8 (structure of arrays), two vectors in flight per
   thread. The eigenvector comes from a twisted factorisation T - lambda I =
   N_r Delta_r N_r^T at the twist index r of smallest |gamma_r| (Dhillon & Parlett
   2004): O(n) per matrix.

   k is 0-based: k = 0 is the smallest eigenvalue. Eigenvalues are accurate to a few
   units of DBL_EPSILON times ||T||; eigenvectors have residual of the same order times
   ||T|| and are as accurate as the gap to the neighbouring eigenvalues allows.

   Ties: an unreduced tridiagonal matrix (all e_i != 0) has simple eigenvalues, but a
   matrix that splits (some e_i == 0, or tiny) can have lambda_k equal to a neighbour,
   and then lambda_k has no derivative. kry_tridiag_eigpairs() flags such matrices
   (gap to lambda_{k-1} or lambda_{k+1} at most tie_tol * ||T||). For a flagged matrix
   the returned eigenvalue is still correct, the returned vector is one unit vector of
   the eigenspace (so q q^T lies in the Clarke generalised gradient of lambda_k), and
   kry_tridiag_grad() applied to it gives that element of the generalised gradient: a
   usable subgradient for training, not a derivative.

   Threads: params.nthreads > 1 splits the batch into that many contiguous parts, each
   solved by its own POSIX thread created for the call (thread start-up costs some tens
   of microseconds, so threads pay off only for large batches or large n). */
#ifndef KRY_TRIDIAG_H
#define KRY_TRIDIAG_H

#include <stddef.h>

#include "kry/export.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A batch of `count` symmetric tridiagonal matrices of size n (see the file comment). */
typedef struct kry_tridiag_batch {
    size_t n;        /* size of every matrix; >= 1 */
    size_t count;    /* number of matrices; >= 1 */
    const double *d; /* diagonal of matrix b: d[b*ldd + i], i < n */
    size_t ldd;      /* >= n */
    const double *e; /* off-diagonal of matrix b: e[b*lde + i], i < n-1; NULL if n == 1 */
    size_t lde;      /* >= n - 1 */
} kry_tridiag_batch;

typedef struct kry_tridiag_params {
    size_t nthreads;  /* threads for one call; 0 or 1: the calling thread only */
    int warm_start;   /* nonzero: lambda[] holds guesses on entry (e.g. the previous
                         training step's eigenvalues); NaN or out-of-range guesses are
                         ignored for that matrix. Default 0. */
    double tol;       /* absolute tolerance on the eigenvalue, relative to the
                         Gershgorin norm of T; <= 0: 2 * DBL_EPSILON */
    double tie_tol;   /* a neighbour eigenvalue within tie_tol * ||T|| counts as a tie;
                         <= 0: 1e-10 */
} kry_tridiag_params;

/* Returns the defaults: one thread, cold start, tol = 2 eps, tie_tol = 1e-10. */
KRY_API kry_tridiag_params kry_tridiag_params_default(void);

/* Workspace for batches of up to `batch` matrices of size up to n. */
typedef struct kry_tridiag_ws kry_tridiag_ws;

/* Bytes kry_tridiag_ws_alloc(n, batch) will allocate (about 7 n batch doubles). */
KRY_API size_t kry_tridiag_ws_bytes(size_t n, size_t batch);

/* Allocates a workspace; NULL if n or batch is 0 or memory runs out. One workspace
   serves one call at a time (threads inside a call are handled by the call). */
KRY_API kry_tridiag_ws *kry_tridiag_ws_alloc(size_t n, size_t batch);

/* Releases ws; NULL is a no-op. */
KRY_API void kry_tridiag_ws_free(kry_tridiag_ws *ws);

/* Number of Sturm passes (each one O(n) sweep over the whole still-active batch) that
   the most recent call on ws needed, a diagnostic for benchmarks. */
KRY_API size_t kry_tridiag_ws_passes(const kry_tridiag_ws *ws);

/* The k-th smallest eigenvalue of every matrix of the batch: lambda[b], b < count.
   k applies to every matrix unless kvec != NULL, which gives one k per matrix.
   params NULL means defaults. bad (may be NULL) receives the index of the offending
   matrix on KRY_ENONFINITE / KRY_EINVAL from a per-matrix k, and count otherwise.
   Errors: KRY_EINVAL (NULL pointers, ldd < n, lde < n-1, k >= n), KRY_EDIM (batch
   larger than the workspace), KRY_ENONFINITE (a NaN or Inf in matrix *bad),
   KRY_ENOMEM (a thread could not be started). Never allocates memory itself. */
KRY_API KRY_NODISCARD kry_status kry_tridiag_eigvals(kry_tridiag_ws *ws,
                                                     const kry_tridiag_batch *batch,
                                                     size_t k, const size_t *kvec,
                                                     const kry_tridiag_params *params,
                                                     double *lambda, size_t *bad);

/* As kry_tridiag_eigvals, plus the unit eigenvector: q[b*ldq + i], i < n (ldq >= n),
   with the sign chosen so that its entry at the twist index is positive. tied (may be
   NULL) receives 1 for matrices whose lambda_k is tied with a neighbour (see the file
   comment) and 0 otherwise. Same errors as kry_tridiag_eigvals, plus KRY_EINVAL for
   ldq < n. */
KRY_API KRY_NODISCARD kry_status kry_tridiag_eigpairs(kry_tridiag_ws *ws,
                                                      const kry_tridiag_batch *batch,
                                                      size_t k, const size_t *kvec,
                                                      const kry_tridiag_params *params,
                                                      double *lambda, double *q,
                                                      size_t ldq, unsigned char *tied,
                                                      size_t *bad);

/* Gradient of sum_b gy[b] * lambda_k(T_b) with respect to the entries, from the unit
   eigenvectors q (layout as in kry_tridiag_eigpairs): gd[b*ldgd + i] = gy[b] q_i^2 and,
   for n > 1, ge[b*ldge + i] = 2 gy[b] q_i q_{i+1} (the off-diagonal entry e_i appears
   twice in T). gy NULL means all ones. Outputs are overwritten; ge may be NULL when
   n == 1. Errors: KRY_EINVAL (NULL pointers, zero sizes, leading dimensions too small). */
KRY_API KRY_NODISCARD kry_status kry_tridiag_grad(size_t n, size_t count, const double *q,
                                                  size_t ldq, const double *gy, double *gd,
                                                  size_t ldgd, double *ge, size_t ldge);

#ifdef __cplusplus
}
#endif
#endif /* KRY_TRIDIAG_H */
