/* kry/lanczos.h — the Lanczos decomposition with five reorthogonalisation modes.

   After m steps from a start vector v (MATH.md section 2, 0-based indices):

       A Q_m = Q_m T_m + beta_{m-1} q_m e_{m-1}^T,   q_0 = v / |v|,

   with Q_m = [q_0 .. q_{m-1}] (n x m, orthonormal up to the chosen reorthogonalisation),
   T_m = tridiag(beta, alpha, beta) (alpha[0..m), beta[0..m-1)), and the next basis vector
   q_m with coefficient beta_{m-1}. The workspace holds Q (m+1 columns, column-major,
   leading dimension n), alpha and beta; the Ritz module (kry/ritz.h) and the adjoint
   read them through the accessors below.

   Reorthogonalisation (SLEPc's EPSLanczosReorthogType, MATH.md section 2):
     none       the bare three-term recurrence; orthogonality is lost as Ritz pairs
                converge and ghost copies appear (see kry_ritz_ghosts). O(n) per step.
     full       classical Gram-Schmidt of w against all of Q, twice (dgemv).
                |Q^T Q - I| stays O(eps). O(n j) per step.
     selective  Parlett-Scott: orthogonalise against the "good" Ritz vectors only, those
                with beta_j |s_{j,i}| <= selective_tol |T|. Keeps orthogonality near
                sqrt(eps). A small tridiagonal eigensolve (LAPACK dstevr, O(j^2)) per step.
     partial    Simon: estimate omega_{j+1,k} ~ q_{j+1}^T q_k by a recurrence, and when
                max|omega| > partial_tol reorthogonalise against the q_k with
                |omega_k| > partial_eta on this step and the next. Semi-orthogonal.
     dgks       one extra full Gram-Schmidt pass only when |w| < dgks_ratio |A q_j| after
                the recurrence (Daniel-Gragg-Kaufman-Stewart). A cheap guard, not
                Parlett-Scott selective reorthogonalisation.

   Breakdown: beta_j <= breakdown_tol * |T| means span(Q) is an invariant subspace and
   the Ritz values are exact. It is an outcome (reason KRY_CONVERGED_INVARIANT), not an
   error. With continue_on_breakdown the run instead continues with a fresh random
   vector orthogonalised against Q and beta_j = 0, so T splits into blocks.

   Step-level API (STYLE.md row 10): kry_lanczos_start, then kry_lanczos_step until the
   reason is no longer KRY_RUNNING; kry_lanczos_run does both. Neither start, step nor
   run allocates: all memory is in the workspace. Every inner product goes through the
   operator's space (allreduce hook), so the same code runs distributed. */
#ifndef KRY_LANCZOS_H
#define KRY_LANCZOS_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/operator.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reorthogonalisation modes; see the file comment and MATH.md section 2. */
typedef enum kry_reorth {
    KRY_REORTH_NONE = 0,
    KRY_REORTH_FULL,
    KRY_REORTH_SELECTIVE,
    KRY_REORTH_PARTIAL,
    KRY_REORTH_DGKS,
    KRY_REORTH_COUNT /* number of modes; not a mode */
} kry_reorth;

/* Lower-case name of a mode: "none", "full", "selective", "partial", "dgks";
   "unknown" when out of range. Static storage, never NULL. */
KRY_API const char *kry_reorth_name(kry_reorth r);

/* Parses a mode name as printed by kry_reorth_name (case-insensitive).
   Errors: KRY_EINVAL (NULL pointer or unknown name; *out is left unchanged). */
KRY_API KRY_NODISCARD kry_status kry_reorth_parse(const char *s, kry_reorth *out);

/* Parameters of a Lanczos run. Get the defaults from kry_lanczos_params_default() and
   change fields; a NULL params pointer means all defaults. Fields set to 0 (or <= 0 for
   tolerances) mean "library chooses", as documented per field. NaN/Inf tolerances and
   out-of-range modes are rejected with KRY_EINVAL. */
typedef struct kry_lanczos_params {
    size_t max_steps;          /* number of steps; 0: min(n, 300). Capped at the
                                  workspace capacity only when 0; an explicit value above
                                  the capacity is KRY_EDIM. n is the global dimension. */
    kry_reorth reorth;         /* default KRY_REORTH_FULL */
    double breakdown_tol;      /* breakdown when beta_j <= breakdown_tol * |T|, with |T|
                                  the largest column norm of T so far; <= 0: n * eps */
    double selective_tol;      /* selective: a Ritz pair is "good" when
                                  beta_j |s_{j,i}| <= selective_tol * |T|; <= 0: sqrt(eps) */
    double partial_tol;        /* partial: reorthogonalise once max_k |omega_k| exceeds
                                  it; <= 0: sqrt(eps) */
    double partial_eta;        /* partial: ... against the q_k with |omega_k| > partial_eta
                                  (at most partial_tol); <= 0: eps^(3/4) */
    double dgks_ratio;         /* dgks: extra pass when |w| < dgks_ratio |A q_j|;
                                  <= 0: 1/sqrt(2) ~ 0.717 */
    int continue_on_breakdown; /* nonzero: on breakdown continue with a fresh random
                                  vector orthogonal to Q and beta_j = 0 (T splits), while
                                  the steps are fewer than n; 0: stop (invariant) */
    int track_orthogonality;   /* nonzero: record |Q^T Q - I|_max after every step
                                  (one extra dgemv, O(n j), per step; for teaching/tests) */
    uint64_t seed;             /* start vector when v0 == NULL (stream
                                  KRY_RNG_STREAM_START) and fresh vectors after breakdown
                                  (stream KRY_RNG_STREAM_RESTART); default 1 */
} kry_lanczos_params;

/* The defaults: max_steps 0, KRY_REORTH_FULL, all tolerances automatic (0), no
   continuation on breakdown, no orthogonality tracking, seed 1. */
KRY_API kry_lanczos_params kry_lanczos_params_default(void);

/* Opaque workspace: the basis Q (n x (m+1)), alpha[m], beta[m], the reorthogonalisation
   scratch of every mode and the per-step history. Reusable for any number of runs. */
typedef struct kry_lanczos_ws kry_lanczos_ws;

/* Allocates a workspace for operators of (local) dimension n and up to max_steps steps
   (max_steps 0 means min(n, 300)), for every reorthogonalisation mode. Memory: see
   kry_lanczos_ws_bytes; selective mode's share is n*m + m*m doubles for the good Ritz
   vectors and the eigenvectors of T. Returns NULL on n == 0 or allocation failure. */
KRY_API kry_lanczos_ws *kry_lanczos_ws_alloc(size_t n, size_t max_steps);

/* Like kry_lanczos_ws_alloc, but without the selective-mode storage (n*m + m*m doubles)
   unless reorth == KRY_REORTH_SELECTIVE. Starting a selective run on a workspace made
   for another mode returns KRY_EUNSUPPORTED. */
KRY_API kry_lanczos_ws *kry_lanczos_ws_alloc_reorth(size_t n, size_t max_steps,
                                                    kry_reorth reorth);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_lanczos_ws_free(kry_lanczos_ws *ws);

/* Bytes kry_lanczos_ws_alloc(n, max_steps) allocates (approximately, excluding malloc
   overhead); 0 if the size overflows. */
KRY_API size_t kry_lanczos_ws_bytes(size_t n, size_t max_steps);

/* Bytes kry_lanczos_ws_alloc_reorth(n, max_steps, reorth) allocates. */
KRY_API size_t kry_lanczos_ws_bytes_reorth(size_t n, size_t max_steps, kry_reorth reorth);

/* Summary of a run (also available at any time through kry_lanczos_result_get). */
typedef struct kry_lanczos_result {
    size_t steps;          /* m: columns of Q_m, order of T_m */
    size_t matvecs;        /* products with A (one per step) */
    kry_reason reason;     /* KRY_RUNNING, KRY_CONVERGED_INVARIANT or KRY_STOPPED_MAXIT */
    double beta_last;      /* beta_{m-1}: norm of the residual of the decomposition */
    double orth_error;     /* |Q^T Q - I|_max of the last step when tracked, else -1 */
    size_t reorth_vectors; /* total vectors used in Gram-Schmidt projections (a cost
                              measure: full uses 2(j+1) per step, none 0) */
    size_t breakdowns;     /* breakdowns met (continued or final) */
} kry_lanczos_result;

/* Starts a decomposition: validates the arguments, copies params into ws, and sets
   q_0 = v0 / |v0| (v0 of length op->n, not modified; NULL: a random normal vector from
   params->seed, drawn by global index so the run does not depend on the process
   layout). No matvec. Errors: KRY_EINVAL (NULL op or ws, invalid op, invalid params,
   v0 == 0), KRY_ENONFINITE (v0 has NaN/Inf), KRY_EDIM (op->n differs from the
   workspace's n, or params->max_steps exceeds its capacity), KRY_EUNSUPPORTED
   (selective mode on a workspace without selective storage), KRY_ERANGE (n or the
   capacity exceeds a BLAS int), KRY_ECALLBACK (the space's allreduce failed). */
KRY_API KRY_NODISCARD kry_status kry_lanczos_start(kry_lanczos_ws *ws,
                                                   const kry_operator *op,
                                                   const double *v0,
                                                   const kry_lanczos_params *params);

/* One Lanczos step j = kry_lanczos_steps(ws): one matvec, then alpha_j, beta_j and
   q_{j+1} per the mode. Afterwards the reason (kry_lanczos_result_get) is KRY_RUNNING,
   KRY_CONVERGED_INVARIANT (breakdown and no continuation) or KRY_STOPPED_MAXIT (the step
   budget is used up). op must be the operator given to kry_lanczos_start.
   Errors: KRY_EINVAL (NULL pointers; ws not started, already stopped, or left by an
   earlier error), KRY_EDIM (op->n differs), KRY_ECALLBACK (matvec or allreduce failed),
   KRY_ENONFINITE (the matvec produced NaN/Inf), KRY_ELAPACK (selective mode's
   eigensolve failed). After an error the steps completed before stay readable, but
   the workspace must be started again before stepping. */
KRY_API KRY_NODISCARD kry_status kry_lanczos_step(kry_lanczos_ws *ws,
                                                  const kry_operator *op);

/* start, then steps until the reason is not KRY_RUNNING; fills *result (may be NULL).
   Errors: those of kry_lanczos_start and kry_lanczos_step. On an error *result still
   describes the steps completed. Cost: max_steps matvecs at most. */
KRY_API KRY_NODISCARD kry_status kry_lanczos_run(const kry_operator *op, const double *v0,
                                                 const kry_lanczos_params *params,
                                                 kry_lanczos_ws *ws,
                                                 kry_lanczos_result *result);

/* ---- Read-only views of the decomposition (valid until the next start/step). ---- */

/* m, the number of completed steps (0 before the first step or for NULL ws). */
KRY_API size_t kry_lanczos_steps(const kry_lanczos_ws *ws);

/* Q, n x (m+1) column-major; *ldq (if not NULL) receives the leading dimension (n).
   Column m is q_m, the normalised residual direction; after a final breakdown it is
   the tiny residual normalised (or zero when beta_{m-1} == 0). NULL for NULL ws. */
KRY_API const double *kry_lanczos_basis(const kry_lanczos_ws *ws, size_t *ldq);

/* alpha[0..m): the diagonal of T_m. */
KRY_API const double *kry_lanczos_alpha(const kry_lanczos_ws *ws);

/* beta[0..m): beta[0..m-1) is the off-diagonal of T_m (zeros where T splits after a
   continued breakdown); beta[m-1] is the residual coefficient. */
KRY_API const double *kry_lanczos_beta(const kry_lanczos_ws *ws);

/* hist[0..*len): |Q^T Q - I|_max after each step, over q_0..q_{j+1} (over q_0..q_j when
   the step ended in a final breakdown). *len is 0 and the pointer NULL when tracking
   was off. */
KRY_API const double *kry_lanczos_orth_history(const kry_lanczos_ws *ws, size_t *len);

/* |v0|, the norm of the start vector (for f(A) v = |v| Q f(T) e_0). 0 if not started. */
KRY_API double kry_lanczos_v0_norm(const kry_lanczos_ws *ws);

/* The global dimension of the operator the workspace was started with (op->n, or
   space->n_global when set); 0 if not started. */
KRY_API size_t kry_lanczos_dim(const kry_lanczos_ws *ws);

/* The step budget of the current run (params->max_steps resolved); 0 if not started. */
KRY_API size_t kry_lanczos_max_steps(const kry_lanczos_ws *ws);

/* The step capacity the workspace was allocated for; 0 for NULL. */
KRY_API size_t kry_lanczos_capacity(const kry_lanczos_ws *ws);

/* Copies the current summary into *r. Errors: KRY_EINVAL (NULL pointers). */
KRY_API KRY_NODISCARD kry_status kry_lanczos_result_get(const kry_lanczos_ws *ws,
                                                        kry_lanczos_result *r);

#ifdef __cplusplus
}
#endif
#endif /* KRY_LANCZOS_H */
