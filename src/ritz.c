/* ritz.c — Ritz pairs of a Lanczos decomposition, Cullum-Willoughby ghost flags, true
   residuals, and the one-call unrestarted Lanczos eigensolver (MATH.md section 3).

   The small problem T_m = S Theta S^T is solved by LAPACK dstevr on a copy of T_m with
   RANGE = 'I', so only the wanted eigenpairs are computed: for a proper index range
   dstevr uses bisection (dstebz) and inverse iteration (dstein), O(m) per pair; for the
   whole spectrum it uses MRRR (dstemr). Ritz vectors are one dgemm Q_m S_wanted, after
   permuting the wanted columns of S into output order in place.

   Ghosts (Cullum & Willoughby 1985, "Lanczos Algorithms for Large Symmetric Eigenvalue
   Computations", vol. 1, ch. 4): without reorthogonalisation T_m acquires copies of
   converged eigenvalues and spurious eigenvalues. A numerically simple eigenvalue of T_m
   that is also an eigenvalue of T_m with its first row and column removed (T^) has an
   eigenvector with a negligible first component, i.e. no component along q_0: it is
   spurious. A numerically multiple eigenvalue is kept once. Both tests are eigenvalue
   counts in small intervals, done with Sturm sequences.

   The eigensolver kry_lanczos_eigs is documented in kry/ritz.h; its restart rule after
   a breakdown follows MATH.md section 3 ("Multiplicity"). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "internal.h"
#include "kry/ritz.h"
#include "vec.h"

/* ---- Names ---- */

static const char *const which_names[KRY_WHICH_COUNT] = {
    [KRY_WHICH_LA] = "LA", [KRY_WHICH_SA] = "SA", [KRY_WHICH_LM] = "LM", [KRY_WHICH_BE] = "BE"};

const char *kry_which_name(kry_which w)
{
    if ((int)w < 0 || (int)w >= KRY_WHICH_COUNT)
        return "unknown";
    return which_names[w];
}

static int upper_eq(const char *s, const char *name)
{
    for (; *name; ++s, ++name) {
        int c = (unsigned char)*s;
        if (c >= 'a' && c <= 'z')
            c -= 'a' - 'A';
        if (c != *name)
            return 0;
    }
    return *s == 0;
}

kry_status kry_which_parse(const char *s, kry_which *out)
{
    KRY_REQUIRE(s != NULL && out != NULL, KRY_EINVAL);
    for (int w = 0; w < KRY_WHICH_COUNT; ++w)
        if (upper_eq(s, which_names[w])) {
            *out = (kry_which)w;
            return KRY_OK;
        }
    return KRY_EINVAL;
}

/* ---- Workspace ---- */

struct kry_ritz_ws {
    size_t cap;
    double *d, *e;        /* cap each: copies of T (dstevr overwrites them) */
    double *w;            /* cap: candidate eigenvalues, ascending per range */
    double *Z;            /* cap x cap: candidate eigenvectors (ld = order of T) */
    double *col;          /* cap: one column, for the in-place permutation */
    double *bnd;          /* cap: bounds, for kry_lanczos_eigs */
    int *conv;            /* cap: converged flags, for kry_lanczos_eigs */
    double *work;         /* 20 cap */
    lapack_int *iwork;    /* 10 cap */
    lapack_int *isuppz;   /* 2 cap */
    size_t *perm;         /* cap */
    unsigned char *seen;  /* cap */
};

static size_t ritz_cap(size_t max_steps) { return max_steps ? max_steps : 300; }

size_t kry_ritz_ws_bytes(size_t max_steps)
{
    size_t m = ritz_cap(max_steps);
    if (m > SIZE_MAX / m / sizeof(double) / 2)
        return 0;
    return sizeof(struct kry_ritz_ws) + (m * m + 26 * m) * sizeof(double) +
           m * sizeof(int) + 12 * m * sizeof(lapack_int) + m * sizeof(size_t) + m;
}

void kry_ritz_ws_free(kry_ritz_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->d);
    free(ws->e);
    free(ws->w);
    free(ws->Z);
    free(ws->col);
    free(ws->bnd);
    free(ws->conv);
    free(ws->work);
    free(ws->iwork);
    free(ws->isuppz);
    free(ws->perm);
    free(ws->seen);
    free(ws);
}

kry_ritz_ws *kry_ritz_ws_alloc(size_t max_steps)
{
    size_t m = ritz_cap(max_steps);
    if (kry_ritz_ws_bytes(max_steps) == 0)
        return NULL;
    kry_ritz_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->cap = m;
    ws->d = malloc(m * sizeof(double));
    ws->e = malloc(m * sizeof(double));
    ws->w = malloc(m * sizeof(double));
    ws->Z = malloc(m * m * sizeof(double));
    ws->col = malloc(m * sizeof(double));
    ws->bnd = malloc(m * sizeof(double));
    ws->conv = malloc(m * sizeof(int));
    ws->work = malloc(20 * m * sizeof(double));
    ws->iwork = malloc(10 * m * sizeof(lapack_int));
    ws->isuppz = malloc(2 * m * sizeof(lapack_int));
    ws->perm = malloc(m * sizeof(size_t));
    ws->seen = malloc(m);
    if (!ws->d || !ws->e || !ws->w || !ws->Z || !ws->col || !ws->bnd || !ws->conv ||
        !ws->work || !ws->iwork || !ws->isuppz || !ws->perm || !ws->seen) {
        kry_ritz_ws_free(ws);
        return NULL;
    }
    return ws;
}

/* ---- The small tridiagonal eigenproblem ---- */

/* Eigenvalues il..iu (0-based, inclusive, ascending) of the block T[b0, b0+p) of the
   tridiagonal (alpha, beta) into w[0..iu-il], and, when z != NULL, their eigenvectors
   into z (p x (iu-il+1), leading dimension ldz >= p). */
static kry_status tri_eig(kry_ritz_ws *rws, const double *alpha, const double *beta,
                          size_t b0, size_t p, size_t il, size_t iu, double *w, double *z,
                          size_t ldz)
{
    memcpy(rws->d, alpha + b0, p * sizeof(double));
    if (p > 1)
        memcpy(rws->e, beta + b0, (p - 1) * sizeof(double));
    int all = il == 0 && iu + 1 == p;
    lapack_int found = 0;
    lapack_int info = LAPACKE_dstevr_work(
        LAPACK_COL_MAJOR, z ? 'V' : 'N', all ? 'A' : 'I', (lapack_int)p, rws->d, rws->e, 0.0,
        0.0, (lapack_int)(il + 1), (lapack_int)(iu + 1), 2.0 * DBL_MIN, &found, w,
        z ? z : rws->Z, (lapack_int)(z ? ldz : p), rws->isuppz, rws->work,
        (lapack_int)(20 * p), rws->iwork, (lapack_int)(10 * p));
    if (info != 0 || (size_t)found != iu - il + 1)
        return KRY_ELAPACK;
    return KRY_OK;
}

/* Columns out[i] = in[perm[i]] of Z (ld rows, c columns), in place; perm is a
   permutation of [0, c). */
static void permute_columns(kry_ritz_ws *rws, double *Z, size_t ld, size_t c)
{
    const size_t *perm = rws->perm;
    memset(rws->seen, 0, c);
    for (size_t s = 0; s < c; ++s) {
        if (rws->seen[s] || perm[s] == s) {
            rws->seen[s] = 1;
            continue;
        }
        memcpy(rws->col, Z + s * ld, ld * sizeof(double));
        size_t cur = s;
        for (;;) {
            rws->seen[cur] = 1;
            size_t nxt = perm[cur];
            if (nxt == s) {
                memcpy(Z + cur * ld, rws->col, ld * sizeof(double));
                break;
            }
            memcpy(Z + cur * ld, Z + nxt * ld, ld * sizeof(double));
            cur = nxt;
        }
    }
}

/* The MATH.md section 3 test: bound <= tol max(|theta|, eps^(2/3) |T|). */
static int ritz_converged(double bound, double theta, double tnorm, double tol)
{
    return bound <= tol * fmax(fabs(theta), pow(DBL_EPSILON, 2.0 / 3.0) * tnorm);
}

/* Gershgorin bound max_i |alpha_i| + |beta_{i-1}| + |beta_i| of T_m (>= |T_m|). */
static double tri_gershgorin(const double *alpha, const double *beta, size_t m)
{
    double g = 0.0;
    for (size_t i = 0; i < m; ++i) {
        double r = fabs(alpha[i]) + (i > 0 ? fabs(beta[i - 1]) : 0.0) +
                   (i + 1 < m ? fabs(beta[i]) : 0.0);
        g = fmax(g, r);
    }
    return g;
}

kry_status kry_ritz_pairs(const kry_lanczos_ws *lws, kry_ritz_ws *rws, size_t k,
                          kry_which which, double tol, double *theta, double *vecs,
                          size_t ldv, double *bound, int *converged)
{
    KRY_REQUIRE(lws != NULL && rws != NULL && theta != NULL, KRY_EINVAL);
    KRY_REQUIRE((int)which >= 0 && (int)which < KRY_WHICH_COUNT, KRY_EINVAL);
    KRY_REQUIRE(isfinite(tol) && tol >= 0.0, KRY_EINVAL);
    const size_t m = kry_lanczos_steps(lws);
    KRY_REQUIRE(k >= 1 && k <= m, KRY_EINVAL);
    KRY_REQUIRE(m <= rws->cap, KRY_EDIM);
    size_t n;
    const double *Q = kry_lanczos_basis(lws, &n);
    KRY_REQUIRE(vecs == NULL || ldv >= n, KRY_EDIM);
    KRY_REQUIRE(kry_fits_blas_int(n) && kry_fits_blas_int(m) && kry_fits_blas_int(ldv),
                KRY_ERANGE);
    const double *alpha = kry_lanczos_alpha(lws), *beta = kry_lanczos_beta(lws);
    if (tol == 0.0)
        tol = 1e-10;
    const int want_z = vecs != NULL || bound != NULL || converged != NULL;
    double *w = rws->w, *Z = rws->Z;
    size_t *perm = rws->perm;

    /* Candidate ranges (ascending, concatenated in w and the columns of Z) and the
       output order perm[0..k) into them. */
    size_t c = 0;
    if (which == KRY_WHICH_LA || which == KRY_WHICH_SA) {
        size_t il = which == KRY_WHICH_LA ? m - k : 0;
        KRY_TRY(tri_eig(rws, alpha, beta, 0, m, il, il + k - 1, w, want_z ? Z : NULL, m));
        c = k;
        for (size_t i = 0; i < k; ++i)
            perm[i] = which == KRY_WHICH_LA ? k - 1 - i : i;
    } else {
        size_t nb, nt;
        if (which == KRY_WHICH_BE) {
            nt = (k + 1) / 2;
            nb = k / 2;
        } else {
            nb = nt = 2 * k >= m ? 0 : k;
        }
        if (nb + nt == 0) { /* LM needing the whole spectrum */
            KRY_TRY(tri_eig(rws, alpha, beta, 0, m, 0, m - 1, w, want_z ? Z : NULL, m));
            c = m;
        } else {
            if (nb > 0)
                KRY_TRY(tri_eig(rws, alpha, beta, 0, m, 0, nb - 1, w, want_z ? Z : NULL, m));
            KRY_TRY(tri_eig(rws, alpha, beta, 0, m, m - nt, m - 1, w + nb,
                            want_z ? Z + nb * m : NULL, m));
            c = nb + nt;
        }
        if (which == KRY_WHICH_BE) {
            for (size_t i = 0; i < k; ++i)
                perm[i] = i % 2 == 0 ? c - 1 - i / 2 : i / 2;
        } else {
            /* LM: merge from both ends of the ascending candidates. Magnitudes equal to
               rounding (64 eps) count as a tie, which the larger (positive) one wins,
               so +-lambda come out in a fixed order. */
            size_t lo = 0, hi = c - 1;
            for (size_t i = 0; i < k; ++i) {
                double alo = fabs(w[lo]), ahi = fabs(w[hi]);
                if (alo - ahi > 64.0 * DBL_EPSILON * alo)
                    perm[i] = lo++;
                else
                    perm[i] = hi--;
            }
        }
    }
    for (size_t i = 0; i < k; ++i)
        theta[i] = w[perm[i]];

    if (bound != NULL || converged != NULL) {
        double tn = 0.0;
        if (converged != NULL) {
            /* |T_m| = max(|lambda_min|, |lambda_max|); compute the ends not at hand. */
            int have_lo = which == KRY_WHICH_SA || which == KRY_WHICH_LM ||
                          (which == KRY_WHICH_BE && k >= 2) || k == m;
            int have_hi = which != KRY_WHICH_SA || k == m;
            double lo = w[0], hi = w[c - 1];
            if (!have_lo)
                KRY_TRY(tri_eig(rws, alpha, beta, 0, m, 0, 0, &lo, NULL, m));
            if (!have_hi)
                KRY_TRY(tri_eig(rws, alpha, beta, 0, m, m - 1, m - 1, &hi, NULL, m));
            tn = fmax(fabs(lo), fabs(hi));
        }
        const double bl = fabs(beta[m - 1]);
        for (size_t i = 0; i < k; ++i) {
            double b = bl * fabs(Z[perm[i] * m + (m - 1)]);
            if (bound != NULL)
                bound[i] = b;
            if (converged != NULL)
                converged[i] = ritz_converged(b, theta[i], tn, tol);
        }
    }

    if (vecs != NULL) {
        /* Complete perm to a permutation of the c candidates, apply it to Z in place. */
        memset(rws->seen, 0, c);
        for (size_t i = 0; i < k; ++i)
            rws->seen[perm[i]] = 1;
        size_t t = k;
        for (size_t i = 0; i < c; ++i)
            if (!rws->seen[i])
                perm[t++] = i;
        permute_columns(rws, Z, m, c);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)m, 1.0, Q,
                    (int)n, Z, (int)m, 0.0, vecs, (int)ldv);
    }
    return KRY_OK;
}

/* ---- Ghosts ---- */

/* Number of eigenvalues < x of the tridiagonal block (d[s..t), e[s..t-1)) by the Sturm
   sequence of pivots of T - x I, with tiny pivots replaced by -pivmin (LAPACK dstebz). */
static size_t sturm_count(const double *d, const double *e, size_t s, size_t t, double x,
                          double pivmin)
{
    size_t cnt = 0;
    double q = 1.0;
    for (size_t i = s; i < t; ++i) {
        q = d[i] - x - (i > s ? e[i - 1] * e[i - 1] / q : 0.0);
        if (fabs(q) < pivmin)
            q = -pivmin;
        if (q < 0.0)
            ++cnt;
    }
    return cnt;
}

/* Eigenvalues of block [s, t) in [x - delta, x + delta). */
static size_t count_near(const double *d, const double *e, size_t s, size_t t, double x,
                         double delta, double pivmin)
{
    if (s >= t)
        return 0;
    return sturm_count(d, e, s, t, x + delta, pivmin) -
           sturm_count(d, e, s, t, x - delta, pivmin);
}

kry_status kry_ritz_ghosts(const kry_lanczos_ws *lws, size_t k, const double *theta,
                           double tol, int *ghost)
{
    KRY_REQUIRE(lws != NULL && theta != NULL && ghost != NULL && k >= 1, KRY_EINVAL);
    KRY_REQUIRE(isfinite(tol) && tol >= 0.0, KRY_EINVAL);
    const size_t m = kry_lanczos_steps(lws);
    KRY_REQUIRE(m >= 1, KRY_EINVAL);
    const double *d = kry_lanczos_alpha(lws), *e = kry_lanczos_beta(lws);
    const double gersh = tri_gershgorin(d, e, m);
    double emax2 = 0.0;
    for (size_t i = 0; i + 1 < m; ++i)
        emax2 = fmax(emax2, e[i] * e[i]);
    const double pivmin = DBL_MIN * fmax(1.0, emax2);
    /* Two windows: an eigenvalue of T^ within delta of x makes a simple x spurious, and
       copies within 2 delta are one multiple eigenvalue. The wider multiplicity window
       protects a good copy whose spurious partner (an eigenvalue of T^ within rounding
       of a T eigenvalue) is converging onto it: when the good copy sees a T^
       eigenvalue within delta, it sees its partner within 2 delta. */
    const double delta =
        (tol > 0.0 ? tol : 100.0 * sqrt((double)m) * DBL_EPSILON) * fmax(gersh, DBL_MIN);

    for (size_t i = 0; i < k; ++i) {
        double x = theta[i];
        /* Good copies of x: one per block where x is multiple, or simple and not an
           eigenvalue of the block without its first row and column. */
        size_t good = 0, s = 0;
        while (s < m) {
            size_t t = s + 1;
            while (t < m && e[t - 1] != 0.0)
                ++t;
            size_t cnt = count_near(d, e, s, t, x, 2.0 * delta, pivmin);
            if (cnt >= 2 || (cnt == 1 && count_near(d, e, s + 1, t, x, delta, pivmin) == 0))
                ++good;
            s = t;
        }
        size_t earlier = 0;
        for (size_t l = 0; l < i; ++l)
            if (fabs(theta[l] - x) <= 2.0 * delta)
                ++earlier;
        ghost[i] = earlier >= good;
    }
    return KRY_OK;
}

/* ---- True residuals ---- */

kry_status kry_ritz_true_residuals(const kry_operator *op, size_t k, const double *theta,
                                   const double *vecs, size_t ldv, double *work,
                                   double *resid)
{
    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(theta != NULL && vecs != NULL && work != NULL && resid != NULL && k >= 1,
                KRY_EINVAL);
    KRY_REQUIRE(ldv >= op->n, KRY_EDIM);
    KRY_REQUIRE(kry_fits_blas_int(op->n), KRY_ERANGE);
    for (size_t i = 0; i < k; ++i) {
        const double *y = vecs + i * ldv;
        KRY_TRY(kry_operator_apply(op, y, work));
        kry_vec_axpy(op->n, -theta[i], y, work);
        KRY_TRY(kry_vec_nrm2(op->space, op->n, work, &resid[i]));
    }
    return KRY_OK;
}

/* ---- The unrestarted eigensolver ---- */

/* Has the newest block of T settled? Blocks are split where beta_i <= split |T|
   (|T| the Gershgorin bound of T_m; split = 0: exact zeros only, i.e. continued
   breakdowns). When the newest block is not the first, its extreme Ritz value(s) at
   the wanted end(s) must have converged: the block was started from a fresh vector and
   has then confirmed that the rest of the space holds nothing better. When beta_{m-1}
   itself is below the split, the next vector starts a new block that has not run yet:
   not settled. */
static kry_status newest_block_settled(const kry_lanczos_ws *lws, kry_ritz_ws *rws,
                                       kry_which which, double tol, double split, int *ok)
{
    const size_t m = kry_lanczos_steps(lws);
    const double *alpha = kry_lanczos_alpha(lws), *beta = kry_lanczos_beta(lws);
    const double cut = split * tri_gershgorin(alpha, beta, m);
    *ok = 0;
    if (beta[m - 1] <= cut)
        return KRY_OK;
    size_t b0 = m - 1;
    while (b0 > 0 && beta[b0 - 1] > cut)
        --b0;
    *ok = 1;
    if (b0 == 0)
        return KRY_OK;
    const size_t p = m - b0;
    int ends[2] = {which != KRY_WHICH_SA, which != KRY_WHICH_LA}; /* top, bottom */
    double val[2] = {0.0, 0.0}, last[2] = {0.0, 0.0};
    for (int e = 0; e < 2; ++e) {
        if (!ends[e])
            continue;
        size_t idx = e == 0 ? p - 1 : 0;
        KRY_TRY(tri_eig(rws, alpha, beta, b0, p, idx, idx, &val[e], rws->Z, p));
        last[e] = rws->Z[p - 1];
    }
    double tn = fmax(fabs(val[0]), fabs(val[1]));
    for (int e = 0; e < 2; ++e)
        if (ends[e] && !ritz_converged(fabs(beta[m - 1] * last[e]), val[e], tn, tol))
            *ok = 0;
    return KRY_OK;
}

/* Steps until the next convergence check of kry_lanczos_eigs. A check costs O(m k)
   (bisection and inverse iteration on T_m, ~1 ms at m = 200, k = 10), as much as
   several steps with a cheap operator, so checks are spaced by extrapolating the
   convergence rate: with the worst ratio bound/allowed going from r0 (step m0) to r
   (step m), the remaining steps are predicted as log(r) / rate; the next check comes
   after half of them, at least 1 and at most max(4, m/8) steps later (so at most ~12%
   extra steps, or 4). Without a usable rate (first check, no progress), after
   max(1, m/32). */
static size_t check_gap(size_t m, size_t m0, double r0, double r)
{
    size_t cap = m / 8 > 4 ? m / 8 : 4, dflt = m / 32 > 1 ? m / 32 : 1;
    if (!(r > 1.0) || !(r0 > r) || m0 == 0 || m0 >= m)
        return r > 1.0 ? dflt : 1;
    double rate = log(r0 / r) / (double)(m - m0);
    double half = 0.5 * log(r) / rate;
    if (!(half < (double)cap))
        return cap;
    return half < 1.0 ? 1 : (size_t)half;
}

static void eigs_result_fill(const kry_lanczos_ws *lws, kry_eigs_result *res,
                             kry_reason reason, size_t nconv)
{
    if (res == NULL)
        return;
    kry_lanczos_result lr;
    memset(res, 0, sizeof *res);
    if (kry_lanczos_result_get(lws, &lr) != KRY_OK)
        return;
    res->matvecs = lr.matvecs;
    res->steps = lr.steps;
    res->reason = reason;
    res->nconv = nconv;
}

kry_status kry_lanczos_eigs(const kry_operator *op, size_t k, kry_which which, double tol,
                            const double *v0, const kry_lanczos_params *params,
                            kry_lanczos_ws *lws, kry_ritz_ws *rws, double *theta,
                            double *vecs, size_t ldv, double *bound, int *converged,
                            kry_eigs_result *res)
{
    if (res != NULL)
        memset(res, 0, sizeof *res);
    KRY_REQUIRE(lws != NULL && rws != NULL && theta != NULL && k >= 1, KRY_EINVAL);
    KRY_REQUIRE((int)which >= 0 && (int)which < KRY_WHICH_COUNT, KRY_EINVAL);
    KRY_REQUIRE(isfinite(tol) && tol >= 0.0, KRY_EINVAL);
    if (tol == 0.0)
        tol = 1e-10;
    kry_lanczos_params p = params ? *params : kry_lanczos_params_default();
    const int user_continue = p.continue_on_breakdown != 0;
    p.continue_on_breakdown = 1; /* breakdowns are handled below */
    KRY_TRY(kry_lanczos_start(lws, op, v0, &p));
    const size_t budget = kry_lanczos_max_steps(lws);
    KRY_REQUIRE(k <= kry_lanczos_dim(lws) && k <= budget, KRY_EINVAL);
    KRY_REQUIRE(budget <= rws->cap, KRY_EDIM);
    KRY_REQUIRE(vecs == NULL || ldv >= op->n, KRY_EDIM);

    kry_status st = KRY_OK;
    kry_reason reason = KRY_RUNNING;
    size_t next_check = k, seen_breakdowns = 0, m = 0, prev_m = 0;
    double prev_ratio = 0.0;
    kry_lanczos_result lr;
    for (;;) {
        st = kry_lanczos_step(lws, op);
        if (st != KRY_OK)
            goto done;
        st = kry_lanczos_result_get(lws, &lr);
        if (st != KRY_OK)
            goto done;
        m = lr.steps;
        if (lr.breakdowns > seen_breakdowns) {
            seen_breakdowns = lr.breakdowns;
            if (!user_continue && m >= k) {
                reason = KRY_CONVERGED_INVARIANT;
                break;
            }
        }
        if (lr.reason == KRY_CONVERGED_INVARIANT) {
            reason = KRY_CONVERGED_INVARIANT;
            break;
        }
        int last = lr.reason != KRY_RUNNING;
        if (m >= k && (m >= next_check || last)) {
            st = kry_ritz_pairs(lws, rws, k, which, tol, theta, NULL, 0, rws->bnd, rws->conv);
            if (st != KRY_OK)
                goto done;
            int all = 1;
            double ratio = 0.0; /* worst bound / allowed bound (floor ignored) */
            for (size_t i = 0; i < k; ++i) {
                all &= rws->conv[i];
                if (!rws->conv[i])
                    ratio = fmax(ratio, rws->bnd[i] / (tol * fmax(fabs(theta[i]), DBL_MIN)));
            }
            next_check = m + check_gap(m, prev_m, prev_ratio, ratio);
            prev_m = m;
            prev_ratio = ratio;
            if (all) {
                int settled;
                st = newest_block_settled(lws, rws, which, tol, user_continue ? tol : 0.0,
                                          &settled);
                if (st != KRY_OK)
                    goto done;
                if (settled) {
                    reason = KRY_CONVERGED_TOL;
                    break;
                }
            }
        }
        if (last) {
            reason = lr.reason;
            break;
        }
    }
    if (m < k) { /* the space could not be extended to k vectors */
        st = KRY_EUNSUPPORTED;
        goto done;
    }
    st = kry_ritz_pairs(lws, rws, k, which, tol, theta, vecs, ldv, rws->bnd, rws->conv);
    if (st != KRY_OK)
        goto done;
    size_t nconv = 0;
    for (size_t i = 0; i < k; ++i) {
        nconv += rws->conv[i] != 0;
        if (bound != NULL)
            bound[i] = rws->bnd[i];
        if (converged != NULL)
            converged[i] = rws->conv[i];
    }
    eigs_result_fill(lws, res, reason, nconv);
    return KRY_OK;
done:
    eigs_result_fill(lws, res, reason, 0);
    return st;
}
