/* kry/ritz.h — Ritz pairs of a Lanczos decomposition, ghost detection, and a one-call
   unrestarted Lanczos eigensolver (MATH.md section 3).

   With T_m = S Theta S^T (LAPACK dstevr on a copy of T_m, eigenvectors only for the
   wanted pairs), the Ritz values are theta_i, the Ritz vectors y_i = Q_m s_i (one dgemm
   for the block), and the residual norm |A y_i - theta_i y_i| = beta_{m-1} |s_{m-1,i}|
   needs no matvec (it holds exactly when Q_m is orthonormal; with reorth = none it is
   only the bound of the decomposition). The convergence test (ARPACK / SLEPc
   "relative") is

       beta_{m-1} |s_{m-1,i}| <= tol * max(|theta_i|, eps^(2/3) |T_m|),

   with |T_m| = max |eigenvalue of T_m| computed exactly. */
#ifndef KRY_RITZ_H
#define KRY_RITZ_H

#include <stddef.h>

#include "kry/export.h"
#include "kry/lanczos.h"
#include "kry/operator.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which Ritz pairs are wanted, and the order they are returned in. */
typedef enum kry_which {
    KRY_WHICH_LA = 0, /* largest algebraic; returned in descending order */
    KRY_WHICH_SA,     /* smallest algebraic; ascending */
    KRY_WHICH_LM,     /* largest magnitude; |theta| descending; ties (|theta| equal to
                         64 eps relative) go to the larger theta first */
    KRY_WHICH_BE,     /* both ends: ceil(k/2) from the top, floor(k/2) from the bottom,
                         alternating largest, smallest, 2nd largest, 2nd smallest, ... */
    KRY_WHICH_COUNT   /* number of choices; not a choice */
} kry_which;

/* "LA", "SA", "LM", "BE"; "unknown" when out of range. Static storage, never NULL. */
KRY_API const char *kry_which_name(kry_which w);

/* Parses "LA", "SA", "LM" or "BE" (case-insensitive).
   Errors: KRY_EINVAL (NULL pointer or unknown name; *out is left unchanged). */
KRY_API KRY_NODISCARD kry_status kry_which_parse(const char *s, kry_which *out);

/* Opaque workspace of the small tridiagonal eigenproblem: copies of T, eigenvalues,
   an m x m eigenvector array and LAPACK work (about (m^2 + 26 m) doubles). */
typedef struct kry_ritz_ws kry_ritz_ws;

/* Allocates a Ritz workspace for decompositions of up to max_steps steps (0: 300).
   NULL on allocation failure. */
KRY_API kry_ritz_ws *kry_ritz_ws_alloc(size_t max_steps);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_ritz_ws_free(kry_ritz_ws *ws);

/* Bytes kry_ritz_ws_alloc(max_steps) allocates; 0 if the size overflows. */
KRY_API size_t kry_ritz_ws_bytes(size_t max_steps);

/* The k wanted Ritz pairs of the current decomposition in lws (m = kry_lanczos_steps
   >= k), in `which` order:
     theta[k]            Ritz values (required);
     vecs, ldv           n x k column-major Ritz vectors y_i = Q_m s_i (ldv >= n), or NULL;
     bound[k]            beta_{m-1} |s_{m-1,i}|, or NULL;
     converged[k]        1 when the MATH.md section 3 test with tol passes, or NULL
                         (tol: relative tolerance; 0 means 1e-10).
   Eigenvectors of T_m are computed only for the wanted pairs (LM: for the k largest and
   k smallest candidates), and only when vecs, bound or converged is requested.
   Cost: O(m k) for the small eigenproblem (bisection + inverse iteration), one dgemm
   n x m x k for the vectors; no matvec.
   Errors: KRY_EINVAL (NULL lws, rws or theta; k == 0 or k > m; which out of range;
   tol < 0 or not finite), KRY_EDIM (m exceeds the Ritz workspace capacity, or
   ldv < n), KRY_ERANGE (sizes beyond a BLAS int), KRY_ELAPACK. */
KRY_API KRY_NODISCARD kry_status kry_ritz_pairs(const kry_lanczos_ws *lws, kry_ritz_ws *rws,
                                                size_t k, kry_which which, double tol,
                                                double *theta, double *vecs, size_t ldv,
                                                double *bound, int *converged);

/* Cullum-Willoughby ghost flags, meant for reorth = none. For each of the k values
   theta[i] (as returned by kry_ritz_pairs on the same decomposition), ghost[i] = 1 when
   it is spurious or a redundant copy:
   - within its unreduced block of T_m (T splits only after a continued breakdown), a
     numerically simple eigenvalue of the block that is also an eigenvalue of the block
     with its first row and column removed is spurious (its Ritz vector has no component
     along the block's start vector);
   - a numerically multiple eigenvalue of a block counts as one good eigenvalue: among
     the returned copies of one value, the first (in the order given) is kept and later
     copies are flagged, unless they belong to different blocks (genuine multiplicity
     found by restarting).
   Tolerance: with delta = tol * |T| (|T| the Gershgorin bound of T_m), an eigenvalue
   of the reduced block within delta makes a simple value spurious, and values within
   2 delta are copies of one eigenvalue. tol = 0 selects 100 sqrt(m) eps: spurious
   eigenvalues match the reduced block to a few eps |T| and converged copies agree to a
   few eps |T| (measured up to 11 eps |T| for m <= 300), while good simple values stay
   ~1e6 eps |T| or more away from the reduced block's eigenvalues. Two genuine
   eigenvalues of one block closer than 2 delta are reported as one (then the second
   is flagged). Eigenvalues are counted by Sturm sequences (no LAPACK, no allocation);
   O(m k) operations.
   Errors: KRY_EINVAL (NULL pointers, k == 0, m == 0, tol < 0 or not finite). */
KRY_API KRY_NODISCARD kry_status kry_ritz_ghosts(const kry_lanczos_ws *lws, size_t k,
                                                 const double *theta, double tol,
                                                 int *ghost);

/* True residuals resid[i] = |A y_i - theta_i y_i| (2-norm, absolute) for the k vectors
   y_i = vecs[:, i] (n x k, ldv >= n), with one matvec per pair. work: n doubles of
   scratch. Inner products use op->space.
   Errors: KRY_EINVAL (NULL pointers, invalid op, k == 0), KRY_EDIM (ldv < op->n),
   KRY_ERANGE, KRY_ECALLBACK, KRY_ENONFINITE (from the matvec). */
KRY_API KRY_NODISCARD kry_status kry_ritz_true_residuals(const kry_operator *op, size_t k,
                                                         const double *theta,
                                                         const double *vecs, size_t ldv,
                                                         double *work, double *resid);

/* Outcome of kry_lanczos_eigs. */
typedef struct kry_eigs_result {
    size_t nconv;      /* how many of the k returned pairs passed the test */
    size_t matvecs;    /* products with A */
    size_t steps;      /* Lanczos steps (order of T) */
    kry_reason reason; /* KRY_CONVERGED_TOL: all k converged; KRY_CONVERGED_INVARIANT:
                          the Krylov space became invariant (pairs exact); KRY_STOPPED_MAXIT:
                          the step budget ran out (nconv may be < k) */
} kry_eigs_result;

/* One-call unrestarted Lanczos eigensolver (used by `kry eigs --method lanczos` until a
   thick-restart driver replaces it). Grows the decomposition one step at a time up to
   params->max_steps (which also bounds the matvecs), and checks the k wanted Ritz pairs
   for convergence (test above, tolerance tol, 0 meaning 1e-10): first after k steps,
   then at steps extrapolated from the convergence rate seen between the last two
   checks (after half the predicted remaining steps, at least 1 and at most
   max(4, steps/8) later; steps/32 later while no rate is known), and at the end. A
   check costs O(m k) (about 1 ms at m = 200, k = 10), which matters only for cheap
   operators; the spacing costs at most ~12% extra steps. Stops when all k converged,
   or when the budget is used up, or the space is exhausted.

   Breakdown (an invariant subspace found): the wanted eigenvalues may lie outside it,
   and repeated eigenvalues have only one copy in a Krylov space. So the run continues
   with a fresh random vector orthogonal to Q (T splits) whenever fewer than k pairs
   exist, and also with params->continue_on_breakdown set; then the pairs only count as
   converged once the extreme Ritz value(s) of the newest block at the wanted end(s)
   (LA: top, SA: bottom, LM and BE: both) have converged too, i.e. the new block has
   confirmed that nothing better remains (a heuristic stability test, MATH.md section 3
   "keep going until the wanted set is stable"). With continue_on_breakdown, a
   near-breakdown counts as a block boundary for this test: beta_j <= tol |T| (every
   Ritz pair converged at once, but above the breakdown threshold) also makes the run
   go on, the next basis vector being orthogonalised rounding noise, i.e. a fresh
   direction. Without continue_on_breakdown a breakdown with at least k pairs stops the
   run with KRY_CONVERGED_INVARIANT. Multiple eigenvalues are thus found when the
   Krylov space is exhausted before convergence (small problems, or v0 in a small
   invariant subspace); otherwise one copy is returned, and the restarted driver is
   needed to find the others.

   Outputs as in kry_ritz_pairs (theta required; vecs/bound/converged may be NULL);
   res may be NULL. lws and rws must have a capacity of at least the step budget; lws
   keeps the final decomposition. params NULL means defaults (full reorthogonalisation).
   Errors: those of kry_lanczos_start, kry_lanczos_step and kry_ritz_pairs, and
   KRY_EINVAL for k == 0, k greater than the global dimension or the step budget, a
   which out of range, a negative or non-finite tol; KRY_EUNSUPPORTED if the space could
   not be extended to k vectors (a fresh vector after a breakdown lay numerically in
   span(Q); not seen in practice). On an error *res describes the steps done. */
KRY_API KRY_NODISCARD kry_status kry_lanczos_eigs(const kry_operator *op, size_t k,
                                                  kry_which which, double tol,
                                                  const double *v0,
                                                  const kry_lanczos_params *params,
                                                  kry_lanczos_ws *lws, kry_ritz_ws *rws,
                                                  double *theta, double *vecs, size_t ldv,
                                                  double *bound, int *converged,
                                                  kry_eigs_result *res);

#ifdef __cplusplus
}
#endif
#endif /* KRY_RITZ_H */
