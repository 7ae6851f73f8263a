/* lanczos.c — the Lanczos decomposition A Q_m = Q_m T_m + beta_{m-1} q_m e_{m-1}^T with
   the five reorthogonalisation modes of MATH.md section 2 (none, full, selective,
   partial, dgks), breakdown handling and orthogonality tracking.

   One step j (q_j is unit length, beta_{-1} = 0):
       w = A q_j;  w -= beta_{j-1} q_{j-1};  alpha_j = q_j^T w;  w -= alpha_j q_j;
       [reorthogonalise w per mode];  beta_j = |w|;  q_{j+1} = w / beta_j.
   Subtracting beta_{j-1} q_{j-1} before forming alpha_j is the ordering Paige (1972)
   recommends; it equals MATH.md's w - alpha_j q_j - beta_{j-1} q_{j-1} in exact
   arithmetic and is the more stable of the two in floating point.
   w is built directly in column j+1 of Q, so the step needs no extra vector.

   Modes (the reorthogonalisation routines live in the "Reorthogonalisation" section):
   - full: classical Gram-Schmidt of w against q_0..q_j, two passes (CGS2), each one
     projection Q^T w (dgemv, one reduction) and one update w -= Q c (dgemv); the update
     of the first pass is fused with the projection of the second by row blocks (see
     cgs2), so Q is read three times per step instead of four. The q_j coefficients of
     both passes are added to alpha_j (the decomposition stays exact to rounding); the
     others are rounding-level corrections outside the tridiagonal pattern and are
     dropped, as ARPACK does.
   - dgks: one such pass only when |w| < dgks_ratio |A q_j| after the recurrence
     (Daniel, Gragg, Kaufman & Stewart 1976).
   - selective (Parlett & Scott 1979; the SLEPc scheme): after every step, eigensolve
     T_{j+1} = S Theta S^T (LAPACK dstevr on a copy) and call a Ritz pair good when
     beta_j |s_{j,i}| <= selective_tol |T_{j+1}|. Whenever the number of good pairs grows,
     re-form the good Ritz vectors Y = Q_{j+1} S_good (one dgemm). At that step and every
     later one, w (the next q_{j+1}) is orthogonalised against all of Y (one CGS pass),
     so both vectors the recurrence uses at a later step (q_j, q_{j+1}) are purged: q_j
     was the q_{j+1} of the step before. q_j is not purged again at the re-forming step
     itself; see selective_update for why (measured).
   - partial (Simon 1984): estimates omega_{j+1,k} ~ q_{j+1}^T q_k from the recurrence
     obtained by subtracting the three-term relations of q_j and q_k (A symmetric),
     plus a rounding term:
         beta_j omega_{j+1,k} = beta_k omega_{j,k+1} + (alpha_k - alpha_j) omega_{j,k}
                                + beta_{k-1} omega_{j,k-1} - beta_{j-1} omega_{j-1,k}
                                +- eps1 |A|,
     with omega_{k,k} = 1, omega_{j+1,j} = eps1 |A| / beta_j (the local level) and
     eps1 = sqrt(n) eps (rounding in a matvec, Simon's rule of thumb); the rounding term
     takes the sign of the rest so the estimate is pessimistic. When
     max_k |omega_{j+1,k}| > partial_tol, w is reorthogonalised against the q_k with
     |omega_{j+1,k}| > partial_eta (CGS over each run of consecutive k), on this step
     and on the next (against the same k plus any new ones), and the estimates of those
     k are reset to eps1; the others are rescaled by the change of beta_j.
   - none: nothing.

   Breakdown: beta_j <= breakdown_tol * |T|, |T| estimated by the largest column norm of
   T seen so far (a lower bound on |T| within a factor sqrt(3)). Continuing draws a
   random vector (seed + number of breakdowns, stream KRY_RNG_STREAM_RESTART),
   orthogonalises it against Q twice and sets beta_j = 0.

   References: Lanczos 1950; Paige 1972 (IMA J. Appl. Math. 10, ordering of the
   recurrence); Parlett & Scott 1979 (Math. Comp. 33, selective orthogonalisation);
   Simon 1984 (Math. Comp. 42, partial reorthogonalisation); Daniel, Gragg, Kaufman &
   Stewart 1976 (Math. Comp. 30); Parlett, "The Symmetric Eigenvalue Problem", ch. 13;
   Hernandez, Roman & Tomas, SLEPc technical report STR-5 (Lanczos methods). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "internal.h"
#include "kry/lanczos.h"
#include "kry/rng.h"
#include "orth.h"
#include "vec.h"

/* ---- Names ---- */

static const char *const reorth_names[KRY_REORTH_COUNT] = {
    [KRY_REORTH_NONE] = "none",           [KRY_REORTH_FULL] = "full",
    [KRY_REORTH_SELECTIVE] = "selective", [KRY_REORTH_PARTIAL] = "partial",
    [KRY_REORTH_DGKS] = "dgks",
};

const char *kry_reorth_name(kry_reorth r)
{
    if ((int)r < 0 || (int)r >= KRY_REORTH_COUNT)
        return "unknown";
    return reorth_names[r];
}

/* ASCII case-insensitive equality, independent of the locale. */
static int name_eq(const char *a, const char *b)
{
    for (;; ++a, ++b) {
        int ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z')
            ca += 'a' - 'A';
        if (cb >= 'A' && cb <= 'Z')
            cb += 'a' - 'A';
        if (ca != cb)
            return 0;
        if (ca == 0)
            return 1;
    }
}

kry_status kry_reorth_parse(const char *s, kry_reorth *out)
{
    KRY_REQUIRE(s != NULL && out != NULL, KRY_EINVAL);
    for (int r = 0; r < KRY_REORTH_COUNT; ++r)
        if (name_eq(s, reorth_names[r])) {
            *out = (kry_reorth)r;
            return KRY_OK;
        }
    return KRY_EINVAL;
}

kry_lanczos_params kry_lanczos_params_default(void)
{
    kry_lanczos_params p;
    memset(&p, 0, sizeof p);
    p.reorth = KRY_REORTH_FULL;
    p.seed = 1;
    return p;
}

/* ---- Workspace ---- */

struct kry_lanczos_ws {
    size_t n, cap;     /* local vector length; step capacity m */
    int has_selective; /* selective storage allocated */

    /* The decomposition. */
    double *Q;            /* n x (cap+1), column-major, ld n */
    double *alpha, *beta; /* cap each */

    /* Scratch for Gram-Schmidt coefficients (cap+1 each). */
    double *h, *h2;

    /* Orthogonality tracking: colmax[c] = max(|q_c^T q_i| for i < c, |q_c^T q_c - 1|). */
    double *hist;   /* cap */
    double *colmax; /* cap+1 */

    /* Partial: omega estimates of q_{j-1}, q_j, q_{j+1} against q_k (cap+1 each), and
       the k reorthogonalised at a triggering step, to be used again at the next. */
    double *om_prev, *om_cur, *om_next;
    unsigned char *pflag; /* cap+1 */

    /* Selective (NULL unless has_selective). */
    double *Y;                /* n x cap good Ritz vectors */
    double *Z;                /* cap x cap eigenvectors of T_{j+1} */
    double *td, *te, *theta;  /* cap each: copies of T for dstevr, its eigenvalues */
    double *lwork;            /* 20 cap */
    lapack_int *liwork;       /* 10 cap */
    lapack_int *isuppz;       /* 2 cap */

    /* Resolved parameters of the current run. */
    kry_lanczos_params p;
    size_t nglob, max_steps;
    double btol, stol, ptol, peta, dratio, eps1;

    /* State. */
    int started, failed;
    kry_reason reason;
    size_t steps, matvecs, breakdowns, reorth_vectors, ngood, hist_len;
    int partial_pending; /* partial: reorthogonalise against pflag again this step */
    double v0_norm;
    double tnorm; /* largest column norm of T so far */
};

/* Overflow-checked a*b and a+b for sizes; return 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

static int add_ok(size_t a, size_t b, size_t *r)
{
    if (b > SIZE_MAX - a)
        return 0;
    *r = a + b;
    return 1;
}

static size_t default_cap(size_t n) { return n < 300 ? n : 300; }

/* Total bytes of the workspace arrays, or 0 on overflow. */
static size_t ws_bytes(size_t n, size_t cap, int selective)
{
    size_t m1 = cap + 1, t, total = sizeof(struct kry_lanczos_ws), dbl = 0;
    if (cap == SIZE_MAX || !mul_ok(n, m1, &t) || !add_ok(dbl, t, &dbl))
        return 0;
    /* alpha, beta, hist (cap); h, h2, colmax, three omegas (cap+1). */
    if (!mul_ok(cap, 3, &t) || !add_ok(dbl, t, &dbl) || !mul_ok(m1, 6, &t) ||
        !add_ok(dbl, t, &dbl))
        return 0;
    if (selective) {
        /* Y (n cap), Z (cap^2), td, te, theta (3 cap), lwork (20 cap). */
        if (!mul_ok(n, cap, &t) || !add_ok(dbl, t, &dbl) || !mul_ok(cap, cap, &t) ||
            !add_ok(dbl, t, &dbl) || !mul_ok(cap, 23, &t) || !add_ok(dbl, t, &dbl))
            return 0;
    }
    if (!mul_ok(dbl, sizeof(double), &dbl) || !add_ok(total, dbl, &total) ||
        !add_ok(total, m1, &total))
        return 0;
    if (selective && (!mul_ok(cap, 12 * sizeof(lapack_int), &t) || !add_ok(total, t, &total)))
        return 0;
    return total;
}

size_t kry_lanczos_ws_bytes(size_t n, size_t max_steps)
{
    if (n == 0)
        return 0;
    return ws_bytes(n, max_steps ? max_steps : default_cap(n), 1);
}

size_t kry_lanczos_ws_bytes_reorth(size_t n, size_t max_steps, kry_reorth reorth)
{
    if (n == 0)
        return 0;
    return ws_bytes(n, max_steps ? max_steps : default_cap(n),
                    reorth == KRY_REORTH_SELECTIVE);
}

void kry_lanczos_ws_free(kry_lanczos_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->Q);
    free(ws->alpha);
    free(ws->beta);
    free(ws->h);
    free(ws->h2);
    free(ws->hist);
    free(ws->colmax);
    free(ws->om_prev);
    free(ws->om_cur);
    free(ws->om_next);
    free(ws->pflag);
    free(ws->Y);
    free(ws->Z);
    free(ws->td);
    free(ws->te);
    free(ws->theta);
    free(ws->lwork);
    free(ws->liwork);
    free(ws->isuppz);
    free(ws);
}

static kry_lanczos_ws *ws_alloc(size_t n, size_t max_steps, int selective)
{
    size_t cap = max_steps ? max_steps : default_cap(n);
    if (n == 0 || ws_bytes(n, cap, selective) == 0)
        return NULL;
    kry_lanczos_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->n = n;
    ws->cap = cap;
    ws->has_selective = selective;
    size_t m1 = cap + 1;
    ws->Q = malloc(n * m1 * sizeof(double));
    ws->alpha = malloc(cap * sizeof(double));
    ws->beta = malloc(cap * sizeof(double));
    ws->h = malloc(m1 * sizeof(double));
    ws->h2 = malloc(m1 * sizeof(double));
    ws->hist = malloc(cap * sizeof(double));
    ws->colmax = malloc(m1 * sizeof(double));
    ws->om_prev = malloc(m1 * sizeof(double));
    ws->om_cur = malloc(m1 * sizeof(double));
    ws->om_next = malloc(m1 * sizeof(double));
    ws->pflag = malloc(m1);
    if (!ws->Q || !ws->alpha || !ws->beta || !ws->h || !ws->h2 || !ws->hist ||
        !ws->colmax || !ws->om_prev || !ws->om_cur || !ws->om_next || !ws->pflag)
        goto fail;
    if (selective) {
        ws->Y = malloc(n * cap * sizeof(double));
        ws->Z = malloc(cap * cap * sizeof(double));
        ws->td = malloc(cap * sizeof(double));
        ws->te = malloc(cap * sizeof(double));
        ws->theta = malloc(cap * sizeof(double));
        ws->lwork = malloc(20 * cap * sizeof(double));
        ws->liwork = malloc(10 * cap * sizeof(lapack_int));
        ws->isuppz = malloc(2 * cap * sizeof(lapack_int));
        if (!ws->Y || !ws->Z || !ws->td || !ws->te || !ws->theta || !ws->lwork ||
            !ws->liwork || !ws->isuppz)
            goto fail;
    }
    return ws;
fail:
    kry_lanczos_ws_free(ws);
    return NULL;
}

kry_lanczos_ws *kry_lanczos_ws_alloc(size_t n, size_t max_steps)
{
    return ws_alloc(n, max_steps, 1);
}

kry_lanczos_ws *kry_lanczos_ws_alloc_reorth(size_t n, size_t max_steps, kry_reorth reorth)
{
    return ws_alloc(n, max_steps, reorth == KRY_REORTH_SELECTIVE);
}

/* ---- Accessors ---- */

size_t kry_lanczos_steps(const kry_lanczos_ws *ws) { return ws ? ws->steps : 0; }

const double *kry_lanczos_basis(const kry_lanczos_ws *ws, size_t *ldq)
{
    if (ldq)
        *ldq = ws ? ws->n : 0;
    return ws ? ws->Q : NULL;
}

const double *kry_lanczos_alpha(const kry_lanczos_ws *ws) { return ws ? ws->alpha : NULL; }

const double *kry_lanczos_beta(const kry_lanczos_ws *ws) { return ws ? ws->beta : NULL; }

const double *kry_lanczos_orth_history(const kry_lanczos_ws *ws, size_t *len)
{
    int on = ws != NULL && ws->started && ws->p.track_orthogonality;
    if (len)
        *len = on ? ws->hist_len : 0;
    return on ? ws->hist : NULL;
}

double kry_lanczos_v0_norm(const kry_lanczos_ws *ws)
{
    return ws && ws->started ? ws->v0_norm : 0.0;
}

size_t kry_lanczos_dim(const kry_lanczos_ws *ws) { return ws && ws->started ? ws->nglob : 0; }

size_t kry_lanczos_max_steps(const kry_lanczos_ws *ws)
{
    return ws && ws->started ? ws->max_steps : 0;
}

size_t kry_lanczos_capacity(const kry_lanczos_ws *ws) { return ws ? ws->cap : 0; }

kry_status kry_lanczos_result_get(const kry_lanczos_ws *ws, kry_lanczos_result *r)
{
    KRY_REQUIRE(ws != NULL && r != NULL, KRY_EINVAL);
    memset(r, 0, sizeof *r);
    r->steps = ws->steps;
    r->matvecs = ws->matvecs;
    r->reason = ws->reason;
    r->beta_last = ws->steps > 0 ? ws->beta[ws->steps - 1] : 0.0;
    r->orth_error = (ws->started && ws->p.track_orthogonality && ws->hist_len > 0)
                        ? ws->hist[ws->hist_len - 1]
                        : -1.0;
    r->reorth_vectors = ws->reorth_vectors;
    r->breakdowns = ws->breakdowns;
    return KRY_OK;
}

/* ---- Start ---- */

static int tol_ok(double t) { return isfinite(t); }

kry_status kry_lanczos_start(kry_lanczos_ws *ws, const kry_operator *op, const double *v0,
                             const kry_lanczos_params *params)
{
    KRY_REQUIRE(ws != NULL, KRY_EINVAL);
    KRY_TRY(kry_operator_check(op));
    kry_lanczos_params p = params ? *params : kry_lanczos_params_default();
    KRY_REQUIRE((int)p.reorth >= 0 && (int)p.reorth < KRY_REORTH_COUNT, KRY_EINVAL);
    KRY_REQUIRE(tol_ok(p.breakdown_tol) && tol_ok(p.selective_tol) &&
                    tol_ok(p.partial_tol) && tol_ok(p.partial_eta) && tol_ok(p.dgks_ratio),
                KRY_EINVAL);
    KRY_REQUIRE(op->n == ws->n, KRY_EDIM);
    KRY_REQUIRE(p.max_steps <= ws->cap, KRY_EDIM);
    KRY_REQUIRE(p.reorth != KRY_REORTH_SELECTIVE || ws->has_selective, KRY_EUNSUPPORTED);
    KRY_REQUIRE(kry_fits_blas_int(ws->n) && kry_fits_blas_int(ws->cap + 1), KRY_ERANGE);
    if (v0 != NULL)
        KRY_REQUIRE(kry_vec_isfinite(ws->n, v0), KRY_ENONFINITE);

    /* Invalidate the previous run first, so a failed start leaves nothing usable. */
    ws->started = 0;
    ws->failed = 0;
    ws->steps = ws->matvecs = ws->breakdowns = ws->reorth_vectors = 0;
    ws->ngood = ws->hist_len = 0;
    ws->partial_pending = 0;
    ws->tnorm = 0.0;
    ws->v0_norm = 0.0;
    ws->reason = KRY_RUNNING;

    const kry_space *sp = op->space;
    size_t nglob = (sp != NULL && sp->n_global != 0) ? (size_t)sp->n_global : op->n;
    const double eps = DBL_EPSILON;
    ws->p = p;
    ws->nglob = nglob;
    if (p.max_steps == 0) {
        size_t m = default_cap(nglob);
        ws->max_steps = m < ws->cap ? m : ws->cap;
    } else {
        ws->max_steps = p.max_steps;
    }
    ws->btol = p.breakdown_tol > 0 ? p.breakdown_tol : (double)nglob * eps;
    ws->stol = p.selective_tol > 0 ? p.selective_tol : sqrt(eps);
    ws->ptol = p.partial_tol > 0 ? p.partial_tol : sqrt(eps);
    ws->peta = p.partial_eta > 0 ? p.partial_eta : pow(eps, 0.75);
    if (ws->peta > ws->ptol)
        ws->peta = ws->ptol;
    ws->dratio = p.dgks_ratio > 0 ? p.dgks_ratio : 1.0 / sqrt(2.0);
    ws->eps1 = sqrt((double)nglob) * eps;

    double *q0 = ws->Q;
    if (v0 != NULL)
        kry_vec_copy(ws->n, v0, q0);
    else
        kry_vec_random(sp, ws->n, p.seed, KRY_RNG_STREAM_START, q0);
    double nrm;
    KRY_TRY(kry_vec_nrm2(sp, ws->n, q0, &nrm));
    KRY_REQUIRE(nrm > 0.0, KRY_EINVAL);
    KRY_REQUIRE(isfinite(nrm), KRY_ENONFINITE);
    kry_vec_scal(ws->n, 1.0 / nrm, q0);
    ws->v0_norm = nrm;
    ws->om_cur[0] = 1.0;
    if (p.track_orthogonality) {
        double d;
        KRY_TRY(kry_vec_dot(sp, ws->n, q0, q0, &d));
        ws->colmax[0] = fabs(d - 1.0);
    }
    ws->started = 1;
    return KRY_OK;
}

/* ---- Reorthogonalisation ---- */

/* One classical Gram-Schmidt pass of w against columns [k0, k0+k) of Q (kry_orth_cgs_pass:
   c = Q^T w with one reduction, w -= Q c). Coefficients are left in c[0..k). */
static kry_status cgs_pass(const kry_space *sp, size_t n, const double *Q, size_t k0,
                           size_t k, double *w, double *c)
{
    const kry_orth_basis b = {.q1 = Q + k0 * n, .ld1 = n, .k1 = k};
    return k == 0 ? KRY_OK : kry_orth_cgs_pass(sp, n, &b, w, c);
}

/* Rows of Q per block in cgs2: about 512 KiB of Q, so a block read for the update of
   the first pass is still in cache for the projection of the second. */
static size_t cgs2_block_rows(size_t k)
{
    size_t b = (size_t)65536 / k;
    return b < 64 ? 64 : b;
}

/* Classical Gram-Schmidt twice of w against the k columns of Q (n x k, ld n):
       c1 = Q^T w;  w -= Q c1;  c2 = Q^T w;  w -= Q c2.
   The update of pass 1 and the projection of pass 2 are fused row block by row block
   (c2 is a sum over row blocks of Q_b^T w_b, and w_b is final once Q_b c1 is
   subtracted), so Q is swept three times instead of four; the arithmetic is that of
   CGS2 and there is still one reduction per pass. Coefficients in c1, c2. */
static kry_status cgs2(const kry_space *sp, size_t n, const double *Q, size_t k, double *w,
                       double *c1, double *c2)
{
    if (k == 0)
        return KRY_OK;
    KRY_TRY(kry_vec_gemv_t(sp, n, k, Q, n, w, c1));
    memset(c2, 0, k * sizeof(double));
    const size_t b = cgs2_block_rows(k);
    for (size_t r = 0; r < n; r += b) {
        size_t rows = n - r < b ? n - r : b;
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)rows, (int)k, -1.0, Q + r, (int)n, c1, 1,
                    1.0, w + r, 1);
        cblas_dgemv(CblasColMajor, CblasTrans, (int)rows, (int)k, 1.0, Q + r, (int)n, w + r, 1,
                    1.0, c2, 1);
    }
    KRY_TRY(kry_vec_reduce(sp, c2, k));
    kry_vec_gemv_n(n, k, -1.0, Q, n, c2, w);
    return KRY_OK;
}

/* full: CGS2 against q_0..q_j; the q_j coefficients of both passes correct alpha_j. */
static kry_status reorth_full(kry_lanczos_ws *ws, const kry_space *sp, size_t j, double *w,
                              double *alpha_j)
{
    KRY_TRY(cgs2(sp, ws->n, ws->Q, j + 1, w, ws->h, ws->h2));
    *alpha_j += ws->h[j] + ws->h2[j];
    ws->reorth_vectors += 2 * (j + 1);
    return KRY_OK;
}

/* dgks: one CGS pass against q_0..q_j, only when |w| < dgks_ratio |A q_j|.
   *wnorm is |w| on entry and on exit. */
static kry_status reorth_dgks(kry_lanczos_ws *ws, const kry_space *sp, size_t j, double *w,
                              double aq_norm, double *alpha_j, double *wnorm)
{
    if (!(*wnorm < ws->dratio * aq_norm))
        return KRY_OK;
    KRY_TRY(cgs_pass(sp, ws->n, ws->Q, 0, j + 1, w, ws->h));
    *alpha_j += ws->h[j];
    ws->reorth_vectors += j + 1;
    return kry_vec_nrm2(sp, ws->n, w, wnorm);
}

/* selective, part 1 (before beta_j): purge w against the current good Ritz vectors. */
static kry_status selective_purge(kry_lanczos_ws *ws, const kry_space *sp, double *w)
{
    if (ws->ngood == 0)
        return KRY_OK;
    KRY_TRY(kry_vec_gemv_t(sp, ws->n, ws->ngood, ws->Y, ws->n, w, ws->h));
    kry_vec_gemv_n(ws->n, ws->ngood, -1.0, ws->Y, ws->n, ws->h, w);
    ws->reorth_vectors += ws->ngood;
    return KRY_OK;
}

/* selective, part 2 (after beta_j = *b > 0): eigensolve T_{j+1}, count the good Ritz
   pairs; if their number grew, re-form Y = Q_{j+1} S_good and purge w against it.
   q_j is deliberately not purged here: its component along a new good y_i is the
   legitimate s_{j,i} (up to selective_tol |T| / beta_j), and removing it perturbs the
   basis by that much (measured: |Q^T Q - I| 5e-3 instead of 8e-10 on a 40 x 40 matrix
   with spectrum 1e-3..1e3). q_j was purged as w one step earlier, so it is already
   orthogonal to every good vector formed before. Updates *b. */
static kry_status selective_update(kry_lanczos_ws *ws, const kry_space *sp, size_t j,
                                   double *w, double *b)
{
    size_t p = j + 1, n = ws->n;
    memcpy(ws->td, ws->alpha, p * sizeof(double));
    if (p > 1)
        memcpy(ws->te, ws->beta, (p - 1) * sizeof(double));
    lapack_int found = 0;
    lapack_int info = LAPACKE_dstevr_work(
        LAPACK_COL_MAJOR, 'V', 'A', (lapack_int)p, ws->td, ws->te, 0.0, 0.0, 0, 0, 0.0,
        &found, ws->theta, ws->Z, (lapack_int)p, ws->isuppz, ws->lwork, (lapack_int)(20 * p),
        ws->liwork, (lapack_int)(10 * p));
    if (info != 0 || (size_t)found != p)
        return KRY_ELAPACK;
    double tn = fmax(fabs(ws->theta[0]), fabs(ws->theta[p - 1]));
    double thr = ws->stol * tn;
    size_t cnt = 0;
    for (size_t i = 0; i < p; ++i)
        if (*b * fabs(ws->Z[i * p + j]) <= thr)
            ++cnt;
    if (cnt <= ws->ngood)
        return KRY_OK;
    /* Compact the good eigenvectors to the front of Z (column i moves to c <= i). */
    size_t c = 0;
    for (size_t i = 0; i < p; ++i)
        if (*b * fabs(ws->Z[i * p + j]) <= thr) {
            if (c != i)
                memcpy(ws->Z + c * p, ws->Z + i * p, p * sizeof(double));
            ++c;
        }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)cnt, (int)p, 1.0,
                ws->Q, (int)n, ws->Z, (int)p, 0.0, ws->Y, (int)n);
    ws->ngood = cnt;
    KRY_TRY(selective_purge(ws, sp, w));
    return kry_vec_nrm2(sp, n, w, b);
}

/* CGS of w against the columns k <= j of Q with flag[k] set, one pass per run of
   consecutive k. Returns the number of vectors used in *used; the q_j coefficient (if
   flagged) is added to *alpha_j. */
static kry_status cgs_flagged(kry_lanczos_ws *ws, const kry_space *sp, size_t j, double *w,
                              const unsigned char *flag, double *alpha_j, size_t *used)
{
    size_t k = 0;
    *used = 0;
    while (k <= j) {
        if (!flag[k]) {
            ++k;
            continue;
        }
        size_t k0 = k;
        while (k <= j && flag[k])
            ++k;
        KRY_TRY(cgs_pass(sp, ws->n, ws->Q, k0, k - k0, w, ws->h));
        if (k == j + 1)
            *alpha_j += ws->h[j - k0];
        *used += k - k0;
    }
    return KRY_OK;
}

/* partial (after beta_j = *b > 0): advance the omega recurrence to q_{j+1} in om_next
   and reorthogonalise when it says so. Updates *b. */
static kry_status partial_update(kry_lanczos_ws *ws, const kry_space *sp, size_t j,
                                 double *w, double *alpha_j, double *b)
{
    const double *al = ws->alpha, *be = ws->beta;
    const double *oc = ws->om_cur, *op = ws->om_prev;
    double *on = ws->om_next;
    double aj = *alpha_j, bj = *b, bjm1 = j > 0 ? be[j - 1] : 0.0;
    double anorm = fmax(ws->tnorm, sqrt(aj * aj + bjm1 * bjm1 + bj * bj));
    double noise = ws->eps1 * anorm;
    double wmax = 0.0;
    for (size_t k = 0; k < j; ++k) {
        double t = be[k] * oc[k + 1] + (al[k] - aj) * oc[k] - bjm1 * op[k];
        if (k > 0)
            t += be[k - 1] * oc[k - 1];
        t += t >= 0.0 ? noise : -noise;
        on[k] = t / bj;
        if (fabs(on[k]) > wmax)
            wmax = fabs(on[k]);
    }
    on[j] = noise / bj;
    on[j + 1] = 1.0;
    if (on[j] > wmax)
        wmax = on[j];
    if (!ws->partial_pending && !(wmax > ws->ptol))
        return KRY_OK;

    /* Select the k: on the second step of a pair, keep the first step's set. */
    unsigned char *flag = ws->pflag;
    if (!ws->partial_pending)
        memset(flag, 0, j + 1);
    else
        flag[j] = 0;
    for (size_t k = 0; k <= j; ++k)
        if (fabs(on[k]) > ws->peta)
            flag[k] = 1;
    size_t used;
    KRY_TRY(cgs_flagged(ws, sp, j, w, flag, alpha_j, &used));
    ws->reorth_vectors += used;
    double bn;
    KRY_TRY(kry_vec_nrm2(sp, ws->n, w, &bn));
    double scale = bn > 0.0 ? bj / bn : 1.0;
    for (size_t k = 0; k <= j; ++k)
        on[k] = flag[k] ? ws->eps1 : on[k] * scale;
    *b = bn;
    ws->partial_pending = !ws->partial_pending;
    return KRY_OK;
}

/* After a breakdown at step j: a fresh random unit vector in column j+1, orthogonal to
   q_0..q_j (two CGS passes). *ok = 0 when no new direction could be found (the random
   vector lay numerically in span(Q)). */
static kry_status fresh_vector(kry_lanczos_ws *ws, const kry_space *sp, size_t j, int *ok)
{
    size_t n = ws->n;
    double *w = ws->Q + (j + 1) * n, n0, n1;
    *ok = 0;
    kry_vec_random(sp, n, ws->p.seed + ws->breakdowns, KRY_RNG_STREAM_RESTART, w);
    KRY_TRY(kry_vec_nrm2(sp, n, w, &n0));
    KRY_TRY(cgs2(sp, n, ws->Q, j + 1, w, ws->h, ws->h2));
    ws->reorth_vectors += 2 * (j + 1);
    KRY_TRY(kry_vec_nrm2(sp, n, w, &n1));
    if (!(n1 > sqrt(DBL_EPSILON) * n0))
        return KRY_OK;
    kry_vec_scal(n, 1.0 / n1, w);
    *ok = 1;
    return KRY_OK;
}

/* colmax[c] for column c: max(|q_c^T q_i|, i < c; |q_c^T q_c - 1|). One dgemv^T. */
static kry_status column_orth(kry_lanczos_ws *ws, const kry_space *sp, size_t c)
{
    const double *qc = ws->Q + c * ws->n;
    KRY_TRY(kry_vec_gemv_t(sp, ws->n, c + 1, ws->Q, ws->n, qc, ws->h2));
    double e = fabs(ws->h2[c] - 1.0);
    for (size_t i = 0; i < c; ++i)
        if (fabs(ws->h2[i]) > e)
            e = fabs(ws->h2[i]);
    ws->colmax[c] = e;
    return KRY_OK;
}

/* ---- Step ---- */

static kry_status step_body(kry_lanczos_ws *ws, const kry_operator *op)
{
    const kry_space *sp = op->space;
    const size_t n = ws->n, j = ws->steps;
    const kry_reorth mode = ws->p.reorth;
    double *qj = ws->Q + j * n, *w = ws->Q + (j + 1) * n;
    double bjm1 = j > 0 ? ws->beta[j - 1] : 0.0;

    KRY_TRY(kry_operator_apply(op, qj, w));
    ws->matvecs++;
    double aq_norm = 0.0;
    if (mode == KRY_REORTH_DGKS)
        KRY_TRY(kry_vec_nrm2(sp, n, w, &aq_norm));
    if (j > 0 && bjm1 != 0.0)
        kry_vec_axpy(n, -bjm1, qj - n, w);
    double a;
    KRY_TRY(kry_vec_dot(sp, n, qj, w, &a));
    kry_vec_axpy(n, -a, qj, w);

    if (mode == KRY_REORTH_FULL)
        KRY_TRY(reorth_full(ws, sp, j, w, &a));
    else if (mode == KRY_REORTH_SELECTIVE)
        KRY_TRY(selective_purge(ws, sp, w));

    double b;
    KRY_TRY(kry_vec_nrm2(sp, n, w, &b));
    if (mode == KRY_REORTH_DGKS)
        KRY_TRY(reorth_dgks(ws, sp, j, w, aq_norm, &a, &b));
    ws->alpha[j] = a;

    /* Breakdown threshold from the column norms of T excluding beta_j itself. */
    double tcol = sqrt(a * a + bjm1 * bjm1);
    double thr = ws->btol * fmax(ws->tnorm, tcol);
    if (b > thr) {
        if (mode == KRY_REORTH_PARTIAL) {
            KRY_TRY(partial_update(ws, sp, j, w, &a, &b));
            ws->alpha[j] = a;
        } else if (mode == KRY_REORTH_SELECTIVE) {
            KRY_TRY(selective_update(ws, sp, j, w, &b));
        }
    }
    int final_breakdown = 0;
    if (b > thr) {
        ws->beta[j] = b;
        kry_vec_scal(n, 1.0 / b, w);
    } else {
        ws->breakdowns++;
        int ok = 0;
        if (ws->p.continue_on_breakdown && j + 1 < ws->nglob)
            KRY_TRY(fresh_vector(ws, sp, j, &ok));
        if (ok) {
            ws->beta[j] = 0.0;
            /* The fresh vector is orthogonal to all of Q. */
            for (size_t k = 0; k <= j; ++k)
                ws->om_next[k] = ws->eps1;
            ws->om_next[j + 1] = 1.0;
            ws->partial_pending = 0;
        } else {
            ws->beta[j] = b;
            if (b >= DBL_MIN) /* 1/b is finite */
                kry_vec_scal(n, 1.0 / b, w);
            else
                memset(w, 0, n * sizeof(double));
            final_breakdown = 1;
        }
    }
    double tc = sqrt(a * a + bjm1 * bjm1 + ws->beta[j] * ws->beta[j]);
    if (tc > ws->tnorm)
        ws->tnorm = tc;
    if (mode == KRY_REORTH_PARTIAL) {
        double *t = ws->om_prev;
        ws->om_prev = ws->om_cur;
        ws->om_cur = ws->om_next;
        ws->om_next = t;
    }

    if (ws->p.track_orthogonality) {
        size_t last = j;
        if (!final_breakdown) {
            KRY_TRY(column_orth(ws, sp, j + 1));
            last = j + 1;
        }
        double e = 0.0;
        for (size_t c = 0; c <= last; ++c)
            if (ws->colmax[c] > e)
                e = ws->colmax[c];
        ws->hist[j] = e;
        ws->hist_len = j + 1;
    }

    ws->steps = j + 1;
    if (final_breakdown)
        ws->reason = KRY_CONVERGED_INVARIANT;
    else if (ws->steps >= ws->max_steps)
        ws->reason = KRY_STOPPED_MAXIT;
    return KRY_OK;
}

kry_status kry_lanczos_step(kry_lanczos_ws *ws, const kry_operator *op)
{
    KRY_REQUIRE(ws != NULL, KRY_EINVAL);
    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(ws->started && !ws->failed && ws->reason == KRY_RUNNING, KRY_EINVAL);
    KRY_REQUIRE(op->n == ws->n, KRY_EDIM);
    kry_status st = step_body(ws, op);
    if (st != KRY_OK)
        ws->failed = 1;
    return st;
}

kry_status kry_lanczos_run(const kry_operator *op, const double *v0,
                           const kry_lanczos_params *params, kry_lanczos_ws *ws,
                           kry_lanczos_result *result)
{
    kry_status st = kry_lanczos_start(ws, op, v0, params);
    while (st == KRY_OK && ws->reason == KRY_RUNNING)
        st = kry_lanczos_step(ws, op);
    if (result != NULL) {
        memset(result, 0, sizeof *result);
        if (ws != NULL) {
            kry_status st2 = kry_lanczos_result_get(ws, result);
            (void)st2; /* cannot fail: both pointers are non-NULL */
        }
    }
    return st;
}
