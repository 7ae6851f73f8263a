/* topk.c — top-k eigenpairs by thick-restart Lanczos (Krylov-Schur for symmetric A)
   with locking, a multiplicity check, warm starts, a monitor and solution checks.
   The contract and the design choices are documented in include/kry/topk.h.

   Structure. An "engine" (struct eng) holds the state of one solve: the active basis
   V (ws->V) with the projected matrix H and the coupling b of the next vector, and the
   deflation block D (ws->D) of locked eigenvectors and, during a multiplicity check,
   "soft" vectors (the previous sequence's basis) that the new sequence is kept
   orthogonal to. A phase expands V one matvec at a time (expand_one), checks the
   Ritz pairs (analyse, decide), restarts (restart: lock + keep + rotate), until its
   goal is met:
   - main phase: all wanted pairs converged (run_phase with vmode = 0);
   - check phase: a sequence from a fresh random vector on the space orthogonal to D
     (vmode = 1, the coupling C = D^T A V tracked so that residuals are those of A);
     pairs that beat the wanted set and converge are locked (missed copies); it ends
     once its extreme Ritz value has settled below the wanted set.

   References: Wu & Simon 2000 (SIAM J. Matrix Anal. Appl. 22, thick-restart Lanczos);
   Stewart 2001 (SIAM J. Matrix Anal. Appl. 23, the Krylov-Schur algorithm); Hernandez,
   Roman & Tomas 2007 (SLEPc technical report STR-7, Krylov-Schur in SLEPc: locking and
   the keep fraction); Lehoucq, Sorensen & Yang 1998 (ARPACK Users' Guide, the relative
   convergence test); Parlett, "The Symmetric Eigenvalue Problem", ch. 13 (multiple
   eigenvalues and Krylov spaces); Stathopoulos & McCombs 2010 (ACM TOMS 37, PRIMME:
   solution checks). */
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

/* Kinds of deflation columns (ws->dtype). */
enum { D_LOCKED = 1, D_SOFT_MAIN = 2, D_SOFT_CHECK = 3 };

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
    size_t n, kcap, mcap, lcap;
    double *V;                 /* n x (mcap + 1) */
    double *D;                 /* n x lcap */
    double *dval, *dres;       /* lcap */
    unsigned char *dtype;      /* lcap: D_LOCKED, D_SOFT_MAIN or D_SOFT_CHECK */
    double *H;                 /* mcap x mcap, ld mcap */
    double *A;                 /* mcap x mcap, dsyevr input */
    double *S;                 /* mcap x mcap, eigenvectors (ld = current size) */
    double *Ssel;              /* mcap x mcap, selected eigenvectors */
    double *theta, *b, *rb, *ra, *btmp; /* mcap */
    double *C;                 /* lcap x (mcap + 1), ld lcap: D^T A V */
    double *Ct;                /* lcap x mcap */
    double *coef, *coef2;      /* lcap + mcap + 1 */
    double *rot;               /* ROWBLK x mcap */
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

/* Total doubles (and small-int bytes) of a workspace, 0 on overflow. */
static size_t ws_bytes(size_t n, size_t kcap, size_t mcap, size_t *lcap_out)
{
    if (n == 0 || kcap == 0 || mcap == 0 || kcap > SIZE_MAX / 8 || mcap > SIZE_MAX / 64)
        return 0;
    size_t lcap = 2 * kcap + 2 * (mcap + 1), t, dbl = 0;
    if (lcap_out)
        *lcap_out = lcap;
    size_t cols = mcap + 1 + lcap;
    if (!mul_ok(n, cols, &t))
        return 0;
    dbl = t;
    size_t m2;
    if (!mul_ok(mcap, mcap, &m2) || m2 > SIZE_MAX / 8)
        return 0;
    size_t lm;
    if (!mul_ok(lcap, 2 * mcap + 1, &lm))
        return 0;
    size_t small = 4 * m2 + 5 * mcap + lm + 2 * (lcap + mcap + 1) + ROWBLK * mcap +
                   26 * mcap + 2 * lcap + (lcap + mcap) + 2 * kcap;
    if (dbl > SIZE_MAX / 8 - small)
        return 0;
    dbl += small;
    size_t bytes = dbl * sizeof(double) + 12 * mcap * sizeof(lapack_int) +
                   4 * (lcap + mcap) * sizeof(size_t) + 2 * (lcap + mcap) + lcap +
                   sizeof(struct kry_topk_ws);
    return bytes;
}

size_t kry_topk_ws_bytes(size_t n, size_t kmax, size_t mmax)
{
    return ws_bytes(n, kmax, mmax ? mmax : default_basis(kmax), NULL);
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
    free(ws->b);
    free(ws->rb);
    free(ws->ra);
    free(ws->btmp);
    free(ws->C);
    free(ws->Ct);
    free(ws->coef);
    free(ws->coef2);
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
    size_t mcap = mmax ? mmax : default_basis(kmax), lcap = 0;
    if (ws_bytes(n, kmax, mcap, &lcap) == 0)
        return NULL;
    kry_topk_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->n = n;
    ws->kcap = kmax;
    ws->mcap = mcap;
    ws->lcap = lcap;
    const size_t d = sizeof(double), u = lcap + mcap;
    ws->V = malloc(n * (mcap + 1) * d);
    ws->D = malloc(n * lcap * d);
    ws->dval = malloc(lcap * d);
    ws->dres = malloc(lcap * d);
    ws->dtype = malloc(lcap);
    ws->H = malloc(mcap * mcap * d);
    ws->A = malloc(mcap * mcap * d);
    ws->S = malloc(mcap * mcap * d);
    ws->Ssel = malloc(mcap * mcap * d);
    ws->theta = malloc(mcap * d);
    ws->b = malloc(mcap * d);
    ws->rb = malloc(mcap * d);
    ws->ra = malloc(mcap * d);
    ws->btmp = malloc(mcap * d);
    ws->C = malloc(lcap * (mcap + 1) * d);
    ws->Ct = malloc(lcap * mcap * d);
    ws->coef = malloc((u + 1) * d);
    ws->coef2 = malloc((u + 1) * d);
    ws->rot = malloc((size_t)ROWBLK * mcap * d);
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
        !ws->S || !ws->Ssel || !ws->theta || !ws->b || !ws->rb || !ws->ra || !ws->btmp ||
        !ws->C || !ws->Ct || !ws->coef || !ws->coef2 || !ws->rot || !ws->work ||
        !ws->iwork || !ws->isuppz || !ws->uval || !ws->uidx || !ws->uord || !ws->ord ||
        !ws->usrc || !ws->uwant || !ws->pval || !ws->pbnd) {
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
    size_t cur;       /* active columns with H computed; V[:, cur] is the next vector */
    int vmode;        /* check phase: track C = D^T A V */
    int exhausted;    /* D and V span the whole space: no next vector */
    int ever_exhausted;
    int phase;
    double anorm;

    /* Results of the last analyse/decide (valid while `analysed`). */
    int analysed;
    size_t nu;        /* union size */
    size_t nwant;     /* wanted entries in the union (min(k, nu)) */
    size_t nwa, nwa_conv; /* active wanted, converged among them */
} eng;

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

/* A fresh random unit vector in V[:, col], orthogonal to D and V[:, 0:col]. Sets
   e->exhausted when none can be found (the space is spanned). */
static kry_status fresh_vector(eng *e, size_t col)
{
    kry_topk_ws *ws = e->ws;
    const size_t n = e->n;
    double *w = ws->V + col * n;
    if (e->nd + col >= e->nglob) {
        memset(w, 0, n * sizeof(double));
        e->exhausted = e->ever_exhausted = 1;
        return KRY_OK;
    }
    kry_vec_random(e->sp, n, e->seed + e->nfresh, KRY_RNG_STREAM_RESTART, w);
    e->nfresh++;
    kry_orth_basis ob = {ws->D, n, e->nd, ws->V, n, col};
    double n0, n1;
    KRY_TRY(kry_orth_cgs(e->sp, n, &ob, KRY_ORTH_TWO, 0.0, w, ws->coef, ws->coef2, &n0, &n1,
                         NULL));
    if (n1 < 1e-3 * n0) { /* mostly in the span: one more pass decides */
        double n2;
        KRY_TRY(kry_orth_cgs(e->sp, n, &ob, KRY_ORTH_ONE, 0.0, w, ws->coef, ws->coef2, NULL,
                             &n2, NULL));
        if (!(n2 > 1e-3 * n1) || !(n2 > 0.0)) {
            memset(w, 0, n * sizeof(double));
            e->exhausted = e->ever_exhausted = 1;
            return KRY_OK;
        }
        n1 = n2;
    }
    kry_vec_scal(n, 1.0 / n1, w);
    return KRY_OK;
}

/* One expansion step j = cur: w = A v_j minus the known couplings, alpha_j, full
   reorthogonalisation against D and V, then v_{j+1} (or a fresh vector at breakdown). */
static kry_status expand_one(eng *e)
{
    kry_topk_ws *ws = e->ws;
    const size_t n = e->n, j = e->cur, ld = ws->mcap;
    double *v = ws->V + j * n, *w = v + n, *b = ws->b, *H = ws->H;
    KRY_TRY(apply(e, v, w));
    e->analysed = 0;
    double bmax = 0.0;
    size_t first = j;
    for (size_t i = 0; i < j; ++i) {
        H[i + j * ld] = H[j + i * ld] = b[i];
        if (b[i] != 0.0 && first == j)
            first = i;
        bmax = fmax(bmax, fabs(b[i]));
    }
    if (first + 1 == j)
        kry_vec_axpy(n, -b[j - 1], ws->V + (j - 1) * n, w);
    else if (first < j)
        kry_vec_gemv_n(n, j - first, -1.0, ws->V + first * n, n, b + first, w);
    double a;
    KRY_TRY(kry_vec_dot(e->sp, n, v, w, &a));
    kry_vec_axpy(n, -a, v, w);
    kry_orth_basis ob = {ws->D, n, e->nd, ws->V, n, j + 1};
    double nin, nout;
    KRY_TRY(kry_orth_cgs_sel(e->sp, n, &ob, e->sel_tau, e->sel_kappa, w, ws->coef,
                             ws->coef2, &nin, &nout, NULL));
    a += ws->coef[e->nd + j];
    H[j + j * ld] = a;
    if (e->vmode)
        for (size_t i = 0; i < e->nd; ++i)
            ws->C[i + j * ws->lcap] = ws->coef[i];
    memset(b, 0, (j + 1) * sizeof(double));
    e->cur = j + 1;
    if (e->nd + e->cur >= e->nglob) { /* the space is spanned: no next vector */
        memset(w, 0, n * sizeof(double));
        e->exhausted = e->ever_exhausted = 1;
        return KRY_OK;
    }
    double scale = fmax(e->anorm, fmax(fabs(a), bmax));
    if (nout > e->btol * scale) {
        kry_vec_scal(n, 1.0 / nout, w);
        b[j] = nout;
        return KRY_OK;
    }
    return fresh_vector(e, e->cur); /* breakdown: b stays 0, a new sequence starts */
}

/* Ritz pairs of H (cur x cur): theta ascending, S (ld cur), bounds rb = |b^T s_i| and,
   in a check phase, ra = sqrt(rb^2 + |C s_i|^2) (the residual of A, not of the
   compression); otherwise ra = rb. Updates the |A| estimate. */
static kry_status analyse(eng *e)
{
    kry_topk_ws *ws = e->ws;
    const size_t c = e->cur, ld = ws->mcap;
    for (size_t j = 0; j < c; ++j)
        memcpy(ws->A + j * c, ws->H + j * ld, (j + 1) * sizeof(double));
    lapack_int found = 0;
    lapack_int info = LAPACKE_dsyevr_work(
        LAPACK_COL_MAJOR, 'V', 'A', 'U', (lapack_int)c, ws->A, (lapack_int)c, 0.0, 0.0, 0, 0,
        0.0, &found, ws->theta, ws->S, (lapack_int)c, ws->isuppz, ws->work,
        (lapack_int)(26 * ws->mcap), ws->iwork, (lapack_int)(10 * ws->mcap));
    if (info != 0 || (size_t)found != c)
        return KRY_ELAPACK;
    for (size_t i = 0; i < c; ++i) {
        double s = 0.0;
        for (size_t l = 0; l < c; ++l)
            s += ws->b[l] * ws->S[l + i * c];
        ws->rb[i] = fabs(s);
        ws->ra[i] = ws->rb[i];
    }
    e->anorm = fmax(e->anorm, fmax(fabs(ws->theta[0]), fabs(ws->theta[c - 1])));
    if (e->vmode && e->nd > 0) {
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)e->nd, (int)c, (int)c,
                    1.0, ws->C, (int)ws->lcap, ws->S, (int)c, 0.0, ws->Ct, (int)ws->lcap);
        for (size_t i = 0; i < c; ++i) {
            double s2 = ws->rb[i] * ws->rb[i];
            for (size_t l = 0; l < e->nd; ++l)
                s2 += ws->Ct[l + i * ws->lcap] * ws->Ct[l + i * ws->lcap];
            ws->ra[i] = sqrt(s2);
        }
    }
    e->analysed = 1;
    return KRY_OK;
}

/* The union of locked values (source 0, index = D column) and the current Ritz values
   (source 1, index = Ritz index; only when analysed), and its wanted set. Fills
   ws->uval/usrc/uidx/uwant and ws->uord[0..nwant) (wanted, output order). */
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
            if (is_conv(e, ws->theta[r], ws->ra[r]))
                e->nwa_conv++;
        }
}

/* Active Ritz indices in priority order into ord[0..cur): wanted ones first. */
static void active_order(eng *e, size_t *ord)
{
    kry_topk_ws *ws = e->ws;
    const size_t c = e->cur;
    if (e->which != KRY_WHICH_BE) {
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
            size_t r = ws->uidx[i];
            /* A wanted Ritz value belongs to the top quota when it is in the upper half
               of the active values it was picked from. */
            if (2 * r + 1 >= c)
                tq++;
            else
                bq++;
        }
    size_t lo = 0, hi = c, t = 0;
    while (tq > 0 || bq > 0) {
        if (tq > 0 && lo < hi) {
            ord[t++] = --hi;
            tq--;
        }
        if (bq > 0 && lo < hi) {
            ord[t++] = lo++;
            bq--;
        }
        if (lo >= hi)
            break;
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
    size_t best = SIZE_MAX;
    double bv = 0.0;
    for (size_t i = 0; i < e->nu; ++i)
        if (ws->usrc[i] == 0 && !ws->uwant[i]) {
            double v = ws->uval[i];
            kry_which w = e->which == KRY_WHICH_BE ? KRY_WHICH_LA : e->which;
            if (best == SIZE_MAX || before(w, bv, v)) {
                best = ws->uidx[i];
                bv = v;
            }
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

/* Restart after analyse/build_union: lock the listed Ritz indices lock[0..nl) (moved
   into D), keep keep[0..nk) (in that order) as the new arrow block, the residual vector
   next. */
static void restart(eng *e, const size_t *lock, size_t nl, const size_t *keep, size_t nk)
{
    kry_topk_ws *ws = e->ws;
    const size_t n = e->n, c = e->cur, ld = ws->mcap, q = nk + nl;
    for (size_t i = 0; i < nk; ++i)
        memcpy(ws->Ssel + i * c, ws->S + keep[i] * c, c * sizeof(double));
    for (size_t i = 0; i < nl; ++i)
        memcpy(ws->Ssel + (nk + i) * c, ws->S + lock[i] * c, c * sizeof(double));
    if (q > 0)
        rotate(ws, n, c, ws->Ssel, q);
    /* Coupling of the kept block to D (check phase): C S_kept. */
    if (e->vmode && e->nd > 0 && nk > 0) {
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)e->nd, (int)nk, (int)c,
                    1.0, ws->C, (int)ws->lcap, ws->Ssel, (int)c, 0.0, ws->Ct, (int)ws->lcap);
        for (size_t j = 0; j < nk; ++j)
            memcpy(ws->C + j * ws->lcap, ws->Ct + j * ws->lcap, e->nd * sizeof(double));
    }
    /* Lock: copy into D (append, or overwrite an unwanted locked column when full). */
    for (size_t i = 0; i < nl; ++i) {
        size_t r = lock[i], col;
        if (e->nd < ws->lcap) {
            col = e->nd++;
            if (e->vmode)
                for (size_t j = 0; j < nk; ++j)
                    ws->C[col + j * ws->lcap] = 0.0; /* y_l ^T A y_kept = 0 */
        } else {
            col = evictable(e);
            if (col == SIZE_MAX)
                continue; /* cannot happen: D has room for 2k locked + the soft blocks */
            for (size_t u = 0; u < e->nu; ++u)
                if (ws->usrc[u] == 0 && ws->uidx[u] == col)
                    ws->uwant[u] = 1; /* not evictable twice */
            e->nlock--;
            if (e->vmode)
                for (size_t j = 0; j < nk; ++j)
                    ws->C[col + j * ws->lcap] = 0.0;
        }
        memcpy(ws->D + col * n, ws->V + (nk + i) * n, n * sizeof(double));
        ws->dval[col] = ws->theta[r];
        ws->dres[col] = ws->ra[r];
        ws->dtype[col] = D_LOCKED;
        e->nlock++;
    }
    /* New coupling b_i = b^T s_i for the kept vectors; H = diag(theta_kept). */
    for (size_t i = 0; i < nk; ++i) {
        double s = 0.0;
        for (size_t l = 0; l < c; ++l)
            s += ws->b[l] * ws->Ssel[l + i * c];
        ws->btmp[i] = s;
    }
    if (nk != c)
        memcpy(ws->V + nk * n, ws->V + c * n, n * sizeof(double));
    for (size_t j = 0; j < nk; ++j) {
        memset(ws->H + j * ld, 0, nk * sizeof(double));
        ws->H[j + j * ld] = ws->theta[keep[j]];
    }
    memcpy(ws->b, ws->btmp, nk * sizeof(double));
    e->cur = nk;
    e->analysed = 0;
}

/* The current best approximations of the wanted values, in output order, into
   pval/pbnd; returns how many (<= k) and the number converged in *nconv. */
static size_t progress_values(eng *e, size_t *nconv)
{
    kry_topk_ws *ws = e->ws;
    build_union(e, !e->vmode);
    size_t c = 0;
    *nconv = 0;
    for (size_t t = 0; t < e->nwant; ++t) {
        size_t u = ws->uord[t], r = ws->uidx[u];
        if (ws->usrc[u] == 0) {
            ws->pval[t] = ws->dval[r];
            ws->pbnd[t] = ws->dres[r];
            (*nconv)++;
        } else {
            ws->pval[t] = ws->theta[r];
            ws->pbnd[t] = ws->ra[r];
            *nconv += is_conv(e, ws->theta[r], ws->ra[r]);
        }
        c++;
    }
    return c;
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

/* Number of columns to keep at a restart with w unconverged wanted pairs. */
static size_t keep_count(const eng *e, size_t w, size_t c)
{
    size_t kp = w + (size_t)ceil(e->keep * (double)(c > w ? c - w : 0));
    if (kp + 1 > c)
        kp = c > 0 ? c - 1 : 0;
    if (kp < w)
        kp = w; /* c > w always holds: basis >= k + 2 */
    return kp;
}

/* A restart after analyse/build_union. The converged active wanted pairs (all active
   wanted ones with lock_all_wanted) are locked; of the rest, keep_all keeps every
   column, otherwise the unconverged wanted ones plus a buffer in priority order
   (keep_count). */
static void do_restart(eng *e, int keep_all, int lock_all_wanted)
{
    kry_topk_ws *ws = e->ws;
    const size_t c = e->cur;
    size_t *ord = ws->ord, *keepl = ws->ord + c, *lockl = ws->uord + e->nwant;
    size_t nl = 0, nk = 0, wa_unconv = 0;
    /* Marks per Ritz index (in btmp, c <= mcap): 2 lock, 1 wanted unconverged, 0 other. */
    double *mark = ws->btmp;
    for (size_t i = 0; i < c; ++i)
        mark[i] = 0.0;
    for (size_t u = 0; u < e->nu; ++u)
        if (ws->uwant[u] && ws->usrc[u] == 1) {
            size_t r = ws->uidx[u];
            if (lock_all_wanted || is_conv(e, ws->theta[r], ws->ra[r])) {
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

/* Next check point after the basis reached `from` columns. */
static size_t next_check(const eng *e, size_t from, size_t mlim)
{
    size_t ci = e->ci;
    if (ci == 0) {
        ci = (mlim > from ? mlim - from : 1) / 6;
        if (ci < 1)
            ci = 1;
    }
    size_t nc = from + ci;
    if (nc < e->k && e->nlock == 0)
        nc = e->k;
    return nc > mlim ? mlim : nc;
}

/* The largest active basis allowed now. */
static size_t mlimit(const eng *e)
{
    size_t room = e->nglob > e->nd ? e->nglob - e->nd : 0;
    return e->m < room ? e->m : room;
}

/* Distance of value x to the wanted set's boundary, positive when x does not beat it
   (LA: boundary - x, SA: x - boundary, LM: |boundary| - |x|; BE per end). Returns
   +Inf when the wanted set is not full. */
static double gap_to_wanted(const eng *e, double x)
{
    kry_topk_ws *ws = e->ws;
    if (e->nwant < e->k)
        return INFINITY;
    double best = INFINITY;
    /* The boundary values: the worst wanted locked value (per end for BE). */
    double worst = NAN;
    for (size_t u = 0; u < e->nu; ++u) {
        if (!ws->uwant[u] || ws->usrc[u] != 0)
            continue;
        double v = ws->uval[u];
        if (isnan(worst) || before(e->which == KRY_WHICH_BE ? KRY_WHICH_LA : e->which,
                                   worst, v))
            worst = v;
    }
    if (isnan(worst))
        return INFINITY;
    switch (e->which) {
    case KRY_WHICH_LA: best = worst - x; break;
    case KRY_WHICH_SA: best = x - worst; break;
    case KRY_WHICH_LM: best = fabs(worst) - fabs(x); break;
    default: {
        /* BE: the wanted set is ceil(k/2) values at the top and floor(k/2) at the
           bottom; x must not exceed the smallest top one nor undercut the largest
           bottom one. Sorting the wanted locked values gives both boundaries. */
        size_t top = (e->k + 1) / 2, bot = e->k / 2, cnt = 0;
        double *tmpv = ws->pval; /* kcap scratch */
        for (size_t u = 0; u < e->nu && cnt < e->k; ++u)
            if (ws->uwant[u] && ws->usrc[u] == 0)
                tmpv[cnt++] = ws->uval[u];
        for (size_t i = 1; i < cnt; ++i)
            for (size_t j = i; j > 0 && tmpv[j] < tmpv[j - 1]; --j) {
                double t = tmpv[j];
                tmpv[j] = tmpv[j - 1];
                tmpv[j - 1] = t;
            }
        double g = INFINITY;
        if (top > 0 && cnt >= top)
            g = fmin(g, tmpv[cnt - top] - x);
        if (bot > 0 && cnt >= bot)
            g = fmin(g, x - tmpv[bot - 1]);
        best = g;
    }
    }
    return best;
}

/* Runs a phase until its goal (see the file comment). */
static kry_status run_phase(eng *e, int *outcome)
{
    kry_topk_ws *ws = e->ws;
    size_t mlim = mlimit(e);
    size_t chk = next_check(e, e->cur, mlim);
    for (;;) {
        mlim = mlimit(e);
        if (e->cur > mlim)
            mlim = e->cur;
        while (e->cur < mlim && !e->exhausted && e->cur < chk) {
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
            if ((e->nu >= e->k && e->nwa_conv == e->nwa) || e->exhausted) {
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
            chk = next_check(e, e->cur, mlimit(e));
            continue;
        }

        /* Check phase. Candidates: Ritz values that beat the wanted set by more than
           the tolerance. A converged one (residual of A) is locked at once; one whose
           interval [theta - rb, theta + rb] lies beyond the wanted set proves, by
           interlacing, that an eigenvalue was missed: hand over to a main phase. */
        size_t ncand = 0, nlockable = 0, ncertain = 0;
        double *mark = ws->btmp;
        for (size_t i = 0; i < e->cur; ++i)
            mark[i] = 0.0;
        for (size_t i = 0; i < e->cur; ++i) {
            double th = ws->theta[i];
            double g = gap_to_wanted(e, th);
            if (!(g < -e->tol * conv_scale(e, th)))
                continue;
            ncand++;
            mark[i] = 1.0;
            if (is_conv(e, th, ws->ra[i])) {
                mark[i] = 2.0;
                nlockable++;
            } else if (ws->rb[i] < -g) {
                ncertain++;
            }
        }
        if (nlockable > 0) {
            /* Lock them: a keep-all restart with only these locked. */
            size_t *lockl = ws->uord + ws->lcap, *keepl = ws->ord + ws->mcap, nl = 0, nk = 0;
            active_order(e, ws->ord);
            for (size_t t = 0; t < e->cur; ++t) {
                size_t r = ws->ord[t];
                if (mark[r] == 2.0)
                    lockl[nl++] = r;
                else
                    keepl[nk++] = r;
            }
            restart(e, lockl, nl, keepl, nk);
            e->copies += nl;
            chk = next_check(e, e->cur, mlimit(e));
            continue;
        }
        if (ncertain > 0) {
            *outcome = PH_FALLBACK; /* the candidates are marked in ws->btmp */
            return KRY_OK;
        }
        if (ncand == 0) {
            /* Settled when the extreme Ritz value(s) at the wanted end(s) have a
               residual bound below verify_tol times their distance to the wanted set. */
            int settled = 1;
            size_t ends[2] = {e->cur - 1, 0};
            int use[2] = {e->which != KRY_WHICH_SA, e->which != KRY_WHICH_LA};
            for (int t = 0; t < 2; ++t) {
                if (!use[t])
                    continue;
                size_t r = ends[t];
                double g = gap_to_wanted(e, ws->theta[r]);
                g = fmax(g, e->tol * conv_scale(e, ws->theta[r]));
                if (!(ws->rb[r] <= e->vtol * g))
                    settled = 0;
            }
            if (settled || e->exhausted) {
                *outcome = PH_DONE;
                return KRY_OK;
            }
        } else if (e->exhausted) {
            *outcome = PH_DONE; /* exact but unconvergeable: cannot happen */
            return KRY_OK;
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
        chk = next_check(e, e->cur, mlimit(e));
    }
}

/* Removes the deflation columns of kind `kind` (or every soft column with kind 0)
   from D, keeping the others in order. */
static void drop_soft(eng *e, int kind)
{
    kry_topk_ws *ws = e->ws;
    size_t t = 0;
    for (size_t c = 0; c < e->nd; ++c) {
        int d = ws->dtype[c];
        if (d != D_LOCKED && (kind == 0 || d == kind))
            continue;
        if (t != c) {
            memcpy(ws->D + t * e->n, ws->D + c * e->n, e->n * sizeof(double));
            ws->dval[t] = ws->dval[c];
            ws->dres[t] = ws->dres[c];
            ws->dtype[t] = (unsigned char)d;
        }
        t++;
    }
    e->nd = t;
}

/* Moves the active basis V[:, 0:cur+1] into D as soft columns of kind `kind`, and
   starts a new sequence from a fresh random vector orthogonal to D. */
static kry_status start_check(eng *e, int kind)
{
    kry_topk_ws *ws = e->ws;
    size_t cols = e->cur + (e->exhausted ? 0 : 1);
    if (e->nd + cols > ws->lcap)
        cols = ws->lcap - e->nd; /* cannot happen: lcap = 2k + 2(m + 1) */
    for (size_t j = 0; j < cols; ++j) {
        memcpy(ws->D + (e->nd + j) * e->n, ws->V + j * e->n, e->n * sizeof(double));
        ws->dtype[e->nd + j] = (unsigned char)kind;
        ws->dval[e->nd + j] = 0.0;
        ws->dres[e->nd + j] = 0.0;
    }
    e->nd += cols;
    e->cur = 0;
    e->exhausted = 0;
    e->analysed = 0;
    memset(ws->b, 0, ws->mcap * sizeof(double));
    return fresh_vector(e, 0);
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
            bd = ws->ra[r];
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

/* The start vector in V[:, 0]: the sum of the normalised warm vectors, or random. */
static kry_status start_vector(eng *e, const double *warm, size_t ldw, size_t nwarm)
{
    kry_topk_ws *ws = e->ws;
    double *v = ws->V;
    const size_t n = e->n;
    double nrm = 0.0;
    if (nwarm > 0) {
        memset(v, 0, n * sizeof(double));
        for (size_t i = 0; i < nwarm; ++i) {
            double c;
            KRY_TRY(kry_vec_nrm2(e->sp, n, warm + i * ldw, &c));
            if (c > 0.0)
                kry_vec_axpy(n, 1.0 / c, warm + i * ldw, v);
        }
        KRY_TRY(kry_vec_nrm2(e->sp, n, v, &nrm));
    }
    if (!(nrm > 0.0)) {
        kry_vec_random(e->sp, n, e->seed, KRY_RNG_STREAM_START, v);
        KRY_TRY(kry_vec_nrm2(e->sp, n, v, &nrm));
    }
    if (!(nrm > 0.0) || !isfinite(nrm))
        return KRY_ENONFINITE;
    kry_vec_scal(n, 1.0 / nrm, v);
    memset(ws->b, 0, ws->mcap * sizeof(double));
    e->cur = 0;
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
    KRY_REQUIRE(k <= ws->kcap, KRY_EDIM);
    size_t m = p.basis ? p.basis : default_basis(k);
    if (m > nglob)
        m = nglob;
    size_t mmin = k + 2 < nglob ? k + 2 : nglob;
    KRY_REQUIRE(m >= mmin, KRY_EINVAL);
    KRY_REQUIRE(m <= ws->mcap, KRY_EDIM);
    KRY_REQUIRE(vecs == NULL || ldv >= n, KRY_EDIM);
    KRY_REQUIRE(nwarm == 0 || ldw >= n, KRY_EDIM);
    KRY_REQUIRE(kry_fits_blas_int(n) && kry_fits_blas_int(ws->mcap + 1) &&
                    kry_fits_blas_int(ws->lcap) && kry_fits_blas_int(ldv) &&
                    kry_fits_blas_int(ws->lcap + ws->mcap + 1),
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
    e.keep = p.keep_frac > 0.0 ? p.keep_frac : 0.5;
    e.btol = p.breakdown_tol > 0.0 ? p.breakdown_tol : sqrt((double)nglob) * DBL_EPSILON;
    e.vtol = p.verify_tol > 0.0 ? p.verify_tol : 0.1;
    e.ci = p.check_interval;
    e.sel_tau = p.reorth_tol > 0.0 ? p.reorth_tol : 1e-14;
    e.sel_kappa = 1e-3;
    e.seed = p.seed;
    e.mon = p.monitor;
    e.monctx = p.monitor_ctx;
    e.budget = p.max_matvecs ? p.max_matvecs : (100 * m > 2 * nglob ? 100 * m : 2 * nglob);

    kry_status st = start_vector(&e, warm, ldw, nwarm);
    kry_reason reason = KRY_RUNNING;
    int outcome = PH_DONE;
    if (st != KRY_OK)
        goto fail;
    e.phase = 0;
    st = run_phase(&e, &outcome);
    if (st != KRY_OK)
        goto fail;
    /* Multiplicity check rounds: the first deflates the main sequence's final basis,
       later ones also the previous round's basis (see topk.h). */
    int kind = D_SOFT_MAIN;
    while (outcome == PH_DONE && p.verify && !e.ever_exhausted && e.nd < nglob) {
        e.phase = 1;
        e.vmode = 1;
        e.vrounds++;
        size_t copies0 = e.copies;
        drop_soft(&e, D_SOFT_CHECK);
        st = start_check(&e, kind);
        if (st != KRY_OK)
            goto fail;
        kind = D_SOFT_CHECK;
        if (e.exhausted)
            break;
        st = run_phase(&e, &outcome);
        if (st != KRY_OK)
            goto fail;
        if (outcome == PH_FALLBACK) {
            /* An eigenvalue beating the wanted set was missed. Restart the main solve
               on the space orthogonal to the locked vectors only, from the sum of the
               candidate Ritz vectors (marked in btmp by run_phase). */
            kry_topk_ws *w = e.ws;
            const size_t c = e.cur;
            memset(w->Ssel, 0, c * sizeof(double));
            for (size_t i = 0; i < c; ++i)
                if (w->btmp[i] != 0.0)
                    for (size_t l = 0; l < c; ++l)
                        w->Ssel[l] += w->S[l + i * c];
            rotate(w, e.n, c, w->Ssel, 1);
            double nrm;
            st = kry_orth_norm(e.sp, e.n, w->V, &nrm);
            if (st != KRY_OK)
                goto fail;
            kry_vec_scal(e.n, 1.0 / nrm, w->V);
            drop_soft(&e, 0);
            e.vmode = 0;
            e.phase = 0;
            kind = D_SOFT_MAIN;
            memset(w->b, 0, w->mcap * sizeof(double));
            e.cur = 0;
            e.analysed = 0;
            size_t nlock0 = e.nlock;
            st = run_phase(&e, &outcome);
            if (st != KRY_OK)
                goto fail;
            e.copies += e.nlock > nlock0 ? e.nlock - nlock0 : 0;
            continue;
        }
        if (outcome != PH_DONE)
            break;
        if (e.copies == copies0)
            break; /* nothing new: the wanted set is stable */
    }
    if (e.vmode) {
        /* The compressed problem's Ritz values are never returned. */
        drop_soft(&e, 0);
        e.analysed = 0;
        e.vmode = 0;
    }

    switch (outcome) {
    case PH_BUDGET: reason = KRY_STOPPED_MAXIT; break;
    case PH_USER: reason = KRY_STOPPED_USER; break;
    default: reason = e.ever_exhausted ? KRY_CONVERGED_INVARIANT : KRY_CONVERGED_TOL; break;
    }
    if (outcome == PH_DONE)
        e.analysed = 0; /* everything wanted is locked */
    size_t nconv = assemble(&e, theta, vecs, ldv, bound, converged);
    if (outcome == PH_DONE && nconv < k)
        reason = KRY_STOPPED_MAXIT; /* cannot happen: a done phase locked k pairs */
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
