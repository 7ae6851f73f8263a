/* orth.h — block classical Gram-Schmidt (CGS, CGS2 and CGS with a conditional second
   pass) of one vector against the columns of up to two blocks, with every inner product
   going through the space's reduction hook (one reduction per pass, whatever the number
   of blocks). Internal: used by the top-k driver (src/topk.c) and meant to replace the
   static cgs_pass of src/lanczos.c. Never installed.

   A pass is   c = [Q1 Q2]^T w  (dgemv^T per block, then one kry_vec_reduce of k1 + k2
   values),   w -= [Q1 Q2] c   (dgemv per block, local). Two passes ("twice is enough",
   Kahan/Parlett; Giraud, Langou & Rozloznik 2005) leave w orthogonal to the columns to
   working precision whenever the columns are orthonormal to working precision. The
   conditional variant does the second pass only when the first one cancelled, i.e. when
   |w after| < eta |w before| (Daniel, Gragg, Kaufman & Stewart 1976; SLEPc's
   BV_ORTHOG_REFINE_IFNEEDED): without cancellation one pass already leaves w orthogonal
   to O(eps |w before| / |w after|).

   Callers must have checked that n and the block widths fit a BLAS int. */
#ifndef KRY_ORTH_H
#define KRY_ORTH_H

#include <stddef.h>

#include "kry/operator.h"
#include "kry/status.h"

/* The columns to orthogonalise against: block 1 (k1 columns, leading dimension ld1),
   block 2 (k2, ld2), block 3 (k3, ld3). Any block may be empty (k = 0; its pointer is
   then not read). Coefficient vectors are ordered block 1, 2, 3. */
typedef struct kry_orth_basis {
    const double *q1;
    size_t ld1, k1;
    const double *q2;
    size_t ld2, k2;
    const double *q3;
    size_t ld3, k3;
} kry_orth_basis;

/* How many passes kry_orth_cgs makes. */
typedef enum kry_orth_passes {
    KRY_ORTH_ONE = 1,      /* one CGS pass */
    KRY_ORTH_TWO = 2,      /* CGS2: always two passes */
    KRY_ORTH_IFNEEDED = 3  /* the second pass only when |w after| < eta |w before| */
} kry_orth_passes;

/* One CGS pass of w (local length n) against b: c[0..k) = [Q1 Q2 Q3]^T w (k = k1 + k2
   + k3; reduced across processes), w -= [Q1 Q2 Q3] c. Errors: KRY_ECALLBACK (the reduction hook failed;
   w is then unchanged). */
kry_status kry_orth_cgs_pass(const kry_space *sp, size_t n, const kry_orth_basis *b,
                             double *w, double *c);

/* Orthogonalises w against b with the given passes. On return c[0..k1+k2) holds the
   total coefficients (the sum over the passes, so that w_in = [Q1 Q2] c + w_out up to
   rounding), *norm (if not NULL) the norm of w_out, *norm_in (if not NULL) the norm of
   w_in, *npasses (if not NULL) the passes made. work: k doubles of scratch.
   eta (IFNEEDED only): the cancellation threshold, <= 0 meaning 1/sqrt(2).
   Cost: two reads of the columns per pass, plus one (ONE, TWO) or two (IFNEEDED) norms.
   Errors: KRY_ECALLBACK (the reduction hook failed). */
kry_status kry_orth_cgs(const kry_space *sp, size_t n, const kry_orth_basis *b,
                        kry_orth_passes passes, double eta, double *w, double *c,
                        double *work, double *norm_in, double *norm, int *npasses);

/* Selective CGS, for vectors that are already orthogonal to block 2 up to rounding
   (e.g. a Lanczos residual after its three-term recurrence): one pass measures
   c = [Q1 Q2 Q3]^T w and |w| with a single reduction; blocks 1 and 3 are removed in
   full, block 2 only where |c_i| > tau |w| (the rest is left in w and its c_i set to 0,
   so that w_in = [Q1 Q2 Q3] c + w_out still holds). When some block-2 |c_i| > kappa |w|
   it does a full CGS2 instead, and when blocks 1 and 3 removed more than half of
   |w|^2 (cancellation, the DGKS test |w_out| < |w_in| / sqrt 2) a second full pass
   follows. The orthogonality to block 2 left behind is at most tau; the cost is one
   read of the columns, plus one of blocks 1 and 3 and of the selected columns.
   *norm gets |w_out|, *norm_in |w_in|, *npasses 1 (selective) or 2 (full second
   pass). c and work: k + 1 doubles. Requires 0 <= tau <= kappa.
   Errors: KRY_ECALLBACK (the reduction hook failed). */
kry_status kry_orth_cgs_sel(const kry_space *sp, size_t n, const kry_orth_basis *b,
                            double tau, double kappa, double *w, double *c, double *work,
                            double *norm_in, double *norm, int *npasses);

/* |w| with one reduction: sqrt(w^T w), falling back to the overflow-safe kry_vec_nrm2
   when the sum of squares over- or underflows. */
kry_status kry_orth_norm(const kry_space *sp, size_t n, const double *w, double *norm);

/* The one-block case of kry_orth_cgs with two passes (CGS2): w against the k columns of
   Q (leading dimension ldq). */
kry_status kry_orth_cgs2(const kry_space *sp, size_t n, const double *Q, size_t ldq,
                         size_t k, double *w, double *c, double *work, double *norm);

#endif /* KRY_ORTH_H */
