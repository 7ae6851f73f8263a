/* kry/topk.h — top-k eigenpairs of a symmetric operator by thick-restart Lanczos
   (Wu-Simon; for symmetric A the same as Krylov-Schur) with locking, a multiplicity
   check, warm starts, a monitor, and solution checks (MATH.md section 3).

   DESIGN NOTES (the measured figures behind the defaults are in the comments of the
   params struct and in bench/RESULTS.md).

   Decomposition. The active basis V = [v_0 .. v_c] (n x (c+1), orthonormal) satisfies
       A V_c = V_c H + v_c b^T,
   with H (c x c) = diag(kept Ritz values) bordered by the coupling b of the residual
   (an "arrow") followed by a tridiagonal tail, and b the coupling of the next vector.
   Each expansion step is one matvec, then the known couplings are subtracted (the
   three-term recurrence in the tail; one dgemv against the kept block right after a
   restart), then the vector is reorthogonalised against the locked vectors and all of
   V: one dgemv^T measures every coefficient (and |w|) with a single reduction; the
   locked block is removed in full (its coefficients are tolerance-level, not rounding-
   level: locked pairs have residuals up to tol |theta|), and of V only the coefficients
   above reorth_tol |w| (default 1e-14) are removed. After the recurrence the others are
   rounding noise (measured ~1e-15 on P1/P4), so this is full reorthogonalisation to
   1e-14 at one read of V per step instead of two; it keeps the returned vectors
   orthonormal to ~1e-13 (measured) and cut the P4 time by 40%. A coefficient above 1e-3
   |w| (real cancellation, e.g. after a breakdown) triggers a full CGS2 instead. The
   small problem H = S Theta S^T is solved by LAPACK dsyevr (H is at most basis x basis).

   Convergence (ARPACK/SLEPc relative test, MATH.md section 3): a Ritz pair
   (theta_i, y_i = V_c s_i) has residual |A y_i - theta_i y_i| = |b^T s_i| (no matvec),
   and is converged when |b^T s_i| <= tol * max(|theta_i|, eps^(2/3) |A|), |A| estimated by
   the largest |Ritz value| seen. The wanted set is checked at every restart and, between
   restarts, every check_interval expansion steps, so the solve ends soon after the last
   wanted pair converges.

   Restart. When the basis is full, converged wanted pairs are locked (moved out of V
   into a separate block of locked vectors; they take no further part in the projected
   problem, but every new vector is orthogonalised against them). Of the rest, the
   unconverged wanted Ritz vectors plus a buffer are kept: keep = w + keep_frac * (m - w)
   columns in priority order (w = unconverged wanted, m = basis), at most m - 1. V is
   rotated in place, V[:, 0:keep] = V[:, 0:c] S[:, kept], by dgemm over row blocks (a
   small row-block buffer instead of a second n x m basis), and the residual vector
   becomes v_keep. No allocation in the loop.

   Wanted set. Candidates are the locked values and the current Ritz values; the wanted
   set is the best k of them by `which` (LA: largest; SA: smallest; LM: largest |theta|;
   BE: ceil(k/2) largest and floor(k/2) smallest). A locked value pushed out of the best
   k stays locked (it is an eigenpair) but is not returned.

   Multiplicity. A Krylov space grown from one vector holds one vector of each
   eigenspace, so one copy of a multiple eigenvalue. After the wanted set has converged
   (params.verify, default on), the driver checks for missed copies with a new Krylov
   sequence from a fresh random vector, run on the space orthogonal to the locked
   vectors AND to the final basis of the sequence before (which holds the best
   approximations of the unwanted eigenvalues next to the wanted set). Every missed copy
   of a wanted eigenvalue is orthogonal to everything the earlier sequence built, so it
   is an exact eigenvector of A compressed to that space, while everything else the
   compression holds lies below the wanted set (interlacing) and, with the neighbours
   removed, well below it: a missed copy shows up as a Ritz value that beats the wanted
   set. Such pairs are converged with their true residual (the coupling to the removed
   vectors is tracked) and locked; then another check follows, since a Krylov space from
   one vector finds one copy per round. A round ends with nothing new once the extreme
   Ritz value of the new sequence has settled (residual bound <= verify_tol times its
   distance to the wanted set) below the wanted set. The guarantee is probabilistic, as
   for any Krylov method: a copy is missed only if the random vector has an unusually
   small component along it, or it is more than ~verify_tol from the rest of the
   compressed spectrum and the sequence settles before amplifying it.
   Cost when nothing is missing: one settling sequence (measured: see params.verify).

   Warm start. Given w user vectors (e.g. the eigenvectors of the previous training
   step), the start vector is the sum of the normalised vectors. Its Krylov space of
   dimension w+1 contains their span up to the perturbation, so the solve starts where
   the vectors are (tested: a start from eigenvectors perturbed by 1e-6 converges in a
   fraction of the cold-start matvecs). Exact eigenvectors make the sequence break down
   after w steps; it then continues with a fresh random vector (as at any breakdown).

   Breakdown. |w| <= breakdown_tol |A| means span(V) is invariant: the coupling is set to
   0 and the sequence continues from a fresh random vector orthogonal to everything (a
   new Krylov sequence). When the locked vectors and V span the whole space the Ritz
   values are exact and the solve ends (reason KRY_CONVERGED_INVARIANT when the wanted
   pairs did not also pass the tolerance test before).

   Locked pairs are not re-checked: their residual in the final space differs from the
   reported bound by the tolerance-level coupling of later vectors to them, as in SLEPc.
   kry_topk_check_solution recomputes true residuals. */
#ifndef KRY_TOPK_H
#define KRY_TOPK_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/operator.h"
#include "kry/ritz.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the monitor sees after each restart (and after each restart of a multiplicity
   check). Pointers are valid during the call only. */
typedef struct kry_topk_progress {
    int phase;             /* 0: main solve; 1: multiplicity check */
    size_t restarts;       /* restarts so far (both phases) */
    size_t matvecs;        /* products with A so far */
    size_t k;              /* wanted pairs */
    size_t nconv;          /* wanted pairs converged so far (locked or in the basis) */
    size_t nlocked;        /* locked pairs (may exceed nconv: a locked pair pushed out of
                              the best k stays locked) */
    size_t nvals;          /* entries of theta and bound (at most k) */
    const double *theta;   /* current approximations of the wanted values, in `which`
                              order (as returned) */
    const double *bound;   /* their residual bounds |A y - theta y| */
} kry_topk_progress;

/* Monitor: called with the user's ctx first. Return 0 to go on; any other value stops
   the solve, which then returns KRY_OK with partial results and reason KRY_STOPPED_USER. */
typedef int kry_topk_monitor_fn(void *ctx, const kry_topk_progress *p);

/* Parameters. Get the defaults from kry_topk_params_default() and change fields; NULL
   means all defaults. Fields at 0 (or <= 0 for reals) mean "library chooses". Invalid
   values (which out of range, NaN/Inf reals, tol >= 1, keep_frac >= 1,
   reorth_tol >= 1e-3) give KRY_EINVAL. */
typedef struct kry_topk_params {
    kry_which which;         /* default KRY_WHICH_LA */
    double tol;              /* relative residual tolerance (test above); <= 0: 1e-8 */
    size_t basis;            /* m, the largest active basis (columns of V besides the
                                residual vector; locked vectors are stored apart).
                                0: max(2k + 20, 40) capped at n (measured on P1/P3/P4,
                                see bench/RESULTS.md). Minimum: min(k + 2, n), so that
                                a restart can keep the k wanted vectors and still grow. */
    double keep_frac;        /* buffer kept at a restart, as a fraction of the basis
                                columns beyond the unconverged wanted ones; <= 0: 0.5 */
    size_t check_interval;   /* expansion steps between convergence checks between
                                restarts; 0: automatic (about (m - keep) / 6) */
    size_t max_matvecs;      /* matvec budget (including the multiplicity check);
                                0: max(100 m, 2 n) */
    int verify;              /* multiplicity check after convergence: 1 (default) on,
                                0 off (then every repeated eigenvalue may come back once) */
    double verify_tol;       /* a check round ends once the extreme Ritz value of the new
                                sequence has a residual bound <= verify_tol times its
                                distance to the wanted set; <= 0: 0.1 */
    double breakdown_tol;    /* breakdown when |w| <= breakdown_tol |A|; <= 0:
                                sqrt(n) eps */
    double reorth_tol;       /* basis coefficients of a new vector below reorth_tol |w|
                                are measured but left in place (see above); <= 0:
                                1e-14; must be below 1e-3 */
    uint64_t seed;           /* start vector (stream KRY_RNG_STREAM_START, the same vector
                                kry_lanczos_start draws) and fresh vectors (stream
                                KRY_RNG_STREAM_RESTART, seed + counter); default 1 */
    int fail_if_not_converged; /* nonzero: return KRY_ENOTCONV when the budget runs out
                                  (outputs are still filled) */
    kry_topk_monitor_fn *monitor; /* optional, called after each restart */
    void *monitor_ctx;
} kry_topk_params;

/* The defaults: LA, automatic tolerance/basis/keep/interval/budget, verify on, seed 1,
   no monitor. */
KRY_API kry_topk_params kry_topk_params_default(void);

/* Opaque workspace: the basis (n x (m+1)), the locked/deflation block (n x (2k + m + 1)),
   the projected matrix and LAPACK work. Reusable for any number of solves with
   k <= kmax and basis <= mmax on operators of local length n. */
typedef struct kry_topk_ws kry_topk_ws;

/* Allocates a workspace for local length n, up to kmax wanted pairs and a basis of up to
   mmax columns (0: the default basis for kmax, max(2 kmax + 20, 40)). NULL on n == 0,
   kmax == 0, or allocation failure. Memory: kry_topk_ws_bytes. */
KRY_API kry_topk_ws *kry_topk_ws_alloc(size_t n, size_t kmax, size_t mmax);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_topk_ws_free(kry_topk_ws *ws);

/* Bytes kry_topk_ws_alloc(n, kmax, mmax) allocates: about
   8 n (2 kmax + 2 mmax + 2) + O(mmax^2 + kmax mmax) bytes; 0 on overflow. */
KRY_API size_t kry_topk_ws_bytes(size_t n, size_t kmax, size_t mmax);

/* Outcome of a solve. */
typedef struct kry_topk_result {
    size_t nconv;          /* returned pairs that passed the test */
    size_t matvecs;        /* products with A, all phases */
    size_t verify_matvecs; /* of which in the multiplicity check */
    size_t verify_rounds;  /* multiplicity check sequences run */
    size_t copies_found;   /* pairs the multiplicity check added to the wanted set */
    size_t restarts;       /* restarts (both phases) */
    size_t basis;          /* the basis size used */
    size_t nlocked;        /* locked pairs at the end */
    double anorm;          /* the |A| estimate (largest |Ritz value| seen) */
    kry_reason reason;     /* KRY_CONVERGED_TOL, KRY_CONVERGED_INVARIANT (the space was
                              exhausted: the pairs are exact), KRY_STOPPED_MAXIT (budget),
                              KRY_STOPPED_USER (monitor) */
} kry_topk_result;

/* The k wanted eigenpairs of op (symmetric), in `which` order (LA descending, SA
   ascending, LM by |theta| descending with +-ties larger first, BE alternating largest,
   smallest, 2nd largest, ...):
     theta[k]           eigenvalues (required);
     vecs, ldv          n x k column-major eigenvectors (ldv >= n), or NULL;
     bound[k]           residual bounds |A y - theta y| (absolute), or NULL;
     converged[k]       1 when the pair passed the test, or NULL.
   warm, ldw, nwarm: optional warm-start vectors (n x nwarm column-major, ldw >= n; NULL
   or nwarm == 0: a random start from params->seed); not modified.
   On budget exhaustion or a monitor stop the outputs hold the best current
   approximations (converged flags say which passed); entries for which no
   approximation exists yet (fewer Ritz values than k) are NaN with bound +Inf.
   Errors: KRY_EINVAL (NULL op/ws/theta, invalid op, k == 0 or k > n, invalid params,
   basis below its minimum, warm vectors NULL with nwarm > 0), KRY_EDIM (op->n differs
   from the workspace's n, k above its kmax, basis above its mmax, ldv or ldw < n),
   KRY_ERANGE (sizes beyond a BLAS int), KRY_ENONFINITE (NaN/Inf in the warm vectors or
   from the matvec), KRY_ECALLBACK (the matvec or the space's allreduce failed),
   KRY_ELAPACK, KRY_ENOTCONV (fail_if_not_converged and the budget ran out; outputs are
   filled). On an error other than KRY_ENOTCONV the outputs are unspecified, and *res
   (if not NULL) describes the work done.
   Cost: the matvecs reported; memory traffic about two reads of the basis per matvec. */
KRY_API KRY_NODISCARD kry_status kry_topk_solve(const kry_operator *op, size_t k,
                                                const kry_topk_params *params,
                                                const double *warm, size_t ldw,
                                                size_t nwarm, kry_topk_ws *ws,
                                                double *theta, double *vecs, size_t ldv,
                                                double *bound, int *converged,
                                                kry_topk_result *res);

/* Solution checks (as PRIMME's): for k returned pairs (theta_i, y_i), y_i the columns of
   vecs (n x k, ldv >= n),
     orth            max |Y^T Y - I| (entrywise),
     max_resid       max_i |A y_i - theta_i y_i| / |y_i|,
     max_rel_resid   max_i of that over max(|theta_i|, eps^(2/3) anorm) (the test's scale;
                     anorm <= 0: max |theta_i|),
     max_ratio       max_i true residual / reported bound (bound NULL: 0; a bound below
                     eps |theta| counts as eps |theta|),
   and true_resid[i] (if not NULL) each true residual. One matvec per pair (not part of
   any solve's count); uses ws as scratch (its solve state is lost).
   Errors: KRY_EINVAL (NULL op/ws/theta/vecs/out, k == 0), KRY_EDIM (op->n differs from
   the workspace's, ldv < n, k above the workspace's kmax), KRY_ERANGE, KRY_ECALLBACK,
   KRY_ENONFINITE. */
typedef struct kry_topk_check {
    double orth, max_resid, max_rel_resid, max_ratio;
    size_t matvecs;
} kry_topk_check;

KRY_API KRY_NODISCARD kry_status kry_topk_check_solution(const kry_operator *op,
                                                         kry_topk_ws *ws, size_t k,
                                                         const double *theta,
                                                         const double *vecs, size_t ldv,
                                                         const double *bound, double anorm,
                                                         double *true_resid,
                                                         kry_topk_check *out);

#ifdef __cplusplus
}
#endif
#endif /* KRY_TOPK_H */
