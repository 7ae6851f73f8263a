/* kry/deflation.h — the top k eigenpairs by power iteration and successive (Hotelling)
   deflation (MATH.md section 1).

   Method. Pair j = 0, 1, ..., k-1 is found by the power iteration of kry/power.h
   (same parameters, same stopping test, same LA/SA phases), run on the deflated operator
       B_j x = A x - sum_{i<j} lambda_i v_i (v_i^T x),
   which maps every eigenvalue already found to (about) 0 and leaves the rest of the
   spectrum in place. The deflation term costs one kry_vec_gemv_t and one kry_vec_gemv_n
   (2 n j flops and one reduction of j numbers) per matvec; nothing is allocated per pair.
   Each pair starts from a fresh random vector (params.power.seed for pair 0, a seed
   derived from it and j for the others) projected against the vectors found so far.
   lambda_j is reported as the Rayleigh quotient v_j^T A v_j of the *undeflated* A, and the
   same value is used in later deflation terms.

   With params.orthogonalize set, the product is also projected against the found
   vectors at every step, B_j x = (I - V V^T) A x (in exact arithmetic the deflation
   term then vanishes, so it is not computed), i.e. the iteration runs on A restricted to
   the orthogonal complement of the found vectors; this costs the same as deflation and
   keeps the found vectors orthonormal to rounding level. Without it (the default, the
   textbook method) the errors of the found v_i pollute B_j, and accuracy degrades after a
   handful of pairs: inspect the true residuals `resid`.
   Orthogonalisation is forced when params.power.which != KRY_POWER_LM or
   params.power.shift != 0: there the found directions, deflated to 0, would otherwise
   compete with the wanted eigenvalues (e.g. LA on a spectrum whose remaining part is
   negative would return a found vector again).

   Budget: params.power.max_iter is the matvec budget of EACH pair; a pair that runs out
   keeps its last estimate (converged[j] = 0) and the run continues with the next pair.
   Each pair's convergence is that of its deflated iteration; resid[j] is the true
   residual |A v_j - lambda_j v_j| of the undeflated A, computed from the last product
   without an extra matvec, so it shows the pollution the deflated iteration cannot see.

   Errors: KRY_EINVAL (NULL op/ws/lambda/V/res, invalid operator or params, k == 0,
   k > n), KRY_EDIM (ldv < n; workspace made for another n, a smaller k or a smaller
   max_iter), KRY_ERANGE (n or ldv do not fit a BLAS int), KRY_ECALLBACK, KRY_ENONFINITE
   (from the operator or its space's reduction; the run stops at once and returns it,
   outputs for the pairs before the failing one are filled). With
   params.power.fail_if_not_converged set, a run in which some pair did not converge
   returns KRY_ENOTCONV after filling every output. */
#ifndef KRY_DEFLATION_H
#define KRY_DEFLATION_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/operator.h"
#include "kry/power.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parameters. A NULL params pointer means all defaults. */
typedef struct kry_deflation_params {
    kry_power_params power; /* per-pair power iteration (max_iter is per pair) */
    int orthogonalize;      /* nonzero: project each product against the found vectors;
                               default 0 (forced on for which != LM or shift != 0) */
} kry_deflation_params;

/* Returns kry_power_params_default() for .power and orthogonalize = 0. */
KRY_API kry_deflation_params kry_deflation_params_default(void);

/* Opaque workspace: six vectors of length n, k coefficients, and the per-pair history
   (k * max_iter Rayleigh quotients and residuals). */
typedef struct kry_deflation_ws kry_deflation_ws;

/* Allocates a workspace for operators of dimension n >= 1, up to k >= 1 pairs and up to
   max_iter matvecs per pair (0: 1000). Returns NULL when n or k is 0, on size overflow
   or when memory runs out (nothing leaks). */
KRY_API kry_deflation_ws *kry_deflation_ws_alloc(size_t n, size_t k, size_t max_iter);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_deflation_ws_free(kry_deflation_ws *ws);

/* Bytes kry_deflation_ws_alloc(n, k, max_iter) requests; 0 when n or k is 0 or the size
   overflows. */
KRY_API size_t kry_deflation_ws_bytes(size_t n, size_t k, size_t max_iter);

/* Outcome of a run (filled also after an error, with the progress made). */
typedef struct kry_deflation_result {
    size_t matvecs;    /* operator applications over all pairs */
    size_t nconv;      /* pairs whose iteration converged */
    kry_reason reason; /* KRY_CONVERGED_TOL if all k converged (KRY_CONVERGED_INVARIANT
                          if all converged and some pair hit an invariant subspace),
                          else KRY_STOPPED_MAXIT */
} kry_deflation_result;

/* Computes k eigenpairs of op by deflation (see the top of this header), in the order
   found (for LM: decreasing |lambda - shift| as far as the method resolves it; LA:
   decreasing; SA: increasing).
   Outputs: lambda[k]; V (n x k, column-major, leading dimension ldv >= n): unit vectors;
   resid[k] (may be NULL): true residuals |A v_j - lambda_j v_j|; converged[k] (may be
   NULL): 1 if pair j's iteration converged (tolerance or invariant subspace), else 0;
   res: totals. ws from kry_deflation_ws_alloc(n, K, M) with K >= k and M >= the effective
   max_iter. Cost: at most k * max_iter matvecs; never allocates. Errors: see above. */
KRY_API KRY_NODISCARD kry_status kry_deflation_run(const kry_operator *op, size_t k,
                                                   const kry_deflation_params *params,
                                                   kry_deflation_ws *ws, double *lambda,
                                                   double *V, size_t ldv, double *resid,
                                                   int *converged,
                                                   kry_deflation_result *res);

/* The iteration history of pair `pair` of the most recent run on ws: Rayleigh quotients
   of the deflated operator (plus shift) and its residual norms per iteration, as in
   kry_power_history. The arrays belong to ws. Pairs not reached by the last run (or any
   pair before the first run) have *len == 0. Any output may be NULL.
   Errors: KRY_EINVAL (ws NULL or pair >= the workspace's k). */
KRY_API KRY_NODISCARD kry_status kry_deflation_history(const kry_deflation_ws *ws,
                                                       size_t pair, const double **lambda,
                                                       const double **resid, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* KRY_DEFLATION_H */
