/* kry/power.h — power iteration for one extreme eigenpair of a symmetric operator
   (MATH.md section 1).

   Method. From a unit start vector x, each iteration makes ONE matvec w = (A - s I) x,
   where s is the shift of the current phase (see below), and from it takes
     theta  = x^T w                      (Rayleigh quotient of A - s I),
     lambda = theta + s                  (the estimate for A),
     resid  = |w - theta x| = |A x - lambda x|   (the true residual of A, no extra matvec),
   then, unless x has converged, moves to x <- w / |w|. The pair reported is always the
   last vector whose product was computed, so no matvec is ever thrown away and
   matvecs == iters == the length of the history.

   Convergence: resid <= max(tol |lambda|, floor). A stalled lambda is never taken as
   convergence. The floor is params.atol, or by default the attainable accuracy
   16 sqrt(N) eps (|A|_est + |s|), N the global dimension and |A|_est the largest |A x|
   seen, so that an eigenvalue at or near 0 (where the relative test alone can never be met)
   still converges once its residual reaches rounding level.
   The rate is |lambda_2 - s| / |lambda_1 - s| per iteration, lambda_1 the eigenvalue
   farthest from s and lambda_2 the next one.

   Outcomes (kry_power_result.reason):
   - KRY_CONVERGED_TOL: the test above held.
   - KRY_CONVERGED_INVARIANT: (A - s I) x == 0 exactly: x spans an invariant subspace and
     lambda = s is an exact eigenvalue (for the zero operator, lambda = 0). The run
     cannot leave that subspace: for LA/SA the eigenvalue need not be the wanted end.
   - KRY_STOPPED_MAXIT: params.max_iter matvecs were spent first. In LM mode this is
     the fate of a spectrum whose two farthest eigenvalues lie on opposite sides of s at
     the same distance (lambda_1 = -lambda_2 when s = 0): the iterate swings between the
     two eigenvectors and never converges. (LA and SA resolve this case, see below.)
   Power iteration converges to the dominant eigenpair of the part of the spectrum the
   start vector sees; a start vector that is exactly some eigenvector converges at once
   (one matvec) to that eigenpair, dominant or not.

   Which end (params.which):
   - KRY_POWER_LM: plain power iteration on A - shift I: the eigenvalue farthest from
     params.shift (the largest |lambda| when shift = 0). One phase.
   - KRY_POWER_LA / KRY_POWER_SA (largest / smallest algebraic): phases of power
     iteration, each on A - s I, all within the one budget of max_iter matvecs.
     Phase 1 uses s = params.shift (0: A itself) and finds the eigenvalue mu farthest
     from s. If it lies on the wanted side of s (mu >= s for LA, mu <= s for SA) it is
     the wanted end and the run is done. Otherwise mu is the *opposite* end of the
     spectrum; the next phase restarts from the start vector with s = mu, where every
     eigenvalue of A - mu I has the same sign and the farthest one is the wanted end.
     When the two ends are (nearly) equally far from s, phase 1 converges slowly or
     not at all (the iterate swings between them). Phase 1 therefore also watches the
     two-step residual |(A - sI)^2 x - rho x|, rho = |(A - sI) x|^2, which consecutive
     products give for free. Once it is below tol rho while the one-step residual is
     still above sqrt(tol) |theta| (theta = lambda - s), the iterate mixes both ends: the
     next phase keeps it and moves the shift past the opposite end, to s - sqrt(rho) for
     LA (s + sqrt(rho) for SA). If the one-step residual is already below that and theta
     is on the wrong side, the next phase starts at once with s = lambda as above.
     The phase count and the final shift are reported in the result; lambda, resid and
     the history always refer to A itself.
   A good explicit shift near the opposite end (e.g. a lower bound of the spectrum for
   LA) makes LA/SA finish in one phase.

   Errors: KRY_EINVAL (NULL pointers, invalid operator or params, zero start vector),
   KRY_ERANGE (n does not fit a BLAS int, or |v0| overflows), KRY_EDIM (workspace made
   for another n or a smaller max_iter), and those of the operator: KRY_ECALLBACK
   (matvec or reduction callback failed), KRY_ENONFINITE (NaN/Inf from the operator or
   in v0); the run stops at the first error. With params.fail_if_not_converged set, a run
   that stops with KRY_STOPPED_MAXIT returns KRY_ENOTCONV with every
   output filled.

   Inner products go through op->space (distributed-ready); random start vectors use the
   global index, so they do not depend on the process layout. */
#ifndef KRY_POWER_H
#define KRY_POWER_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/operator.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which eigenvalue power iteration looks for. */
typedef enum kry_power_which {
    KRY_POWER_LM = 0, /* largest magnitude |lambda - shift| (plain power iteration) */
    KRY_POWER_LA,     /* largest algebraic (two-phase shift strategy, see above) */
    KRY_POWER_SA      /* smallest algebraic (two-phase shift strategy, see above) */
} kry_power_which;

/* Parameters. Get defaults from kry_power_params_default() and change fields; a NULL
   params pointer means all defaults. Validated on entry (KRY_EINVAL per violation). */
typedef struct kry_power_params {
    size_t max_iter;       /* matvec budget over all phases; 0: 1000 */
    double tol;            /* relative residual tolerance: |A v - lambda v| <= tol |lambda|;
                              0 or negative: 1e-8; NaN or Inf: KRY_EINVAL */
    double atol;           /* absolute residual floor (convergence also when the residual
                              is <= atol); 0: automatic 16 sqrt(N) eps (|A|_est + |shift|);
                              negative, NaN or Inf: KRY_EINVAL */
    kry_power_which which; /* default KRY_POWER_LM; other values: KRY_EINVAL */
    double shift;          /* iterate on A - shift I (0: no shift). LM: the eigenvalue
                              farthest from shift. LA/SA: the shift of phase 1 only; the
                              answer is still the largest/smallest eigenvalue of A.
                              NaN or Inf: KRY_EINVAL */
    uint64_t seed;         /* random start vector when v0 == NULL; default 0x5eed */
    int fail_if_not_converged; /* nonzero: a run ending with KRY_STOPPED_MAXIT returns
                              KRY_ENOTCONV instead of KRY_OK; all outputs are still filled.
                              Default 0 (STYLE.md row 4) */
} kry_power_params;

/* Returns the defaults: max_iter 1000, tol 1e-8, automatic atol, LM, no shift,
   seed 0x5eed, fail_if_not_converged 0. */
KRY_API kry_power_params kry_power_params_default(void);

/* Opaque workspace: the start vector, three rotating iterate/product vectors and one
   scratch vector of length n, plus a history of max_iter Rayleigh quotients and
   residual norms. Reusable for any number of runs on operators of dimension n. */
typedef struct kry_power_ws kry_power_ws;

/* Allocates a workspace for operators of local dimension n >= 1 and runs of up to
   max_iter matvecs (0: 1000, the default budget). Returns NULL when n == 0, when the
   size overflows size_t, or when memory runs out (nothing leaks). */
KRY_API kry_power_ws *kry_power_ws_alloc(size_t n, size_t max_iter);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_power_ws_free(kry_power_ws *ws);

/* Bytes kry_power_ws_alloc(n, max_iter) requests in total (for planning); 0 when
   n == 0 or the size overflows. */
KRY_API size_t kry_power_ws_bytes(size_t n, size_t max_iter);

/* Outcome of a run. Filled on KRY_OK; after an error it holds the progress made before
   the failure (matvecs counts every matvec that was started). */
typedef struct kry_power_result {
    double lambda;  /* eigenvalue estimate of A (Rayleigh quotient of the final v) */
    double resid;   /* |A v - lambda v| for the final v (absolute, computed, not bounded) */
    size_t iters;   /* iterations over all phases (== matvecs) */
    size_t matvecs; /* operator applications */
    size_t phases;  /* power-iteration phases run (1 for LM; 1 or more for LA/SA) */
    double shift;   /* shift s of the final phase (the iterated operator was A - s I) */
    kry_reason reason; /* KRY_CONVERGED_TOL, KRY_CONVERGED_INVARIANT or KRY_STOPPED_MAXIT */
} kry_power_result;

/* Runs power iteration on op (see the top of this header).
   op: operator of dimension n; v0: start vector of length n, copied (need not be
   normalised; may alias v) or NULL for a random normal vector from params->seed;
   params: NULL for defaults; ws: from kry_power_ws_alloc(n, m) with
   m >= the effective max_iter; v (out, length n): the unit eigenvector estimate, the
   last vector whose product was computed; res (out): see kry_power_result.
   Cost: res->matvecs <= max_iter matvecs, 3 to 4 reductions and O(n) flops per
   iteration; never allocates. Errors: see the top of this header. */
KRY_API KRY_NODISCARD kry_status kry_power_run(const kry_operator *op, const double *v0,
                                               const kry_power_params *params,
                                               kry_power_ws *ws, double *v,
                                               kry_power_result *res);

/* The per-iteration history of the most recent kry_power_run on ws: lambda[i] and
   resid[i] are the Rayleigh quotient of A and the residual |A x_i - lambda_i x_i| at
   iteration i, for i < *len (*len == res.iters; phases follow one another). The arrays
   belong to ws and stay valid until its next run or free. After a failed run they hold
   the iterations made before the failure; before any run *len is 0. Any of lambda,
   resid, len may be NULL if not wanted. Errors: KRY_EINVAL when ws is NULL. */
KRY_API KRY_NODISCARD kry_status kry_power_history(const kry_power_ws *ws,
                                                   const double **lambda,
                                                   const double **resid, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* KRY_POWER_H */
