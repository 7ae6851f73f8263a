/* topk.c — top-k eigenpairs by thick-restart Lanczos (Krylov-Schur for symmetric A)
   with locking, a multiplicity check, warm starts, a monitor and solution checks.
   The contract and the design choices are documented in include/kry/topk.h.

   Structure. An "engine" (struct eng) holds the state of one solve:
   - the basis V (ws->V): columns [0, cur) are "expanded" (their product with A is
     known through H), columns [cur, t) are "pending" (not yet multiplied by A), so that
         A V[:, 0:cur] = V[:, 0:t] H[0:t, 0:cur]
     with H symmetric on [0, cur) and H[cur:t, 0:cur] the coupling of the pending block
     (stored in the lower triangle of ws->H). A cold start has one pending vector (plain
     thick-restart Lanczos); a warm start from w vectors has w (block Lanczos after a
     Rayleigh-Ritz step on their span).
   - the deflation block D (ws->D): locked eigenvectors and, during a multiplicity
     check, "soft" vectors (resolved Ritz vectors of the main basis) the check sequence
     is kept orthogonal to.
   A phase expands V one matvec at a time (expand_one), checks the Ritz pairs
   (analyse, build_union), restarts (do_restart/restart: lock + keep + rotate), until
   its goal is met (run_phase):
   - main phase (vmode = 0): all wanted pairs converged;
   - check phase (vmode = 1): a sequence from a fresh random vector on the space
     orthogonal to D (start_check). A Ritz value certainly beyond the wanted set
     (PH_FALLBACK) proves a missed eigenvalue: a new main phase starts from that Ritz
     vector (restart_main), then another check. The check ends once its extreme Ritz
     value(s) have settled below the wanted set.
   Memory is allocated only in kry_topk_ws_alloc; a solve never allocates.

   References: Wu & Simon 2000 (SIAM J. Matrix Anal. Appl. 22, thick-restart Lanczos);
   Stewart 2001 (SIAM J. Matrix Anal. Appl. 23, the Krylov-Schur algorithm); Zhou & Saad
   2008 (block Krylov-Schur); Hernandez, Roman & Tomas 2007 (SLEPc technical report
   STR-7, Krylov-Schur in SLEPc: locking and the keep fraction); Lehoucq, Sorensen &
   Yang 1998 (ARPACK Users' Guide, the relative convergence test); Parlett, "The
   Symmetric Eigenvalue Problem", ch. 10 and 13 (interlacing; multiple eigenvalues and
   Krylov spaces); Stathopoulos & McCombs 2010 (ACM TOMS 37, PRIMME: solution checks). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "internal.h"
#include "kry/rng.h"
#include "kry/topk.h"
#include "orth.h"
#include "vec.h"

/* Rows per block of the in-place basis rotation (the buffer is ROWBLK x m doubles). */
#define ROWBLK 2048

/* Kinds of deflation columns (ws->dtype): locked eigenvectors, and the soft deflation
   vectors of a check phase. */
enum { D_LOCKED = 1, D_SOFT = 2 };

/* A Ritz vector of the main sequence is used as a soft deflation vector only when its
   residual is at most RESOLVED times its distance to the wanted set: then any
   eigenvector with an eigenvalue beyond the wanted set has at most that relative
   component along it, so the soft block cannot hide a missed eigenvalue. */
#define RESOLVED 0.01

/* ---- Parameters ---- */

kry_topk_params kry_topk_params_default(void)
{
    kry_topk_params p;
    memset(&p, 0, sizeof p);
    p.which = KRY_WHICH_LA;
    p.verify = 1;
    p.seed = 1;
    return p;
}

static size_t default_basis(size_t k)
{
    size_t m = 2 * k + 20;
    return m < 40 ? 40 : m;
}

/* ---- Workspace ---- */

struct kry_topk_ws {
    size_t n, kcap, mcap, bcap, lcap, vcols, hld;
    double *V;                 /* n x vcols (vcols = mcap + bcap) */
    double *D;                 /* n x lcap */
    double *dval, *dres;       /* lcap */
    unsigned char *dtype;      /* lcap: D_LOCKED or D_SOFT */
    double *H;                 /* hld x hld (hld = vcols), lower triangle used */
    double *A;                 /* mcap x mcap, dsyevr input */
    double *S;                 /* mcap x mcap, eigenvectors (ld = current size) */
    double *Ssel;              /* mcap x mcap, selected eigenvectors */
    double *theta, *rb, *btmp; /* mcap */
    double *Bs;                /* bcap x mcap: pending couplings times S */
    double *coef, *coef2;      /* lcap + vcols + 1 */
    double *known;             /* vcols: known couplings of the column being expanded */

    double *rot;               /* ROWBLK x vcols */
    double *work;              /* 26 mcap */
    lapack_int *iwork;         /* 10 mcap */
    lapack_int *isuppz;        /* 2 mcap */
    double *uval;              /* lcap + mcap: union of candidate values */
    size_t *uidx, *uord, *ord; /* lcap + mcap */
    unsigned char *usrc, *uwant; /* lcap + mcap */
    double *pval, *pbnd;       /* kcap */
};

static int mul_ok(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *r = a * b;
    return 1;
}

/* Sizes of a workspace; total bytes, 0 on overflow. */
static size_t ws_layout(size_t n, size_t kcap, size_t mcap, size_t *bcap, size_t *lcap)
{
    if (n == 0 || kcap == 0 || mcap == 0 || kcap > SIZE_MAX / 16 || mcap > SIZE_MAX / 64)
        return 0;
    size_t bc = kcap + 1, vc = mcap + bc;
    /* locked (2k) and soft columns (at most mcap) */
    size_t lc = 2 * kcap + mcap;
    if (bcap)
        *bcap = bc;
    if (lcap)
        *lcap = lc;
    size_t t, dbl, m2, h2;
    if (!mul_ok(n, vc + lc, &dbl) || !mul_ok(mcap, mcap, &m2) || !mul_ok(vc, vc, &h2) ||
        !mul_ok(bc, mcap, &t))
        return 0;
    /* H, A/S/Ssel, theta/rb/btmp, Bs, coef/coef2, known, rot, LAPACK work, dval/dres,
       uval, pval/pbnd: exactly what kry_topk_ws_alloc allocates. */
    size_t small = h2 + 3 * m2 + 3 * mcap + t + 2 * (lc + vc + 1) + vc + (size_t)ROWBLK * vc +
                   26 * mcap + 2 * lc + (lc + mcap) + 2 * kcap;
    if (small < h2 || dbl > SIZE_MAX / 8 - small)
        return 0;
    dbl += small;
    return dbl * sizeof(double) + 12 * mcap * sizeof(lapack_int) +
           3 * (lc + mcap) * sizeof(size_t) + 2 * (lc + mcap) + lc +
           sizeof(struct kry_topk_ws);
}

size_t kry_topk_ws_bytes(size_t n, size_t kmax, size_t mmax)
{
    return ws_layout(n, kmax, mmax ? mmax : default_basis(kmax), NULL, NULL);
}

void kry_topk_ws_free(kry_topk_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->V);
    free(ws->D);
    free(ws->dval);
    free(ws->dres);
    free(ws->dtype);
    free(ws->H);
    free(ws->A);
    free(ws->S);
    free(ws->Ssel);
    free(ws->theta);
    free(ws->rb);
    free(ws->btmp);
    free(ws->Bs);
    free(ws->coef);
    free(ws->coef2);
    free(ws->known);
    free(ws->rot);
    free(ws->work);
    free(ws->iwork);
    free(ws->isuppz);
    free(ws->uval);
    free(ws->uidx);
    free(ws->uord);
    free(ws->ord);
    free(ws->usrc);
    free(ws->uwant);
    free(ws->pval);
    free(ws->pbnd);
    free(ws);
}

kry_topk_ws *kry_topk_ws_alloc(size_t n, size_t kmax, size_t mmax)
{
    size_t mcap = mmax ? mmax : default_basis(kmax), bcap = 0, lcap = 0;
    if (ws_layout(n, kmax, mcap, &bcap, &lcap) == 0)
        return NULL;
    kry_topk_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    const size_t d = sizeof(double), vc = mcap + bcap, u = lcap + mcap;
    ws->n = n;
    ws->kcap = kmax;
    ws->mcap = mcap;
    ws->bcap = bcap;
    ws->lcap = lcap;
    ws->vcols = vc;
    ws->hld = vc;
    ws->V = malloc(n * vc * d);
    ws->D = malloc(n * lcap * d);
    ws->dval = malloc(lcap * d);
    ws->dres = malloc(lcap * d);
    ws->dtype = malloc(lcap);
    ws->H = malloc(vc * vc * d);
    ws->A = malloc(mcap * mcap * d);
    ws->S = malloc(mcap * mcap * d);
    ws->Ssel = malloc(mcap * mcap * d);
    ws->theta = malloc(mcap * d);
    ws->rb = malloc(mcap * d);
    ws->btmp = malloc(mcap * d);
    ws->Bs = malloc(bcap * mcap * d);
    ws->coef = malloc((lcap + vc + 1) * d);
    ws->coef2 = malloc((lcap + vc + 1) * d);
    ws->known = malloc(vc * d);
    ws->rot = malloc((size_t)ROWBLK * vc * d);
    ws->work = malloc(26 * mcap * d);
    ws->iwork = malloc(10 * mcap * sizeof(lapack_int));
    ws->isuppz = malloc(2 * mcap * sizeof(lapack_int));
    ws->uval = malloc(u * d);
    ws->uidx = malloc(u * sizeof(size_t));
    ws->uord = malloc(u * sizeof(size_t));
    ws->ord = malloc(u * sizeof(size_t));
    ws->usrc = malloc(u);
    ws->uwant = malloc(u);
    ws->pval = malloc(kmax * d);
    ws->pbnd = malloc(kmax * d);
    if (!ws->V || !ws->D || !ws->dval || !ws->dres || !ws->dtype || !ws->H || !ws->A ||
        !ws->S || !ws->Ssel || !ws->theta || !ws->rb || !ws->btmp || !ws->Bs ||
        !ws->coef || !ws->coef2 || !ws->known ||
        !ws->rot || !ws->work || !ws->iwork || !ws->isuppz || !ws->uval || !ws->uidx ||
        !ws->uord || !ws->ord || !ws->usrc || !ws->uwant || !ws->pval || !ws->pbnd) {
        kry_topk_ws_free(ws);
        return NULL;
    }
    return ws;
}

/* ---- Ordering ---- */

/* 1 when a comes before b in `which` priority (LA, SA, LM; BE is handled apart).
   LM: magnitudes equal to 64 eps are a tie, which the larger value wins (kry_ritz). */
static int before(kry_which which, double a, double b)
{
    switch (which) {
    case KRY_WHICH_SA: return a < b;
    case KRY_WHICH_LM: {
        double aa = fabs(a), ab = fabs(b);
        if (fabs(aa - ab) <= 64.0 * DBL_EPSILON * fmax(aa, ab))
            return a > b;
        return aa > ab;
    }
    default: return a > b; /* LA, and BE's "top" end */
    }
}

/* Sorts idx[0..c) (indices into val) by priority (LA/SA/LM) or ascending (BE):
   insertion sort, stable; c is at most a few hundred. */
static void sort_idx(kry_which which, const double *val, size_t *idx, size_t c)
{
    kry_which w = which == KRY_WHICH_BE ? KRY_WHICH_SA : which;
    for (size_t i = 1; i < c; ++i) {
        size_t t = idx[i], j = i;
        while (j > 0 && before(w, val[t], val[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            --j;
        }
        idx[j] = t;
    }
}

/* The wanted set of c values val[0..c): want[i] = 1 for the best k, and out[0..r) the
   wanted indices in output order (r = min(k, c)). BE: ceil(k/2) largest and floor(k/2)
   smallest, output alternating largest, smallest, 2nd largest, ...; with c <= k all
   values, alternating from both ends. tmp: c indices of scratch. */
static size_t select_wanted(kry_which which, size_t k, const double *val, size_t c,
                            unsigned char *want, size_t *out, size_t *tmp)
{
    for (size_t i = 0; i < c; ++i) {
        tmp[i] = i;
        want[i] = 0;
    }
    sort_idx(which, val, tmp, c);
    size_t r = k < c ? k : c;
    if (which != KRY_WHICH_BE) {
        for (size_t i = 0; i < r; ++i) {
            out[i] = tmp[i];
            want[tmp[i]] = 1;
        }
        return r;
    }
    size_t lo = 0, hi = c, top = (k + 1) / 2, bot = k / 2, t = 0;
    /* Alternate while both quotas remain, then finish the other end. */
    while (t < r && lo < hi) {
        if (top > 0 && (t % 2 == 0 || bot == 0)) {
            out[t++] = tmp[--hi];
            --top;
        } else if (bot > 0) {
            out[t++] = tmp[lo++];
            --bot;
        } else {
            out[t++] = tmp[--hi];
        }
    }
    for (size_t i = 0; i < t; ++i)
        want[out[i]] = 1;
    return t;
}

/* ---- The engine ---- */

enum { PH_DONE = 0, PH_BUDGET, PH_USER, PH_FALLBACK };

typedef struct eng {
    const kry_operator *op;
    const kry_space *sp;
    kry_topk_ws *ws;
    size_t n, nglob, k, m;
    kry_which which;
    double tol, keep, btol, vtol;
    double sel_tau, sel_kappa; /* selective reorthogonalisation thresholds */
    size_t ci;
    uint64_t seed;
    kry_topk_monitor_fn *mon;
    void *monctx;

    size_t budget, matvecs, vmatvecs, restarts, nfresh, vrounds, copies;
    size_t nd, nlock; /* D columns; locked among them */
    size_t cur, t;    /* expanded columns; all columns (the pending ones are [cur, t)) */
    int vmode;        /* check phase: D holds soft columns; Ritz values are compared
                         with the wanted set, never merged into it */
    int exhausted;    /* D and V span the whole space: nothing pending, no fresh vector */
    int ever_exhausted;
    int phase;
    double anorm;

    /* Results of the last analyse/build_union (valid while `analysed`). */
    int analysed;
    int near;         /* main phase: every wanted bound within 1e4 times its tolerance,
                         so check after every step */
    size_t nu;        /* union size */
    size_t nwant;     /* wanted entries in the union (min(k, nu)) */
    size_t nwa, nwa_conv; /* active wanted, converged among them */

} eng;

#define HH(e, r, c) ((e)->ws->H[(r) + (c) * (e)->ws->hld])

static double conv_scale(const eng *e, double theta)
{
    return fmax(fabs(theta), pow(DBL_EPSILON, 2.0 / 3.0) * e->anorm);
}

static int is_conv(const eng *e, double theta, double r)
{
    return r <= e->tol * conv_scale(e, theta);
}

static kry_status apply(eng *e, const double *x, double *y)
{
    kry_status st = kry_operator_apply(e->op, x, y);
    if (st != KRY_OK)
        return st;
    e->matvecs++;
    if (e->vmode)
        e->vmatvecs++;
    return KRY_OK;
}

/* Zeroes the row r of H over columns [0, cur). */
static void h_row_zero(eng *e, size_t r)
{
    for (size_t c = 0; c < e->cur; ++c)
        HH(e, r, c) = 0.0;
}

/* Orthonormalises V[:, t] against D and V[:, 0:t] (CGS2, a third pass when the
   vector lost most of its norm). Returns in *ok whether a direction of relative size
   above 1e-8 remained; on success the column is normalised. */
static kry_status orth_new_column(eng *e, int *ok)
{
    kry_topk_ws *ws = e->ws;
    const size_t n = e->n;
    double *w = ws->V + e->t * n;
    kry_orth_basis ob = {ws->D, n, e->nd, ws->V, n, e->t, NULL, 0, 0};
    double n0, n1;
    *ok = 0;
    KRY_TRY(kry_orth_cgs(e->sp, n, &ob, KRY_ORTH_TWO, 0.0, w, ws->coef, ws->coef2, &n0, &n1,
                         NULL));
    if (n1 < 1e-3 * n0) {
        double n2;
        KRY_TRY(kry_orth_cgs(e->sp, n, &ob, KRY_ORTH_ONE, 0.0, w, ws->coef, ws->coef2, NULL,
                             &n2, NULL));
        if (!(n2 > 1e-5 * n1) || !(n2 > 1e-8 * n0))
            return KRY_OK;
        n1 = n2;
    }
    if (!(n1 > 0.0))
        return KRY_OK;
    kry_vec_scal(n, 1.0 / n1, w);
    *ok = 1;
    return KRY_OK;
}

/* Appends a fresh random pending vector (orthogonal to D and V, zero coupling). Sets
   e->exhausted when none can be found (D and V span the space). */
static kry_status fresh_vector(eng *e)
{
    kry_topk_ws *ws = e->ws;
    if (e->nd + e->t >= e->nglob) {
        if (e->t == e->cur)
            e->exhausted = e->ever_exhausted = 1;
        return KRY_OK;
    }
    kry_vec_random(e->sp, e->n, e->seed + e->nfresh, KRY_RNG_STREAM_RESTART,
                   ws->V + e->t * e->n);
    e->nfresh++;
    int ok;
    KRY_TRY(orth_new_column(e, &ok));
    if (!ok) {
        if (e->t == e->cur)
            e->exhausted = e->ever_exhausted = 1;
        return KRY_OK;
    }
    h_row_zero(e, e->t);
    e->t++;
    return KRY_OK;
}

/* Subtracts V[:, i] known[i] for the runs of nonzero known[0..c) from w. */
static void subtract_known(size_t n, const double *V, const double *known, size_t c,
                           double *w)
{
    size_t i = 0;
    while (i < c) {
        if (known[i] == 0.0) {
            ++i;
            continue;
        }
        size_t i0 = i;
        while (i < c && known[i] != 0.0)
            ++i;
        if (i - i0 == 1)
            kry_vec_axpy(n, -known[i0], V + i0 * n, w);
        else
            kry_vec_gemv_n(n, i - i0, -1.0, V + i0 * n, n, known + i0, w);
    }
}

/* Expands the first pending column j = cur: w = A v_j minus its known couplings to the
   expanded columns, alpha_j, then reorthogonalisation against D (in full), the
   expanded columns (selective) and the other pending columns (in full, their
   coefficients are couplings). The residual becomes pending column t, unless it is at
   breakdown level (the block shrinks; an empty block gets a fresh vector). */
static kry_status expand_one(eng *e)
{
    kry_topk_ws *ws = e->ws;
    const size_t n = e->n, j = e->cur, t = e->t;
    double *v = ws->V + j * n, *w = ws->V + t * n, *known = ws->known;
    KRY_TRY(apply(e, v, w));
    e->analysed = 0;
    double bmax = 0.0;
    for (size_t i = 0; i < j; ++i) {
        known[i] = HH(e, j, i);
        bmax = fmax(bmax, fabs(known[i]));
    }
    subtract_known(n, ws->V, known, j, w);
    double a;
    KRY_TRY(kry_vec_dot(e->sp, n, v, w, &a));
    kry_vec_axpy(n, -a, v, w);
    kry_orth_basis ob = {ws->D, n, e->nd, ws->V, n, j + 1, ws->V + (j + 1) * n, n, t - j - 1};
    double nin, nout;
    KRY_TRY(kry_orth_cgs_sel(e->sp, n, &ob, e->sel_tau, e->sel_kappa, w, ws->coef, ws->coef2,
                             &nin, &nout, NULL));
    a += ws->coef[e->nd + j];
    HH(e, j, j) = a;
    for (size_t p = j + 1; p < t; ++p)
        HH(e, p, j) = ws->coef[e->nd + p];
    e->cur = j + 1;
    double scale = fmax(e->anorm, fmax(fabs(a), bmax));
    if (e->nd + t < e->nglob && nout > e->btol * scale) {
        kry_vec_scal(n, 1.0 / nout, w);
        h_row_zero(e, t);
        HH(e, t, j) = nout;
        e->t = t + 1;
        return KRY_OK;
    }
    /* Breakdown (or no room left): the residual is dropped. */
    if (e->t == e->cur)
        return fresh_vector(e);
    return KRY_OK;
}

/* Ritz pairs of H[0:cur, 0:cur]: theta ascending, S (ld cur), bounds rb = |B s_i| with
   B = H[cur:t, 0:cur] (the pending couplings; Bs = B S is kept for restarts). In a
   check phase these are residuals of the compression of A, not of A. Updates the |A|
   estimate. */
static kry_status analyse(eng *e)
{
    kry_topk_ws *ws = e->ws;
    const size_t c = e->cur, pb = e->t - e->cur;
    for (size_t j = 0; j < c; ++j)
        memcpy(ws->A + j * c + j, ws->H + j * ws->hld + j, (c - j) * sizeof(double));
    lapack_int found = 0;
    lapack_int info = LAPACKE_dsyevr_work(
        LAPACK_COL_MAJOR, 'V', 'A', 'L', (lapack_int)c, ws->A, (lapack_int)c, 0.0, 0.0, 0, 0,
        0.0, &found, ws->theta, ws->S, (lapack_int)c, ws->isuppz, ws->work,
        (lapack_int)(26 * ws->mcap), ws->iwork, (lapack_int)(10 * ws->mcap));
    if (info != 0 || (size_t)found != c)
        return KRY_ELAPACK;
    if (pb > 0)
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)pb, (int)c, (int)c, 1.0,
                    ws->H + c, (int)ws->hld, ws->S, (int)c, 0.0, ws->Bs, (int)pb);
    for (size_t i = 0; i < c; ++i) {
        double s2 = 0.0;
        for (size_t l = 0; l < pb; ++l)
            s2 += ws->Bs[l + i * pb] * ws->Bs[l + i * pb];
        ws->rb[i] = sqrt(s2);
    }
    e->anorm = fmax(e->anorm, fmax(fabs(ws->theta[0]), fabs(ws->theta[c - 1])));
    e->analysed = 1;
    return KRY_OK;
}

/* The union of locked values (source 0, index = D column) and, with with_active, the
   current Ritz values (source 1, index = Ritz index; only when analysed), and its
   wanted set: ws->uval/usrc/uidx/uwant and ws->uord[0..nwant) (wanted, output
   order). */
static void build_union(eng *e, int with_active)
{
    kry_topk_ws *ws = e->ws;
    size_t u = 0;
    for (size_t c = 0; c < e->nd; ++c)
        if (ws->dtype[c] == D_LOCKED) {
            ws->uval[u] = ws->dval[c];
            ws->usrc[u] = 0;
            ws->uidx[u++] = c;
        }
    if (with_active && e->analysed)
        for (size_t i = 0; i < e->cur; ++i) {
            ws->uval[u] = ws->theta[i];
            ws->usrc[u] = 1;
            ws->uidx[u++] = i;
        }
    e->nu = u;
    e->nwant = select_wanted(e->which, e->k, ws->uval, u, ws->uwant, ws->uord, ws->ord);
    e->nwa = e->nwa_conv = 0;
    for (size_t i = 0; i < u; ++i)
        if (ws->uwant[i] && ws->usrc[i] == 1) {
            e->nwa++;
            size_t r = ws->uidx[i];
            if (is_conv(e, ws->theta[r], ws->rb[r]))
                e->nwa_conv++;
        }
}

/* Active Ritz indices in priority order into ord[0..cur): wanted ones first. In a
   check phase with LM or BE both ends matter (both are tested for settling), so the
   priority alternates between them as for BE. */
static void active_order(eng *e, size_t *ord)
{
    kry_topk_ws *ws = e->ws;
    const size_t c = e->cur;
    int both = e->which == KRY_WHICH_BE || (e->vmode && e->which == KRY_WHICH_LM);
    if (!both) {
        for (size_t i = 0; i < c; ++i)
            ord[i] = i;
        sort_idx(e->which, ws->theta, ord, c);
        return;
    }
    /* BE: theta is ascending. The wanted active values are the outermost ones at each
       end; take them first (alternating), then alternate over the rest. */
    size_t tq = 0, bq = 0;
    for (size_t i = 0; i < e->nu; ++i)
        if (ws->uwant[i] && ws->usrc[i] == 1) {
            if (2 * ws->uidx[i] + 1 >= c)
                tq++;
            else
                bq++;
        }
    size_t lo = 0, hi = c, t = 0;
    while ((tq > 0 || bq > 0) && lo < hi) {
        if (tq > 0) {
            ord[t++] = --hi;
            tq--;
        }
        if (bq > 0 && lo < hi) {
            ord[t++] = lo++;
            bq--;
        }
    }
    int top = 1;
    while (lo < hi) {
        ord[t++] = top ? --hi : lo++;
        top = !top;
    }
}

/* Index of a locked D column that may be overwritten (locked, not wanted, the worst by
   priority), or SIZE_MAX. Uses the union built last. */
static size_t evictable(eng *e)
{
    kry_topk_ws *ws = e->ws;
    kry_which w = e->which == KRY_WHICH_BE ? KRY_WHICH_LA : e->which;
    size_t best = SIZE_MAX;
    double bv = 0.0;
    for (size_t i = 0; i < e->nu; ++i)
        if (ws->usrc[i] == 0 && !ws->uwant[i] && (best == SIZE_MAX || before(w, bv, ws->uval[i]))) {
            best = ws->uidx[i];
            bv = ws->uval[i];
        }
    return best;
}

/* V[:, 0:q] = V[:, 0:c] Q (Q c x q, ld c), in place by row blocks. */
static void rotate(kry_topk_ws *ws, size_t n, size_t c, const double *Q, size_t q)
{
    for (size_t r0 = 0; r0 < n; r0 += ROWBLK) {
        size_t rows = n - r0 < ROWBLK ? n - r0 : ROWBLK;
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)q, (int)c, 1.0,
                    ws->V + r0, (int)n, Q, (int)c, 0.0, ws->rot, (int)rows);
        for (size_t j = 0; j < q; ++j)
            memcpy(ws->V + j * n + r0, ws->rot + j * rows, rows * sizeof(double));
    }
}

/* Restart after analyse/build_union: lock the Ritz indices lock[0..nl) (moved into
   D), keep keep[0..nk) (in that order) as the new diagonal block; the pending block
   follows with its couplings rotated (B S_kept). */
static void restart(eng *e, const size_t *lock, size_t nl, const size_t *keep, size_t nk)
{
    kry_topk_ws *ws = e->ws;
    const size_t n = e->n, c = e->cur, pb = e->t - e->cur, q = nk + nl;
    for (size_t i = 0; i < nk; ++i)
        memcpy(ws->Ssel + i * c, ws->S + keep[i] * c, c * sizeof(double));
    for (size_t i = 0; i < nl; ++i)
        memcpy(ws->Ssel + (nk + i) * c, ws->S + lock[i] * c, c * sizeof(double));
    if (q > 0)
        rotate(ws, n, c, ws->Ssel, q);
    /* Lock: copy into D (append, or overwrite an unwanted locked column when full). */
    for (size_t i = 0; i < nl; ++i) {
        size_t r = lock[i], col;
        if (e->nd < ws->lcap) {
            col = e->nd++;
        } else {
            col = evictable(e);
            if (col == SIZE_MAX)
                continue; /* cannot happen: D has room for 2k locked + the soft blocks */
            for (size_t u = 0; u < e->nu; ++u)
                if (ws->usrc[u] == 0 && ws->uidx[u] == col)
                    ws->uwant[u] = 1; /* not evictable twice */
            e->nlock--;
        }
        memcpy(ws->D + col * n, ws->V + (nk + i) * n, n * sizeof(double));
        ws->dval[col] = ws->theta[r];
        ws->dres[col] = ws->rb[r];
        ws->dtype[col] = D_LOCKED;
        e->nlock++;
    }
    /* The pending block moves down behind the kept columns. */
    if (nk != c)
        for (size_t p = 0; p < pb; ++p)
            memcpy(ws->V + (nk + p) * n, ws->V + (c + p) * n, n * sizeof(double));
    for (size_t j = 0; j < nk + pb; ++j)
        memset(ws->H + j * ws->hld, 0, (nk + pb) * sizeof(double));
    for (size_t j = 0; j < nk; ++j) {
        HH(e, j, j) = ws->theta[keep[j]];
        for (size_t p = 0; p < pb; ++p)
            HH(e, nk + p, j) = ws->Bs[p + keep[j] * pb];
    }
    e->cur = nk;
    e->t = nk + pb;
    e->analysed = 0;
}

/* The current best approximations of the wanted values, in output order, into
   pval/pbnd; returns how many (<= k) and the number converged in *nconv. */
static size_t progress_values(eng *e, size_t *nconv)
{
    kry_topk_ws *ws = e->ws;
    build_union(e, !e->vmode);
    *nconv = 0;
    for (size_t t = 0; t < e->nwant; ++t) {
        size_t u = ws->uord[t], r = ws->uidx[u];
        if (ws->usrc[u] == 0) {
            ws->pval[t] = ws->dval[r];
            ws->pbnd[t] = ws->dres[r];
            (*nconv)++;
        } else {
            ws->pval[t] = ws->theta[r];
            ws->pbnd[t] = ws->rb[r];
            *nconv += is_conv(e, ws->theta[r], ws->rb[r]);
        }
    }
    return e->nwant;
}

/* Calls the monitor; returns 1 when it asks to stop. */
static int monitor(eng *e)
{
    if (e->mon == NULL)
        return 0;
    kry_topk_progress p;
    memset(&p, 0, sizeof p);
    size_t nconv;
    p.nvals = progress_values(e, &nconv);
    p.phase = e->phase;
    p.restarts = e->restarts;
    p.matvecs = e->matvecs;
    p.k = e->k;
    p.nconv = nconv;
    p.nlocked = e->nlock;
    p.theta = e->ws->pval;
    p.bound = e->ws->pbnd;
    int stop = e->mon(e->monctx, &p) != 0;
    build_union(e, !e->vmode); /* restore the state the caller built */
    return stop;
}

/* Number of columns to keep at a restart with w unconverged wanted pairs among c. */
static size_t keep_count(const eng *e, size_t w, size_t c)
{
    size_t kp = w + (size_t)floor(e->keep * (double)(c > w ? c - w : 0));
    if (kp + 1 > c)
        kp = c > 0 ? c - 1 : 0;
    if (kp < w)
        kp = w; /* only when c <= w + 1: basis >= k + 2 prevents it */
    return kp;
}

/* A restart after analyse/build_union. The converged active wanted pairs (all active
   wanted ones with lock_all_wanted) are locked; of the rest, keep_all keeps every
   column, otherwise the unconverged wanted ones plus a buffer in priority order. */
static void do_restart(eng *e, int keep_all, int lock_all_wanted)
{
    kry_topk_ws *ws = e->ws;
    const size_t c = e->cur;
    size_t *ord = ws->ord, *keepl = ws->ord + c, *lockl = ws->uord + e->nwant;
    size_t nl = 0, nk = 0, wa_unconv = 0;
    /* Marks per Ritz index (in btmp): 2 lock, 1 wanted unconverged, 0 other. */
    double *mark = ws->btmp;
    for (size_t i = 0; i < c; ++i)
        mark[i] = 0.0;
    for (size_t u = 0; u < e->nu; ++u)
        if (ws->uwant[u] && ws->usrc[u] == 1) {
            size_t r = ws->uidx[u];
            if (lock_all_wanted || is_conv(e, ws->theta[r], ws->rb[r])) {
                mark[r] = 2.0;
            } else {
                mark[r] = 1.0;
                wa_unconv++;
            }
        }
    active_order(e, ord);
    for (size_t t = 0; t < c; ++t)
        if (mark[ord[t]] == 2.0)
            lockl[nl++] = ord[t];
    size_t kp = keep_all ? c - nl : keep_count(e, wa_unconv, c - nl);
    for (size_t t = 0; t < c && nk < kp; ++t)
        if (mark[ord[t]] != 2.0)
            keepl[nk++] = ord[t];
    restart(e, lockl, nl, keepl, nk);
}

/* The largest number of expanded columns allowed now. */
static size_t mlimit(const eng *e)
{
    size_t room = e->nglob > e->nd ? e->nglob - e->nd : 0;
    return e->m < room ? e->m : room;
}

/* Next check point after the basis reached `from` expanded columns. */
static size_t next_check(const eng *e, size_t from)
{
    size_t mlim = mlimit(e), ci = e->ci;
    if (ci == 0)
        ci = e->near ? 1 : e->m / 10 > 1 ? e->m / 10 : 1;
    size_t nc = from + ci;
    if (nc < e->k && e->nlock == 0)
        nc = e->k;
    return nc > mlim ? mlim : nc;
}

/* Distance of value x to the wanted set's boundary (the worst wanted locked value),
   positive when x does not beat it (LA: boundary - x, SA: x - boundary, LM:
   |boundary| - |x|; BE: the smaller of the distances to both boundaries). +Inf when
   fewer than k values are locked. Uses the union built last (locked values only). */
static double gap_to_wanted(const eng *e, double x)
{
    kry_topk_ws *ws = e->ws;
    if (e->nwant < e->k)
        return INFINITY;
    if (e->which == KRY_WHICH_BE) {
        /* The wanted set is ceil(k/2) values at the top and floor(k/2) at the bottom;
           in output order they alternate, so the last top and last bottom ones are
           the boundaries. */
        double g = INFINITY;
        for (size_t t = 0; t < e->nwant; ++t) {
            double v = ws->uval[ws->uord[t]];
            if (t + 2 >= e->nwant)
                g = fmin(g, t % 2 == 0 ? v - x : x - v);
        }
        return g;
    }
    double worst = ws->uval[ws->uord[e->nwant - 1]];
    switch (e->which) {
    case KRY_WHICH_LA: return worst - x;
    case KRY_WHICH_SA: return x - worst;
    default: return fabs(worst) - fabs(x);
    }
}

/* Whether the extreme Ritz value(s) at the wanted end(s) (both ends for LM and BE) have
   settled outside the wanted set: residual bound at most min(distance to the wanted
   set, verify_tol |A|) (see topk.h, "Multiplicity"). After analyse and build_union. */
static int extremes_settled(const eng *e)
{
    const kry_topk_ws *ws = e->ws;
    size_t ends[2] = {e->cur - 1, 0};
    int use[2] = {e->which != KRY_WHICH_SA, e->which != KRY_WHICH_LA};
    for (int s = 0; s < 2; ++s) {
        if (!use[s])
            continue;
        size_t r = ends[s];
        double g = fmax(gap_to_wanted(e, ws->theta[r]), e->tol * conv_scale(e, ws->theta[r]));
        if (!(ws->rb[r] <= fmin(g, e->vtol * e->anorm)))
            return 0;
    }
    return 1;
}

/* Runs a phase until its goal (see the file comment). */
static kry_status run_phase(eng *e, int *outcome)
{
    kry_topk_ws *ws = e->ws;
    size_t chk = next_check(e, e->cur);
    if (chk < e->t && e->t <= mlimit(e))
        chk = e->t; /* a warm block: its Rayleigh-Ritz step comes first */
    for (;;) {
        size_t mlim = mlimit(e);
        if (e->cur > mlim)
            mlim = e->cur;
        while (e->cur < mlim && e->cur < e->t && e->cur < chk) {
            if (e->matvecs >= e->budget) {
                if (e->cur > 0)
                    KRY_TRY(analyse(e));
                *outcome = PH_BUDGET;
                return KRY_OK;
            }
            KRY_TRY(expand_one(e));
        }
        if (e->cur == 0) { /* nothing left to expand into */
            *outcome = PH_DONE;
            return KRY_OK;
        }
        KRY_TRY(analyse(e));
        /* In a check phase the wanted set is that of the locked pairs alone: the
           compressed problem's Ritz values are compared with it, never merged. */
        build_union(e, !e->vmode);
        int full = e->cur >= mlim || e->exhausted;

        if (!e->vmode) {
            /* Near the end, check after every step (a dense eigensolve of at most
               basis x basis per step, against up to basis/10 extra matvecs). */
            e->near = e->nu >= e->k;
            for (size_t u = 0; u < e->nu && e->near; ++u)
                if (ws->uwant[u] && ws->usrc[u] == 1) {
                    size_t r = ws->uidx[u];
                    e->near = ws->rb[r] <= 1e4 * e->tol * conv_scale(e, ws->theta[r]);
                }
            /* Done when every wanted Ritz value has converged. With none of them in the
               basis (a main phase after a detected copy, everything wanted locked), the
               basis must first have shown that it holds nothing better: its extreme
               Ritz values settled, as in a check phase. */
            int done = e->nu >= e->k && e->nwa_conv == e->nwa &&
                       (e->nwa > 0 || extremes_settled(e));
            if (done || e->exhausted) {
                do_restart(e, 1, e->exhausted);
                *outcome = PH_DONE;
                return KRY_OK;
            }
            if (full) {
                e->restarts++;
                if (monitor(e)) {
                    *outcome = PH_USER;
                    return KRY_OK;
                }
                do_restart(e, 0, 0);
            }
            chk = next_check(e, e->cur);
            continue;
        }

        /* Check phase. Candidates: Ritz values that beat the wanted set by more than
           the tolerance. One whose interval [theta - rb, theta + rb] lies beyond the
           wanted set proves, by interlacing, that an eigenvalue was missed: back to the
           main sequence with it. */
        size_t ncand = 0, ncertain = 0;
        double *mark = ws->btmp;
        for (size_t i = 0; i < e->cur; ++i) {
            mark[i] = 0.0;
            double th = ws->theta[i], g = gap_to_wanted(e, th);
            if (!(g < -e->tol * conv_scale(e, th)))
                continue;
            ncand++;
            mark[i] = 1.0;
            if (ws->rb[i] < -g)
                ncertain++;
        }
        if (ncertain > 0) {
            *outcome = PH_FALLBACK; /* the candidates are marked in ws->btmp */
            return KRY_OK;
        }
        if (ncand == 0 || e->exhausted) {
            int settled = extremes_settled(e);
            if (settled || e->exhausted) {
                *outcome = PH_DONE;
                return KRY_OK;
            }
        }
        if (full) {
            e->restarts++;
            if (monitor(e)) {
                *outcome = PH_USER;
                return KRY_OK;
            }
            build_union(e, 0);
            do_restart(e, 0, 0);
        }
        chk = next_check(e, e->cur);
    }
}

/* Removes every column but the locked ones from D, keeping their order. */
static void drop_soft(eng *e)
{
    kry_topk_ws *ws = e->ws;
    size_t t = 0;
    for (size_t c = 0; c < e->nd; ++c) {
        if (ws->dtype[c] != D_LOCKED)
            continue;
        if (t != c) {
            memcpy(ws->D + t * e->n, ws->D + c * e->n, e->n * sizeof(double));
            ws->dval[t] = ws->dval[c];
            ws->dres[t] = ws->dres[c];
            ws->dtype[t] = D_LOCKED;
        }
        t++;
    }
    e->nd = t;
}

/* Starts a check sequence right after a main phase's keep-all restart (H[0:cur, 0:cur]
   diagonal, the pending rows hold the residual couplings): the resolved Ritz vectors of
   the main basis (see RESOLVED) become soft columns of D, then a fresh random vector
   orthogonal to D starts the check sequence in V. */
static kry_status start_check(eng *e)
{
    kry_topk_ws *ws = e->ws;
    const size_t c = e->cur, t = e->t;
    drop_soft(e);
    e->analysed = 0;
    build_union(e, 0);
    for (size_t j = 0; j < c && e->nd < ws->lcap; ++j) {
        double r2 = 0.0;
        for (size_t p = c; p < t; ++p)
            r2 += HH(e, p, j) * HH(e, p, j);
        if (!(sqrt(r2) <= RESOLVED * gap_to_wanted(e, HH(e, j, j))))
            continue;
        memcpy(ws->D + e->nd * e->n, ws->V + j * e->n, e->n * sizeof(double));
        ws->dtype[e->nd] = D_SOFT;
        ws->dval[e->nd] = ws->dres[e->nd] = 0.0;
        e->nd++;
    }
    e->cur = e->t = 0;
    e->exhausted = 0;
    e->near = 0;
    return fresh_vector(e);
}

/* After a check phase proved a missed eigenvalue: a new main sequence on the space
   orthogonal to the locked vectors, started from the sum of the candidate Ritz vectors
   of the check sequence (marked in btmp). A single vector, not the old sequence plus
   the candidates as a block: measured on P4, continuing the converged old sequence in
   a block of two costs twice the matvecs of a fresh single sequence (2113 vs 945). */
static kry_status restart_main(eng *e)
{
    kry_topk_ws *ws = e->ws;
    const size_t n = e->n, c = e->cur;
    memset(ws->Ssel, 0, c * sizeof(double));
    for (size_t i = 0; i < c; ++i)
        if (ws->btmp[i] != 0.0)
            for (size_t l = 0; l < c; ++l)
                ws->Ssel[l] += ws->S[l + i * c];
    rotate(ws, n, c, ws->Ssel, 1);
    drop_soft(e);
    e->vmode = 0;
    e->near = 0;
    e->cur = e->t = 0;
    int ok;
    KRY_TRY(orth_new_column(e, &ok));
    if (ok)
        e->t = 1;
    else
        KRY_TRY(fresh_vector(e));
    e->analysed = 0;
    return KRY_OK;
}

/* Writes the outputs from the locked pairs and (when analysed) the current Ritz
   pairs. Returns the number converged. */
static size_t assemble(eng *e, double *theta, double *vecs, size_t ldv, double *bound,
                       int *converged)
{
    kry_topk_ws *ws = e->ws;
    build_union(e, 1);
    size_t nconv = 0;
    for (size_t t = 0; t < e->k; ++t) {
        if (t >= e->nwant) {
            theta[t] = NAN;
            if (bound)
                bound[t] = INFINITY;
            if (converged)
                converged[t] = 0;
            if (vecs)
                memset(vecs + t * ldv, 0, e->n * sizeof(double));
            continue;
        }
        size_t u = ws->uord[t], r = ws->uidx[u];
        int cv;
        double th, bd;
        if (ws->usrc[u] == 0) {
            th = ws->dval[r];
            bd = ws->dres[r];
            cv = 1;
            if (vecs)
                memcpy(vecs + t * ldv, ws->D + r * e->n, e->n * sizeof(double));
        } else {
            th = ws->theta[r];
            bd = ws->rb[r];
            cv = is_conv(e, th, bd);
            if (vecs)
                cblas_dgemv(CblasColMajor, CblasNoTrans, (int)e->n, (int)e->cur, 1.0, ws->V,
                            (int)e->n, ws->S + r * e->cur, 1, 0.0, vecs + t * ldv, 1);
        }
        theta[t] = th;
        if (bound)
            bound[t] = bd;
        if (converged)
            converged[t] = cv;
        nconv += cv != 0;
    }
    return nconv;
}

/* The start: the warm vectors (orthonormalised; dependent ones dropped) as the pending
   block, or one random vector. */
static kry_status start_block(eng *e, const double *warm, size_t ldw, size_t nwarm)
{
    kry_topk_ws *ws = e->ws;
    e->cur = e->t = 0;
    for (size_t i = 0; i < nwarm && e->t < ws->bcap && e->t < e->nglob; ++i) {
        memcpy(ws->V + e->t * e->n, warm + i * ldw, e->n * sizeof(double));
        int ok;
        KRY_TRY(orth_new_column(e, &ok));
        if (ok)
            e->t++;
    }
    if (e->t > 0)
        return KRY_OK;
    double nrm;
    kry_vec_random(e->sp, e->n, e->seed, KRY_RNG_STREAM_START, ws->V);
    KRY_TRY(kry_orth_norm(e->sp, e->n, ws->V, &nrm));
    if (!(nrm > 0.0) || !isfinite(nrm))
        return KRY_ENONFINITE;
    kry_vec_scal(e->n, 1.0 / nrm, ws->V);
    e->t = 1;
    return KRY_OK;
}

static void fill_result(const eng *e, kry_topk_result *res, size_t nconv, kry_reason reason)
{
    if (res == NULL)
        return;
    res->nconv = nconv;
    res->matvecs = e->matvecs;
    res->verify_matvecs = e->vmatvecs;
    res->verify_rounds = e->vrounds;
    res->copies_found = e->copies;
    res->restarts = e->restarts;
    res->basis = e->m;
    res->nlocked = e->nlock;
    res->anorm = e->anorm;
    res->reason = reason;
}

kry_status kry_topk_solve(const kry_operator *op, size_t k, const kry_topk_params *params,
                          const double *warm, size_t ldw, size_t nwarm, kry_topk_ws *ws,
                          double *theta, double *vecs, size_t ldv, double *bound,
                          int *converged, kry_topk_result *res)
{
    if (res != NULL)
        memset(res, 0, sizeof *res);
    KRY_REQUIRE(ws != NULL && theta != NULL, KRY_EINVAL);
    KRY_TRY(kry_operator_check(op));
    kry_topk_params p = params ? *params : kry_topk_params_default();
    KRY_REQUIRE((int)p.which >= 0 && (int)p.which < KRY_WHICH_COUNT, KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.tol) && p.tol < 1.0, KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.keep_frac) && p.keep_frac < 1.0, KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.verify_tol) && isfinite(p.breakdown_tol), KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.reorth_tol) && p.reorth_tol < 1e-3, KRY_EINVAL);
    KRY_REQUIRE(nwarm == 0 || warm != NULL, KRY_EINVAL);
    const kry_space *sp = op->space;
    const size_t n = op->n;
    const size_t nglob = (sp != NULL && sp->n_global != 0) ? (size_t)sp->n_global : n;
    KRY_REQUIRE(k >= 1 && k <= nglob, KRY_EINVAL);
    KRY_REQUIRE(n == ws->n, KRY_EDIM);
    KRY_REQUIRE(k <= ws->kcap && nwarm <= ws->kcap, KRY_EDIM);
    size_t m = p.basis ? p.basis : default_basis(k);
    if (m > nglob)
        m = nglob;
    size_t mmin = k + 2 < nglob ? k + 2 : nglob;
    KRY_REQUIRE(m >= mmin, KRY_EINVAL);
    KRY_REQUIRE(m <= ws->mcap, KRY_EDIM);
    KRY_REQUIRE(vecs == NULL || ldv >= n, KRY_EDIM);
    KRY_REQUIRE(nwarm == 0 || ldw >= n, KRY_EDIM);
    KRY_REQUIRE(kry_fits_blas_int(n) && kry_fits_blas_int(ws->vcols) &&
                    kry_fits_blas_int(ws->lcap) && kry_fits_blas_int(ldv) &&
                    kry_fits_blas_int(ldw) && kry_fits_blas_int(ws->lcap + ws->vcols + 1),
                KRY_ERANGE);
    for (size_t i = 0; i < nwarm; ++i)
        KRY_REQUIRE(kry_vec_isfinite(n, warm + i * ldw), KRY_ENONFINITE);

    eng e;
    memset(&e, 0, sizeof e);
    e.op = op;
    e.sp = sp;
    e.ws = ws;
    e.n = n;
    e.nglob = nglob;
    e.k = k;
    e.m = m;
    e.which = p.which;
    e.tol = p.tol > 0.0 ? p.tol : 1e-8;
    e.keep = p.keep_frac > 0.0 ? p.keep_frac : 0.3;
    e.btol = p.breakdown_tol > 0.0 ? p.breakdown_tol : sqrt((double)nglob) * DBL_EPSILON;
    e.vtol = p.verify_tol > 0.0 ? p.verify_tol : 3e-3;
    e.sel_tau = p.reorth_tol > 0.0 ? p.reorth_tol : 1e-14;
    e.sel_kappa = 1e-3;
    e.ci = p.check_interval;
    e.seed = p.seed;
    e.mon = p.monitor;
    e.monctx = p.monitor_ctx;
    e.budget = p.max_matvecs ? p.max_matvecs : (100 * m > 2 * nglob ? 100 * m : 2 * nglob);

    kry_status st = start_block(&e, warm, ldw, nwarm);
    kry_reason reason = KRY_RUNNING;
    int outcome = PH_DONE;
    if (st != KRY_OK)
        goto fail;
    st = run_phase(&e, &outcome);
    if (st != KRY_OK)
        goto fail;
    /* Multiplicity check rounds (see topk.h): each runs a check sequence; a missed
       eigenvalue sends the solve back to the main sequence, after which another round
       follows. A round that finds nothing ends the solve. */
    size_t stalls = 0;
    while (outcome == PH_DONE && p.verify && !e.ever_exhausted && e.nd < nglob) {
        e.phase = 1;
        e.vmode = 1;
        e.vrounds++;
        st = start_check(&e);
        if (st != KRY_OK)
            goto fail;
        if (e.exhausted)
            break;
        st = run_phase(&e, &outcome);
        if (st != KRY_OK)
            goto fail;
        if (outcome != PH_FALLBACK)
            break; /* settled (nothing missed), or budget/monitor stop */
        size_t nlock0 = e.nlock;
        st = restart_main(&e);
        if (st != KRY_OK)
            goto fail;
        e.phase = 0;
        st = run_phase(&e, &outcome);
        if (st != KRY_OK)
            goto fail;
        if (e.nlock > nlock0) {
            e.copies += e.nlock - nlock0;
        } else if (++stalls >= 3) {
            break; /* cannot happen (interlacing proved a missed eigenvalue); a guard */
        }
    }
    if (e.vmode) {
        /* The compressed problem's Ritz values are never returned. */
        e.analysed = 0;
        e.vmode = 0;
    }
    drop_soft(&e);

    switch (outcome) {
    case PH_BUDGET: reason = KRY_STOPPED_MAXIT; break;
    case PH_USER: reason = KRY_STOPPED_USER; break;
    default: reason = e.ever_exhausted ? KRY_CONVERGED_INVARIANT : KRY_CONVERGED_TOL; break;
    }
    if (outcome == PH_DONE)
        e.analysed = 0; /* everything wanted is locked */
    size_t nconv = assemble(&e, theta, vecs, ldv, bound, converged);
    fill_result(&e, res, nconv, reason);
    if (reason == KRY_STOPPED_MAXIT && p.fail_if_not_converged)
        return KRY_ENOTCONV;
    return KRY_OK;
fail:
    fill_result(&e, res, 0, reason);
    return st;
}

/* ---- Solution checks ---- */

kry_status kry_topk_check_solution(const kry_operator *op, kry_topk_ws *ws, size_t k,
                                   const double *theta, const double *vecs, size_t ldv,
                                   const double *bound, double anorm, double *true_resid,
                                   kry_topk_check *out)
{
    KRY_REQUIRE(ws != NULL && theta != NULL && vecs != NULL && out != NULL && k >= 1,
                KRY_EINVAL);
    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(op->n == ws->n && ldv >= op->n && k <= ws->kcap, KRY_EDIM);
    KRY_REQUIRE(kry_fits_blas_int(op->n) && kry_fits_blas_int(ldv) && kry_fits_blas_int(k),
                KRY_ERANGE);
    const size_t n = op->n;
    const kry_space *sp = op->space;
    memset(out, 0, sizeof *out);
    if (!(anorm > 0.0))
        for (size_t i = 0; i < k; ++i)
            anorm = fmax(anorm, fabs(theta[i]));
    double *w = ws->V, *c = ws->coef;
    for (size_t i = 0; i < k; ++i) {
        const double *y = vecs + i * ldv;
        KRY_TRY(kry_vec_gemv_t(sp, n, i + 1, vecs, ldv, y, c));
        for (size_t l = 0; l <= i; ++l)
            out->orth = fmax(out->orth, fabs(c[l] - (l == i ? 1.0 : 0.0)));
        double ynorm = sqrt(fmax(c[i], 0.0));
        KRY_TRY(kry_operator_apply(op, y, w));
        out->matvecs++;
        kry_vec_axpy(n, -theta[i], y, w);
        double r;
        KRY_TRY(kry_vec_nrm2(sp, n, w, &r));
        if (ynorm > 0.0)
            r /= ynorm;
        if (true_resid)
            true_resid[i] = r;
        out->max_resid = fmax(out->max_resid, r);
        double scale = fmax(fabs(theta[i]), pow(DBL_EPSILON, 2.0 / 3.0) * anorm);
        if (scale > 0.0)
            out->max_rel_resid = fmax(out->max_rel_resid, r / scale);
        if (bound) {
            double bd = fmax(bound[i], DBL_EPSILON * fmax(fabs(theta[i]), DBL_MIN));
            out->max_ratio = fmax(out->max_ratio, r / bd);
        }
    }
    return KRY_OK;
}
