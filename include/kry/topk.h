/* kry/topk.h — top-k eigenpairs of a symmetric operator by thick-restart Lanczos
   (Wu-Simon; for symmetric A the same as Krylov-Schur) with locking, a multiplicity
   check, warm starts, a monitor, and solution checks (MATH.md section 3).

   DESIGN NOTES. Figures quoted are from bench/eigs_compare on this project's test machine
   (P1 laplace2d:100x101, P3 diag:1:10000:10000, P4 laplace2d:300x300, top 10, tol 1e-8).

   Decomposition. The basis V has columns [0, c) that are "expanded" and [c, t) that
   are "pending" (not yet multiplied by A):
       A V[:, 0:c] = V[:, 0:t] H[0:t, 0:c],
   H symmetric on [0, c): diag(kept Ritz values) bordered by the couplings of the
   pending block (an "arrow"), then the tridiagonal tail. A cold start has one pending
   vector (plain thick-restart Lanczos: the pending vector is the normalised residual);
   a warm start from w vectors has w (block Lanczos, see Warm start). Each expansion
   step is one matvec on the first pending column, then its known couplings are
   subtracted (the three-term recurrence in the tail; one dgemv against the kept block
   right after a restart), then the vector is reorthogonalised against the locked
   vectors, V and the other pending columns: one dgemv^T measures every coefficient
   (and |w|) with a single reduction; the locked and pending columns are removed in full
   (locked pairs have residuals up to tol |theta|, so their coefficients are tolerance-
   level; pending ones are real couplings), and of the expanded columns only the
   coefficients above reorth_tol |w| (default 1e-14). After the recurrence those are
   rounding noise (measured ~1e-15 on P1 and P4), so this is full reorthogonalisation to
   1e-14 at one read of V per step instead of the two of a CGS pass (P4: 40% less
   time); the returned vectors stay orthonormal to ~1e-13 (measured). Real cancellation
   (an expanded coefficient above 1e-3 |w|, or the full blocks taking more than half of
   |w|^2: the DGKS test) triggers a second full pass. The small problem
   H[0:c, 0:c] = S Theta S^T is solved by LAPACK dsyevr (c <= basis).

   Convergence (ARPACK/SLEPc relative test, MATH.md section 3): a Ritz pair
   (theta_i, y_i = V[:, 0:c] s_i) has residual |A y_i - theta_i y_i| = |H[c:t, 0:c] s_i|
   (no matvec) and is converged when that is <= tol * max(|theta_i|, eps^(2/3) |A|), |A|
   estimated by the largest |Ritz value| seen. The pairs are checked at every restart
   and every check_interval steps between restarts, so the solve ends soon after the
   last wanted pair converges.

   Restart. When c reaches the basis size, converged wanted pairs are locked (moved out
   of V into a block of locked vectors: they leave the projected problem, but every new
   vector is orthogonalised against them). Of the rest, the unconverged wanted Ritz
   vectors plus a buffer are kept: w + floor(keep_frac (c - w)) columns in priority
   order (w = unconverged wanted), at most c - 1. Measured keep fractions (basis 40;
   P1 / P3 / P4 matvecs): 0.1: 818 / 1201 / 3478; 0.2: 789 / 1084 / 3230; 0.3:
   769 / 1075 / 3033; 0.5: 774 / 1083 / 2977; 0.7: 779 / 1100 / 3201. 0.3 is the
   default: fewer columns per step than 0.5 for the same matvecs (SLEPc keeps half,
   ARPACK the wanted ones). V is rotated in place, V[:, 0:keep] = V[:, 0:c] S[:, kept],
   by dgemm over row blocks (a 2048-row buffer instead of a second n x m basis), and the
   pending block follows. No allocation in the loop.

   Basis. Default max(2k + 20, 40). Measured (keep 0.3; P1 / P3 / P4 matvecs): basis
   30: 808 / 1105 / 3365; 40: 769 / 1075 / 3033; 50: 765 / 1056 / 2918. Time per step
   grows with the basis (memory traffic); on P4 a basis of about 30 is ~15% faster
   than 40 (the basis then stays in a 32 MB last-level cache), but P1 needs 40 to stay
   below 790 matvecs.

   Wanted set. Candidates are the locked values and the current Ritz values; the wanted
   set is the best k of them by `which` (LA: largest; SA: smallest; LM: largest |theta|;
   BE: ceil(k/2) largest and floor(k/2) smallest). A locked value pushed out of the best
   k stays locked (it is an eigenpair) but is not returned.

   Multiplicity. A Krylov space grown from one vector holds one vector of each
   eigenspace, so one copy of a multiple eigenvalue (rounding lets others leak in
   slowly: SLEPc finds some copies of P4's pairs, not all). With params.verify (default)
   every solve ends with a check:
   1. A check sequence starts from a fresh random vector on the space orthogonal to the
      locked vectors and to the "resolved" Ritz vectors of the main basis: those whose
      residual is at most 1% of their distance to the wanted set, so that no eigenvector
      beyond the wanted set can have more than that share in them (unresolved Ritz
      vectors may hold part of a missed copy and are left in the space).
   2. Every eigenvalue of A compressed to that space lies below the top eigenvalue of A
      on the complement of the locked vectors (interlacing). So a Ritz value of the check
      sequence whose whole interval [theta - r, theta + r] lies beyond the wanted set
      proves that an eigenvalue was missed (a copy, or any other). The solve then runs a
      new main sequence on the complement of the locked vectors from that Ritz vector,
      which converges and locks it (and anything else beyond the wanted set), and checks
      again.
   3. The check ends, with nothing missed, when the extreme Ritz value(s) at the wanted
      end(s) (both ends for LM and BE) have settled below the wanted set: residual bound
      at most min(distance to the wanted set, verify_tol |A|). With verify_tol 3e-3
      (default) the check costs 68 matvecs on P1 and 130-160 on P3; verify_tol = 1 alone
      (the distance condition) let a copy next to the boundary slip through in 3 of 8
      seeds on a test matrix; 1e-2 and 3e-3 found it in all.
   The guarantee is probabilistic, as for any Krylov method: a missed copy is found
   unless the random vector has an unusually small component along it, or the check's
   extreme Ritz value settles on a lower eigenvalue of the compressed operator before
   the copy's component has grown. Tested (8 seeds each, k = 3, 6, 10, LA/SA/LM): square
   grids 40x40 to 100x100 (pairs), diagonal matrices with 2-, 3- and 5-fold eigenvalues
   at the top, in the middle and at the boundary of the wanted set: no copy missed.
   On P4 the check finds the 4 copies SLEPc misses (2977 matvecs in all, 430 of them in
   the checks).

   Warm start. Given w user vectors (e.g. the eigenvectors of the previous training
   step; w <= the workspace's kmax), they are orthonormalised and form the first pending
   block: the first w steps are a Rayleigh-Ritz step on their span (w matvecs), after
   which the solve continues as block Lanczos with block size w (every Ritz vector keeps
   its exact residual). Summing them into one start vector does not work for clustered
   eigenvalues: within a cluster of width delta the Krylov recurrence amplifies the
   perturbation by about |A| / delta per step (measured: 1e-9-perturbed eigenvectors of
   a 2-D Laplacian lost all accuracy after 4 steps). Tested: from eigenvectors perturbed
   by 1e-6 the solve proper needs 56 matvecs instead of 238.

   Breakdown. A residual of norm <= breakdown_tol |A| is dropped: the pending block
   shrinks, and an empty block gets a fresh random vector orthogonal to everything (a
   new Krylov sequence). When the locked vectors and V span the whole space the Ritz
   values are exact and the solve ends with reason KRY_CONVERGED_INVARIANT (then the
   multiplicity check is skipped: nothing is left to miss).

   Locked pairs are not re-checked: their residual in the final space differs from the
   reported bound by the tolerance-level coupling of later vectors to them, as in SLEPc.
   kry_topk_check_solution recomputes true residuals.

   Cost per step: one matvec, one read of the expanded basis, two of the locked block
   and of the pending block, a few vector operations; dsyevr on the projected matrix
   every check_interval steps; a dgemm rotation of n x basis x keep per restart. */
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
    size_t basis;            /* m, the largest number of expanded basis columns (the
                                pending block and the locked vectors are stored apart).
                                0: max(2k + 20, 40) (see "Basis" above); capped at the
                                global n. Minimum: min(k + 2, n), so that a restart can
                                keep the k wanted vectors and still grow. */
    double keep_frac;        /* buffer kept at a restart, as a fraction of the basis
                                columns beyond the unconverged wanted ones; <= 0: 0.3 */
    size_t check_interval;   /* expansion steps between convergence checks between
                                restarts; 0: basis / 10 */
    size_t max_matvecs;      /* matvec budget (including the multiplicity check);
                                0: max(100 m, 2 n) */
    int verify;              /* multiplicity check after convergence: 1 (default) on,
                                0 off (then a repeated eigenvalue may come back once) */
    double verify_tol;       /* the check ends once the extreme Ritz value(s) of its
                                sequence have a residual bound <= verify_tol |A| (and
                                below their distance to the wanted set); <= 0: 3e-3 */
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
    kry_topk_monitor_fn *monitor; /* optional, called at each restart (before it) */
    void *monitor_ctx;
} kry_topk_params;

/* The defaults: LA, automatic tolerance/basis/keep/interval/budget, verify on, seed 1,
   no monitor. */
KRY_API kry_topk_params kry_topk_params_default(void);

/* Opaque workspace: the basis (n x (m + k + 1): m expanded columns and a pending block
   of up to k + 1), the locked/deflation block (n x (2k + m): locked vectors, and the
   soft vectors of a multiplicity check), the projected matrix and LAPACK work.
   Reusable for any number of solves with k <= kmax and basis <= mmax on operators of
   local length n. */
typedef struct kry_topk_ws kry_topk_ws;

/* Allocates a workspace for local length n, up to kmax wanted pairs and a basis of up to
   mmax columns (0: the default basis for kmax, max(2 kmax + 20, 40)). NULL on n == 0,
   kmax == 0, or allocation failure. Memory: kry_topk_ws_bytes. */
KRY_API kry_topk_ws *kry_topk_ws_alloc(size_t n, size_t kmax, size_t mmax);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_topk_ws_free(kry_topk_ws *ws);

/* Bytes kry_topk_ws_alloc(n, kmax, mmax) allocates: about
   8 n (2 mmax + 3 kmax + 1) + O((mmax + kmax)^2) bytes (P4 with the defaults: 80 MB);
   0 on overflow. */
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
   warm, ldw, nwarm: optional warm-start vectors (n x nwarm column-major, ldw >= n;
   nwarm <= the workspace's kmax; NULL or nwarm == 0: a random start from params->seed);
   not modified. Linearly dependent ones are dropped; if none is left, a random start.
   On budget exhaustion or a monitor stop the outputs hold the best current
   approximations (converged flags say which passed); entries for which no
   approximation exists yet (fewer Ritz values than k) are NaN with bound +Inf.
   Errors: KRY_EINVAL (NULL op/ws/theta, invalid op, k == 0 or k > n, invalid params,
   basis below its minimum, warm vectors NULL with nwarm > 0), KRY_EDIM (op->n differs
   from the workspace's n, k or nwarm above its kmax, basis above its mmax, ldv or
   ldw < n),
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
