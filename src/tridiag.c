/* tridiag.c — batched k-th eigenpair of symmetric tridiagonal matrices (module tridiag).

   Method (MATH.md section 4): Sturm counts with the pivmin guard of LAPACK's dlaebz
   (pivots of magnitude below pivmin are replaced by -pivmin, and pivmin = safe minimum
   * max(1, max e_i^2), which is the safe minimum once every matrix is scaled to norm
   about 1), started from the Gershgorin interval; bracket shrinking by count
   interpolation and bisection until the bracket isolates lambda_k; then Newton's method
   on det(T - xI) = prod p_i, whose logarithmic derivative sum p_i'/p_i comes out of the
   same recurrence, safeguarded as in "rtsafe" (Press et al., Numerical Recipes, 9.4):
   bisection whenever the Newton point leaves the bracket or the step fails to halve.
   The eigenvector comes from the twisted factorisation (Dhillon & Parlett, "Multiple
   representations to compute orthogonal eigenvectors of symmetric tridiagonal
   matrices", LAA 387, 2004; Parlett & Dhillon, "Fernando's solution to Wilkinson's
   problem", LAA 267, 1997): forward pivots D+ and backward pivots D- of T - lambda I,
   gamma_i = D+_i - e_i^2 / D-_{i+1}, twist r = argmin |gamma_i|, then two O(n)
   recurrences from z_r = 1.

   Layout: matrices are copied, scaled, into structure-of-arrays form with the batch
   index innermost (entry i of matrix b at [i * bp + b]), padded to a multiple of W = 8
   lanes, and every sweep updates one SIMD vector of W matrices per step using GCC/Clang
   vector extensions. The solver body is compiled three times (AVX-512, AVX2+FMA and the
   baseline ISA) and chosen at run time, so the default build flags need no -march. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/tridiag.h"

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define W 8 /* lanes per SIMD vector (one AVX-512 register of doubles) */
#define MAX_PASSES 400
#define GMAX 4 /* vectors per register-resident group in a Sturm pass */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef double vd __attribute__((vector_size(W * sizeof(double))));
typedef int64_t vl __attribute__((vector_size(W * sizeof(int64_t))));

struct kry_tridiag_ws {
    size_t n, cap, bp; /* capacity: matrix size, batch; bp = cap rounded up to W */
    /* n x bp, batch innermost */
    double *d, *e, *e2, *fz, *rp, *rq;
    /* bp each */
    double *x, *lo, *hi, *lam, *step1, *step2, *wprev, *loi, *hii, *tnorm, *atol;
    double *scale, *s, *r, *dp, *nrm;
    int64_t *clo, *chi, *kk, *cnt, *done, *iso, *mode, *twist;
    size_t *act;          /* bp / W active vector indices */
    unsigned char *needd; /* per vector: next pass must compute G and H */
    size_t passes;
};

kry_tridiag_params kry_tridiag_params_default(void)
{
    kry_tridiag_params p;
    p.nthreads = 1;
    p.warm_start = 0;
    p.tol = 2.0 * DBL_EPSILON;
    p.tie_tol = 1e-10;
    return p;
}

/* ---------------------------------------------------------------- workspace */

static size_t round_up(size_t a, size_t m) { return (a + m - 1) / m * m; }

enum { N_SOA = 6, N_LANE_D = 16, N_LANE_L = 8 };

size_t kry_tridiag_ws_bytes(size_t n, size_t batch)
{
    size_t bp = round_up(batch, W);
    return sizeof(kry_tridiag_ws) + (N_SOA * n * bp + (N_LANE_D + N_LANE_L) * bp) * 8 +
           (bp / W) * sizeof(size_t) + 64 * (N_SOA + N_LANE_D + N_LANE_L + 1);
}

static void *alloc64(size_t count, int *failed)
{
    size_t bytes = round_up(count * 8, 64);
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p == NULL)
        *failed = 1;
    else
        memset(p, 0, bytes ? bytes : 64);
    return p;
}

kry_tridiag_ws *kry_tridiag_ws_alloc(size_t n, size_t batch)
{
    if (n == 0 || batch == 0 || n > SIZE_MAX / 64 / (batch + W))
        return NULL;
    kry_tridiag_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->n = n;
    ws->cap = batch;
    ws->bp = round_up(batch, W);
    size_t nb = n * ws->bp, bp = ws->bp;
    int failed = 0;
    double **soa[N_SOA] = {&ws->d, &ws->e, &ws->e2, &ws->fz, &ws->rp, &ws->rq};
    for (int i = 0; i < N_SOA; ++i)
        *soa[i] = alloc64(nb, &failed);
    double **lane[N_LANE_D] = {&ws->x,     &ws->lo,    &ws->hi,  &ws->lam,
                               &ws->step1, &ws->step2, &ws->wprev, &ws->loi,
                               &ws->hii,   &ws->tnorm, &ws->atol,  &ws->scale,
                               &ws->s,     &ws->r,     &ws->dp,    &ws->nrm};
    for (int i = 0; i < N_LANE_D; ++i)
        *lane[i] = alloc64(bp, &failed);
    int64_t **lanel[N_LANE_L] = {&ws->clo, &ws->chi,  &ws->kk,   &ws->cnt,
                                 &ws->done, &ws->iso, &ws->mode, &ws->twist};
    for (int i = 0; i < N_LANE_L; ++i)
        *lanel[i] = alloc64(bp, &failed);
    ws->act = malloc((bp / W) * sizeof(size_t));
    ws->needd = malloc(bp / W);
    if (failed || ws->act == NULL || ws->needd == NULL) {
        kry_tridiag_ws_free(ws);
        return NULL;
    }
    return ws;
}

void kry_tridiag_ws_free(kry_tridiag_ws *ws)
{
    if (ws == NULL)
        return;
    double *dbl[] = {ws->d,     ws->e,     ws->e2,  ws->fz,    ws->rp,    ws->rq,
                     ws->x,     ws->lo,    ws->hi,  ws->lam,   ws->step1, ws->step2,
                     ws->wprev, ws->loi,   ws->hii, ws->tnorm, ws->atol,  ws->scale,
                     ws->s,     ws->r,     ws->dp,  ws->nrm};
    for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; ++i)
        free(dbl[i]);
    int64_t *lng[] = {ws->clo, ws->chi, ws->kk, ws->cnt, ws->done, ws->iso, ws->mode,
                      ws->twist};
    for (size_t i = 0; i < sizeof lng / sizeof lng[0]; ++i)
        free(lng[i]);
    free(ws->act);
    free(ws->needd);
    free(ws);
}

size_t kry_tridiag_ws_passes(const kry_tridiag_ws *ws) { return ws ? ws->passes : 0; }

/* ---------------------------------------------------------------- SIMD helpers */

#define LD(p) (*(const vd *)(const void *)(p))
#define LDL(p) (*(const vl *)(const void *)(p))
#define ST(p, v) (*(vd *)(void *)(p) = (v))
#define STL(p, v) (*(vl *)(void *)(p) = (v))

ALWAYS_INLINE vd splat(double a)
{
    vd v = {a, a, a, a, a, a, a, a};
    return v;
}

ALWAYS_INLINE vl splatl(int64_t a)
{
    vl v = {a, a, a, a, a, a, a, a};
    return v;
}

/* m ? a : b for a lane mask m (all ones or all zeros per lane). */
ALWAYS_INLINE vd sel(vl m, vd a, vd b) { return (vd)((m & (vl)a) | (~m & (vl)b)); }
ALWAYS_INLINE vl sell(vl m, vl a, vl b) { return (m & a) | (~m & b); }
ALWAYS_INLINE vd vabs(vd a) { return (vd)((vl)a & splatl(INT64_MAX)); }
ALWAYS_INLINE vd vmax(vd a, vd b) { return sel(a > b, a, b); }

/* Nonzero when any lane of the mask m is set. */
ALWAYS_INLINE int any_lane(vl m)
{
    const vl s4 = {4, 5, 6, 7, 0, 1, 2, 3}, s2 = {2, 3, 0, 1, 6, 7, 4, 5},
             s1 = {1, 0, 3, 2, 5, 4, 7, 6};
    m |= __builtin_shuffle(m, s4);
    m |= __builtin_shuffle(m, s2);
    m |= __builtin_shuffle(m, s1);
    return m[0] != 0;
}

/* The dlaebz guard: a pivot of magnitude below pivmin becomes -pivmin. */
ALWAYS_INLINE vd guard(vd p) { return sel(vabs(p) < splat(DBL_MIN), splat(-DBL_MIN), p); }

static double guard1(double p) { return fabs(p) < DBL_MIN ? -DBL_MIN : p; }

/* ---------------------------------------------------------------- the solver body */

typedef struct job {
    kry_tridiag_ws *ws;
    const kry_tridiag_batch *batch;
    size_t k;
    const size_t *kvec;
    const kry_tridiag_params *params;
    double *lambda, *q;
    size_t ldq;
    unsigned char *tied;
    int want_vec;
    size_t v0, v1;   /* vector range [v0, v1) */
    size_t bad;      /* first non-finite matrix in the range, or batch->count */
    size_t passes;   /* passes this range needed */
} job;

/* Copies and scales the matrices of lanes [v0 W, v1 W) into SoA form and sets up each
   lane's bracket. Returns 0, or 1 after recording the first non-finite matrix. */
ALWAYS_INLINE int load_range(job *jb)
{
    kry_tridiag_ws *ws = jb->ws;
    const kry_tridiag_batch *B = jb->batch;
    const size_t n = B->n, bp = ws->bp, count = B->count;
    const int warm = jb->params->warm_start;
    for (size_t v = jb->v0; v < jb->v1; ++v) {
        const size_t o = v * W;
        const double *dl[W], *el[W];
        for (int l = 0; l < W; ++l) {
            size_t b = o + (size_t)l;
            /* Padding lanes read matrix 0 and are zeroed below. */
            int real = b < count;
            dl[l] = B->d + (real ? b * B->ldd : 0);
            el[l] = n > 1 ? B->e + (real ? b * B->lde : 0) : NULL;
        }
        /* Transpose into SoA form, tracking each lane's largest magnitude and whether
           every entry is finite (|x| <= DBL_MAX fails for NaN and Inf). */
        vd amax = splat(0.0);
        vl ok = splatl(-1);
        for (size_t i = 0; i < n; ++i) {
            double *row = ws->d + i * bp + o;
            vd t = {dl[0][i], dl[1][i], dl[2][i], dl[3][i],
                    dl[4][i], dl[5][i], dl[6][i], dl[7][i]};
            ST(row, t);
            vd a = vabs(t);
            ok &= (vl)(a <= splat(DBL_MAX));
            amax = sel(a > amax, a, amax);
        }
        for (size_t i = 0; i + 1 < n; ++i) {
            double *row = ws->e + i * bp + o;
            vd t = {el[0][i], el[1][i], el[2][i], el[3][i],
                    el[4][i], el[5][i], el[6][i], el[7][i]};
            ST(row, t);
            vd a = vabs(t);
            ok &= (vl)(a <= splat(DBL_MAX));
            amax = sel(a > amax, a, amax);
        }
        /* Scale: a power of two putting the largest entry in [0.5, 1) (exact). */
        vd sc;
        for (int l = 0; l < W; ++l) {
            size_t b = o + (size_t)l;
            if (b >= count) {
                sc[l] = 0.0;
                continue;
            }
            if (!ok[l]) {
                if (b < jb->bad)
                    jb->bad = b;
                return 1;
            }
            sc[l] = amax[l] > 0.0 ? ldexp(1.0, -(ilogb(amax[l]) + 1)) : 1.0;
            ws->scale[b] = sc[l];
        }
        for (size_t i = 0; i < n; ++i)
            ST(ws->d + i * bp + o, LD(ws->d + i * bp + o) * sc);
        for (size_t i = 0; i + 1 < n; ++i) {
            vd t = LD(ws->e + i * bp + o) * sc;
            ST(ws->e + i * bp + o, t);
            ST(ws->e2 + i * bp + o, t * t);
        }
        ST(ws->e + (n - 1) * bp + o, splat(0.0));
        ST(ws->e2 + (n - 1) * bp + o, splat(0.0));
        /* Gershgorin interval and norm. */
        vd glo = splat(INFINITY), ghi = splat(-INFINITY), eprev = splat(0.0);
        for (size_t i = 0; i < n; ++i) {
            vd ei = vabs(LD(ws->e + i * bp + o)), di = LD(ws->d + i * bp + o);
            vd rad = eprev + ei;
            vd a = di - rad, c = di + rad;
            glo = sel(a < glo, a, glo);
            ghi = sel(c > ghi, c, ghi);
            eprev = ei;
        }
        for (int l = 0; l < W; ++l) {
            size_t b = o + (size_t)l;
            if (b >= count) {
                ws->done[b] = -1;
                ws->lam[b] = 0.0;
                ws->scale[b] = 1.0;
                ws->kk[b] = 0;
                ws->lo[b] = ws->hi[b] = ws->x[b] = 0.0;
                ws->loi[b] = ws->hii[b] = NAN;
                ws->tnorm[b] = 0.0;
                continue;
            }
            double lo = glo[l], hi = ghi[l];
            double tn = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
            /* Widen as LAPACK's dstebz does, so that rounding in the counts cannot
               exclude an eigenvalue. */
            double fudge = 2.0 * DBL_EPSILON * (double)n * tn + 4.0 * DBL_MIN;
            lo -= fudge;
            hi += fudge;
            ws->kk[b] = (int64_t)(jb->kvec ? jb->kvec[b] : jb->k);
            ws->tnorm[b] = tn;
            ws->atol[b] = jb->params->tol * tn + 4.0 * DBL_MIN;
            ws->lo[b] = lo;
            ws->hi[b] = hi;
            ws->clo[b] = 0;
            ws->chi[b] = (int64_t)n;
            ws->loi[b] = ws->hii[b] = NAN;
            ws->iso[b] = 0;
            ws->step1[b] = ws->step2[b] = ws->wprev[b] = hi - lo;
            ws->mode[b] = 0;
            ws->x[b] = 0.5 * (lo + hi);
            if (warm) {
                double g = jb->lambda[b] * ws->scale[b];
                if (isfinite(g) && g > lo && g < hi) {
                    ws->x[b] = g;
                }
            }
            ws->done[b] = 0;
            if (n == 1 || tn == 0.0) {
                /* 1 x 1 and zero matrices: the eigenvalue is the diagonal entry. */
                ws->done[b] = -1;
                ws->lam[b] = ws->d[b];
                ws->loi[b] = -INFINITY;
                ws->hii[b] = INFINITY;
            }
        }
    }
    return 0;
}

/* One LDL^T Sturm pass at x for G active vectors held in registers. With
   f(x) = det(T - xI) = prod_j (lambda_j - x), it returns the number of eigenvalues
   below x (negative pivots), G = f'/f = sum_j 1/(x - lambda_j) and
   H = (f'/f)^2 - f''/f = sum_j 1/(x - lambda_j)^2, from the twisted factorisation
   T - xI = N Delta N^T at the middle row m = n/2 (as LAPACK's dlaneg): forward pivots
   p_i (i < m) and backward pivots q_i (i > m) run as two independent recurrences, which
   halves the dependency chain of a pass, and
     count = #{p_i < 0} + #{q_i < 0} + [gamma < 0],
     gamma = d_m - x - e_{m-1}^2 / p_{m-1} - e_m^2 / q_{m+1}     (Sylvester's law),
     G = sum u'/u, H = sum ((u'/u)^2 - u''/u) over all pivots u (and gamma),
   with u' and u'' from differentiating the pivot recurrences.
   G is a compile-time constant at every call, so the group loops unroll.
   This is the fallback for groups where the division-free pass (sturm3_group) flags
   an underflow: every pivot passes the dlaebz pivmin guard, so it never breaks down. */
ALWAYS_INLINE void ldl_group(kry_tridiag_ws *ws, size_t n, const size_t *act, int G,
                             int deriv)
{
    const size_t bp = ws->bp, m = n / 2, nb = n - 1 - m;
    const vd one = splat(1.0), zero = splat(0.0), two = splat(2.0);
    vd x[GMAX] = {{0}}, rf[GMAX] = {{0}}, df[GMAX] = {{0}}, ff[GMAX] = {{0}},
       rb[GMAX] = {{0}}, db[GMAX] = {{0}}, fb[GMAX] = {{0}}, s[GMAX] = {{0}},
       h[GMAX] = {{0}};
    vl c[GMAX] = {{0}};
    size_t o[GMAX] = {0};
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        o[g] = act[g] * W;
        x[g] = LD(ws->x + o[g]);
        vd p = LD(ws->d + o[g]) - x[g];
        p = guard(p);
        rf[g] = one / p;
        df[g] = -one;
        ff[g] = zero;
        s[g] = -rf[g];
        h[g] = rf[g] * rf[g];
        c[g] = (vl)p >> 63;
        rb[g] = zero;
        db[g] = zero;
        fb[g] = zero;
        if (nb > 0) {
            vd q = LD(ws->d + (n - 1) * bp + o[g]) - x[g];
            q = guard(q);
            rb[g] = one / q;
            db[g] = -one;
            s[g] -= rb[g];
            h[g] += rb[g] * rb[g];
            c[g] += (vl)q >> 63;
        }
    }
    for (size_t j = 1; j < m; ++j) {
        const double *di = ws->d + j * bp, *ei = ws->e2 + (j - 1) * bp;
        size_t ib = n - 1 - j;
        const double *dbk = ws->d + ib * bp, *ebk = ws->e2 + ib * bp;
        int back = j < nb;
        _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
            vd e2 = LD(ei + o[g]), t = e2 * rf[g];
            vd p = (LD(di + o[g]) - x[g]) - t;
            p = guard(p);
            vd tr = t * rf[g];
            if (deriv) {
                ff[g] = tr * (ff[g] - two * df[g] * df[g] * rf[g]);
                df[g] = tr * df[g] - one;
            }
            rf[g] = one / p;
            if (deriv) {
                vd u = df[g] * rf[g];
                s[g] += u;
                h[g] += u * u - ff[g] * rf[g];
            }
            c[g] += (vl)p >> 63;
            if (back) {
                vd e2b = LD(ebk + o[g]), tb = e2b * rb[g];
                vd q = (LD(dbk + o[g]) - x[g]) - tb;
                q = guard(q);
                vd trb = tb * rb[g];
                if (deriv) {
                    fb[g] = trb * (fb[g] - two * db[g] * db[g] * rb[g]);
                    db[g] = trb * db[g] - one;
                }
                rb[g] = one / q;
                if (deriv) {
                    vd ub = db[g] * rb[g];
                    s[g] += ub;
                    h[g] += ub * ub - fb[g] * rb[g];
                }
                c[g] += (vl)q >> 63;
            }
        }
    }
    const double *em = ws->e2 + (m - 1) * bp, *ep = ws->e2 + m * bp;
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        vd tf = LD(em + o[g]) * rf[g], tb = LD(ep + o[g]) * rb[g];
        vd gam = (LD(ws->d + m * bp + o[g]) - x[g]) - tf - tb;
        gam = guard(gam);
        if (deriv) {
            vd trf = tf * rf[g], trb = tb * rb[g];
            vd dg = trf * df[g] + trb * db[g] - one;
            vd fg = trf * (ff[g] - two * df[g] * df[g] * rf[g]) +
                    trb * (fb[g] - two * db[g] * db[g] * rb[g]);
            vd rg = one / gam, u = dg * rg;
            s[g] += u;
            h[g] += u * u - fg * rg;
            ST(ws->s + o[g], s[g]);
            ST(ws->dp + o[g], h[g]);
        }
        c[g] += (vl)gam >> 63;
        STL(ws->cnt + o[g], -c[g]);
    }
}

/* ---------------------------------------------------------------- Sturm passes */

/* Rows between two rescalings of the three-term recurrences. Per row the pair
   (u_j, u_{j-1}) grows at most by |d_j - x| + e_{j-1}^2 <= 5 (entries below 1 after
   scaling, x inside the widened Gershgorin interval), so 16 rows grow it by < 2^38. */
#define RB 16

/* A power of two f with (|u| + |v|) f in [1, 2), for rescaling a recurrence pair
   exactly. Lanes where |u| + |v| < 2^-900 are ORed into *bad: there the pair may have
   underflowed (which cannot happen within RB rows of a pair >= 2^-900 staying above
   2^-970, where rounding is still relative to the pair), so the caller redoes them with
   the guarded LDL^T recurrence. */
ALWAYS_INLINE vd rescale(vd u, vd v, vl *bad)
{
    vd s = vabs(u) + vabs(v);
    /* A floating-point compare: GCC scalarises 64-bit integer vector compares. */
    *bad |= (vl)(s < splat(0x1p-900));
    return (vd)((splatl(2046) - ((vl)s >> 52)) << 52);
}

/* One Sturm pass at x for G active vectors, without divisions (used for every pass;
   the guarded LDL^T pass below is the fallback). With a_j = d_j - x and b_j = e_j^2,
   the leading minors of T - xI obey u_j = a_j u_{j-1} - b_{j-1} u_{j-2} (u_{-1} = 1,
   u_{-2} = 0) and the trailing ones w_j = a_j w_{j+1} - b_j w_{j+2} (w_n = 1,
   w_{n+1} = 0). The LDL^T pivots are their ratios, so the number of negative pivots
   (Sylvester: the number of eigenvalues below x) is the number of sign changes. The
   two recurrences run towards the middle row m = n/2 (as in the twisted factorisation
   of LAPACK's dlaneg, halving the dependency chain) and meet in
     f(x) = det(T - xI) = u_{m-1} w_m - b_{m-1} u_{m-2} w_{m+1},
   the twist pivot being gamma_m = f / (u_{m-1} w_{m+1}), so
     count = changes(u_{-1..m-1}) + changes(w_{n..m+1}) + [sign f != sign(u_{m-1} w_{m+1})].
   Why no division: each row then costs one multiply and one FMA on the critical path
   instead of a division (the division throughput bounded the LDL^T pass).
   Accuracy: with FMA, the computed u_j are, up to a positive factor per row, the exact
   minors of a matrix whose d_j - x and e_j^2 carry relative perturbations of a few
   ulps, so the count is as backward stable as the LDL^T count (Wilkinson, The
   Algebraic Eigenvalue Problem, 5.39); exact powers of two rescale the pairs every RB
   rows. An exact zero u_j between nonzero neighbours adds exactly one sign change
   whatever the sign of the zero, as the pivmin guard does (u_{j+1} = -b_j u_{j-1}).
   A zero pair (a split right after a zero minor) or an underflowing pair is flagged
   by rescale(); the function then returns a bit mask of the flagged vectors of the
   group and the caller redoes each of them with ldl_group() (vector by vector, so a
   lane's result never depends on which vectors share its group). With deriv, the same recurrences differentiated in x (a_j' = -1) give
   f' and f'', hence G = f'/f = sum_j 1/(x - lambda_j) and
   H = G^2 - f''/f = sum_j 1/(x - lambda_j)^2 for the Laguerre step (ws->s, ws->dp).
   G is a compile-time constant at every call, so the group loops unroll. */
ALWAYS_INLINE int sturm3_group(kry_tridiag_ws *ws, size_t n, const size_t *act, int G,
                               int deriv)
{
    const size_t bp = ws->bp, m = n / 2, nb = n - 1 - m;
    const double *d = ws->d, *e2 = ws->e2;
    const vd one = splat(1.0), zero = splat(0.0), two = splat(2.0);
    /* Forward state: (uf, vf) = (u_j, u_{j-1}), derivatives (duf, dvf), (hf, hvf);
       backward state likewise with b. */
    vd x[GMAX], uf[GMAX], vf[GMAX], ub[GMAX], vb[GMAX];
    vd duf[GMAX], dvf[GMAX], hf[GMAX], hvf[GMAX], dub[GMAX], dvb[GMAX], hb[GMAX],
        hvb[GMAX];
    vl c[GMAX], bad[GMAX];
    size_t o[GMAX];
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        o[g] = act[g] * W;
        x[g] = LD(ws->x + o[g]);
        bad[g] = splatl(0);
        uf[g] = LD(d + o[g]) - x[g];
        vf[g] = one;
        c[g] = (vl)uf[g] >> 63;
        if (deriv) {
            duf[g] = -one;
            dvf[g] = zero;
            hf[g] = zero;
            hvf[g] = zero;
        }
        if (nb > 0) {
            ub[g] = LD(d + (n - 1) * bp + o[g]) - x[g];
            vb[g] = one;
            c[g] += (vl)ub[g] >> 63;
            if (deriv)
                dub[g] = -one;
        } else {
            ub[g] = one;
            vb[g] = zero;
            if (deriv)
                dub[g] = zero;
        }
        if (deriv) {
            dvb[g] = zero;
            hb[g] = zero;
            hvb[g] = zero;
        }
    }
    /* Forward rows 1..m-1 and backward rows n-2..m+1 side by side (nb - 1 <= m - 1). */
    for (size_t i0 = 1; i0 < m; i0 += RB) {
        size_t i1 = i0 + RB < m ? i0 + RB : m;
        for (size_t i = i0; i < i1; ++i) {
            const double *di = d + i * bp, *bi = e2 + (i - 1) * bp;
            size_t j = n - 1 - i;
            const double *dj = d + j * bp, *bj = e2 + j * bp;
            int back = i < nb;
            _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
                vd a = LD(di + o[g]) - x[g], b = LD(bi + o[g]);
                vd un = a * uf[g] - b * vf[g];
                c[g] += ((vl)un ^ (vl)uf[g]) >> 63;
                if (deriv) {
                    vd dn = a * duf[g] - (uf[g] + b * dvf[g]);
                    vd hn = a * hf[g] - (two * duf[g] + b * hvf[g]);
                    dvf[g] = duf[g];
                    duf[g] = dn;
                    hvf[g] = hf[g];
                    hf[g] = hn;
                }
                vf[g] = uf[g];
                uf[g] = un;
                if (back) {
                    vd ab = LD(dj + o[g]) - x[g], bb = LD(bj + o[g]);
                    vd wn = ab * ub[g] - bb * vb[g];
                    c[g] += ((vl)wn ^ (vl)ub[g]) >> 63;
                    if (deriv) {
                        vd dn = ab * dub[g] - (ub[g] + bb * dvb[g]);
                        vd hn = ab * hb[g] - (two * dub[g] + bb * hvb[g]);
                        dvb[g] = dub[g];
                        dub[g] = dn;
                        hvb[g] = hb[g];
                        hb[g] = hn;
                    }
                    vb[g] = ub[g];
                    ub[g] = wn;
                }
            }
        }
        _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
            vd f = rescale(uf[g], vf[g], &bad[g]);
            uf[g] *= f;
            vf[g] *= f;
            vd fb = rescale(ub[g], vb[g], &bad[g]);
            ub[g] *= fb;
            vb[g] *= fb;
            if (deriv) {
                duf[g] *= f;
                dvf[g] *= f;
                hf[g] *= f;
                hvf[g] *= f;
                dub[g] *= fb;
                dvb[g] *= fb;
                hb[g] *= fb;
                hvb[g] *= fb;
            }
        }
    }
    /* The meeting row m: w_m by one more backward step, then f = det(T - xI). */
    const double *dm = d + m * bp, *bl = e2 + (m - 1) * bp, *br = e2 + m * bp;
    int flagged = 0;
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        /* Lanes already converged (and padding lanes) may break down harmlessly. */
        flagged |= any_lane(bad[g] & ~LDL(ws->done + o[g])) << g;
        vd a = LD(dm + o[g]) - x[g], bL = LD(bl + o[g]), bR = LD(br + o[g]);
        vd wm = a * ub[g] - bR * vb[g];
        vd f = uf[g] * wm - bL * (vf[g] * ub[g]);
        c[g] += ((vl)f ^ (vl)uf[g] ^ (vl)ub[g]) >> 63;
        STL(ws->cnt + o[g], -c[g]);
        if (deriv) {
            vd dwm = a * dub[g] - (ub[g] + bR * dvb[g]);
            vd hwm = a * hb[g] - (two * dub[g] + bR * hvb[g]);
            vd df = duf[g] * wm + uf[g] * dwm - bL * (dvf[g] * ub[g] + vf[g] * dub[g]);
            vd hf2 = hf[g] * wm + two * duf[g] * dwm + uf[g] * hwm -
                     bL * (hvf[g] * ub[g] + two * dvf[g] * dub[g] + vf[g] * hb[g]);
            /* f == 0: x is an eigenvalue to working accuracy; a tiny f keeps G and H
               finite (huge), so the Laguerre step is (nearly) zero. */
            f = sel(f == zero, splat(DBL_MIN), f);
            vd rf = one / f, gg = df * rf;
            ST(ws->s + o[g], gg);
            ST(ws->dp + o[g], gg * gg - hf2 * rf);
        }
    }
    return flagged;
}

/* Runs groups of vectors: first those that need G and H (ws->needd) in groups of
   GD, then the count-only ones, which cost about half as much, in groups of GMAX.
   Reorders act. A group flagged by the division-free pass is redone with the
   guarded LDL^T pass. */
#define GD 2
ALWAYS_INLINE void sturm_pass(kry_tridiag_ws *ws, size_t n, size_t *act, size_t nact)
{
    size_t nd = 0;
    for (size_t a = 0; a < nact; ++a)
        if (ws->needd[act[a]]) {
            size_t t = act[nd];
            act[nd++] = act[a];
            act[a] = t;
        }
#define GROUP(g, dv)                                                           \
    do {                                                                       \
        int flagged_ = sturm3_group(ws, n, act + a, g, dv);                    \
        for (int i_ = 0; flagged_ != 0; ++i_, flagged_ >>= 1)                  \
            if (flagged_ & 1)                                                  \
                ldl_group(ws, n, act + a + i_, 1, dv);                         \
    } while (0)
    size_t a = 0;
    for (; a + GD <= nd; a += GD)
        GROUP(GD, 1);
    for (; a < nd; ++a)
        GROUP(1, 1);
    for (; a + GMAX <= nact; a += GMAX)
        GROUP(GMAX, 0);
    switch (nact - a) {
    case 1:
        GROUP(1, 0);
        break;
    case 2:
        GROUP(2, 0);
        break;
    case 3:
        GROUP(3, 0);
        break;
    default:
        break;
    }
#undef GROUP
}

/* Updates brackets from the counts and picks the next point of every active lane;
   returns the number of vectors still active (compacting act). */
ALWAYS_INLINE size_t update(kry_tridiag_ws *ws, size_t n, size_t *act, size_t nact)
{
    size_t keep = 0;
    const vd half = splat(0.5), eps4 = splat(4.0 * DBL_EPSILON);
    const vd nn = splat((double)n), nm1 = splat((double)n - 1.0);
    const vl zero = splatl(0);
    for (size_t a = 0; a < nact; ++a) {
        size_t v = act[a], o = v * W;
        vl done = LDL(ws->done + o), live = ~done;
        vd x = LD(ws->x + o), lo = LD(ws->lo + o), hi = LD(ws->hi + o);
        vl c = LDL(ws->cnt + o), k = LDL(ws->kk + o);
        vl clo = LDL(ws->clo + o), chi = LDL(ws->chi + o);
        vl left = live & (c <= k), right = live & ~(c <= k);
        lo = sel(left, x, lo);
        clo = sell(left, c, clo);
        hi = sel(right, x, hi);
        chi = sell(right, c, chi);
        vl iso = (clo == k) & (chi == k + 1);
        vl first = iso & ~LDL(ws->iso + o);
        ST(ws->loi + o, sel(first, lo, LD(ws->loi + o)));
        ST(ws->hii + o, sel(first, hi, LD(ws->hii + o)));
        STL(ws->iso + o, iso | LDL(ws->iso + o));

        vd w = hi - lo;
        vd tol = vmax(LD(ws->atol + o), eps4 * vmax(vabs(lo), vabs(hi)));
        /* Laguerre's method for f(x) = det(T - xI), a polynomial of degree n with real
           roots: from x in (lambda_{k-1}, lambda_k] (count k) the point
           x + n / (S - G) lies in (x, lambda_k], and from x in (lambda_k, lambda_{k+1})
           (count k + 1) the point x - n / (S + G) lies in [lambda_k, x), where
           S = sqrt((n-1)(nH - G^2)). So the iteration approaches lambda_k monotonically
           and cubically once one point next to it is known; no full isolation is
           needed. Rounding that throws a step out of the bracket falls back to
           bisection. */
        vd G = LD(ws->s + o), H = LD(ws->dp + o);
        vd disc = nm1 * (nn * H - G * G), S;
        for (int l = 0; l < W; ++l)
            S[l] = disc[l] > 0.0 ? sqrt(disc[l]) : 0.0;
        vl hasd = splatl(ws->needd[v] ? -1 : 0);
        vl adjl = c == k, adj = hasd & (adjl | (c == k + 1));
        vd step = sel(adjl, nn / (S - G), -nn / (S + G));
        vd xn = x + step, astep = vabs(step);
        vl inside = (xn > lo) & (xn < hi);
        vl lag = adj & inside;
        /* A step below the tolerance ends the iteration even when x + step rounds
           onto x itself (an end of the bracket). */
        vl nconv = adj & (astep <= tol);
        vl conv = live & ((w <= tol) | nconv);
        vd mid = half * (lo + hi);

        /* Far from lambda_k: interpolate the eigenvalue count linearly across the
           bracket (aiming at count k + 1/2), kept off the ends, unless the previous
           interpolation step failed to halve the bracket; then bisect. */
        vl mode = LDL(ws->mode + o);
        vd wprev = LD(ws->wprev + o);
        vd frac = (__builtin_convertvector(k - clo, vd) + half) /
                  __builtin_convertvector(chi - clo, vd);
        frac = vmax(splat(0.0625), frac);
        frac = sel(frac > splat(0.9375), splat(0.9375), frac);
        vd xi = lo + frac * w;
        vl interp_ok = (mode == zero) | ((mode == splatl(1)) & (w <= half * wprev));
        vd xnext = sel(lag, xn, sel(interp_ok, xi, mid));
        vl newmode = sell(interp_ok & ~lag, splatl(1), splatl(3));
        newmode = sell((mode == splatl(1)) & ~interp_ok, zero, newmode);
        STL(ws->mode + o, sell(live, newmode, mode));
        ST(ws->wprev + o, sel(live, w, wprev));

        vd fin = sel(nconv, vmax(lo, sel(xn > hi, hi, xn)), mid);
        ST(ws->lam + o, sel(conv, fin, LD(ws->lam + o)));
        ST(ws->x + o, sel(live, xnext, x));
        ST(ws->lo + o, lo);
        ST(ws->hi + o, hi);
        STL(ws->clo + o, clo);
        STL(ws->chi + o, chi);
        done |= conv;
        STL(ws->done + o, done);
        /* Derivatives are worth computing at the next point when it will likely lie
           next to lambda_k: the bracket already has an end there. */
        vl want = ~done & ((clo == k) | (chi == k + 1));
        int any = 0;
        for (int l = 0; l < W; ++l)
            any |= want[l] != 0;
        ws->needd[v] = (unsigned char)any;
        int all = 1;
        for (int l = 0; l < W; ++l)
            all &= done[l] != 0;
        if (!all)
            act[keep++] = v;
    }
    return keep;
}

/* Eigenvectors of lanes [v0 W, v1 W) at the converged lam, by twisted factorisation;
   leaves z in ws->fz and 1/||z|| in ws->nrm. Every loop runs over rows outside and
   vectors inside, so the recurrences of different vectors overlap. */
ALWAYS_INLINE void twisted(kry_tridiag_ws *ws, size_t n, size_t v0, size_t v1)
{
    const size_t bp = ws->bp, m = n - 1;
    const vd one = splat(1.0), zero = splat(0.0);
    double *fp = ws->fz, *rp = ws->rp, *rq = ws->rq, *lamv = ws->lam, *d = ws->d,
           *e2 = ws->e2, *e = ws->e;
    /* Forward pivots D+ (kept in fz) with reciprocals, and backward pivots D- (only
       reciprocals kept), side by side. */
    for (size_t v = v0; v < v1; ++v) {
        size_t o = v * W;
        vd p = guard(LD(d + o) - LD(lamv + o)), q = guard(LD(d + m * bp + o) - LD(lamv + o));
        ST(fp + o, p);
        ST(rp + o, one / p);
        ST(rq + m * bp + o, one / q);
    }
    for (size_t i = 1; i < n; ++i) {
        size_t ib = m - i;
        for (size_t v = v0; v < v1; ++v) {
            size_t o = v * W;
            vd lam = LD(lamv + o);
            vd p = guard(LD(d + i * bp + o) - lam - LD(e2 + (i - 1) * bp + o) * LD(rp + (i - 1) * bp + o));
            ST(fp + i * bp + o, p);
            ST(rp + i * bp + o, one / p);
            vd q = guard(LD(d + ib * bp + o) - lam - LD(e2 + ib * bp + o) * LD(rq + (ib + 1) * bp + o));
            ST(rq + ib * bp + o, one / q);
        }
    }
    /* gamma_i = D+_i - e_i^2 / D-_{i+1} and the twist index argmin |gamma_i|. */
    for (size_t v = v0; v < v1; ++v) {
        size_t o = v * W;
        ST(ws->nrm + o, vabs(LD(fp + m * bp + o)));
        STL(ws->twist + o, splatl((int64_t)m));
    }
    for (size_t i = 0; i < m; ++i)
        for (size_t v = v0; v < v1; ++v) {
            size_t o = v * W;
            vd g = vabs(LD(fp + i * bp + o) - LD(e2 + i * bp + o) * LD(rq + (i + 1) * bp + o));
            vl better = g < LD(ws->nrm + o);
            ST(ws->nrm + o, sel(better, g, LD(ws->nrm + o)));
            STL(ws->twist + o, sell(better, splatl((int64_t)i), LDL(ws->twist + o)));
        }
    /* z_r = 1; z_i = -e_i z_{i+1} / D+_i above r; z_i = -e_{i-1} z_{i-1} / D-_i below.
       fz now receives z (the forward pivots are no longer needed). */
    for (size_t v = v0; v < v1; ++v) {
        size_t o = v * W;
        vl r = LDL(ws->twist + o);
        ST(fp + m * bp + o, sel(r == splatl((int64_t)m), one, zero));
        ST(ws->s + o, LD(fp + m * bp + o));
    }
    for (size_t i = m; i-- > 0;)
        for (size_t v = v0; v < v1; ++v) {
            size_t o = v * W;
            vl r = LDL(ws->twist + o), ii = splatl((int64_t)i);
            vd up = -(LD(e + i * bp + o) * LD(rp + i * bp + o)) * LD(fp + (i + 1) * bp + o);
            vd z = sel(ii == r, one, sel(ii < r, up, zero));
            ST(fp + i * bp + o, z);
            ST(ws->s + o, LD(ws->s + o) + z * z);
        }
    for (size_t i = 1; i < n; ++i)
        for (size_t v = v0; v < v1; ++v) {
            size_t o = v * W;
            vl below = splatl((int64_t)i) > LDL(ws->twist + o);
            vd dn = -(LD(e + (i - 1) * bp + o) * LD(rq + i * bp + o)) * LD(fp + (i - 1) * bp + o);
            vd z = sel(below, dn, LD(fp + i * bp + o));
            ST(fp + i * bp + o, z);
            ST(ws->s + o, LD(ws->s + o) + sel(below, z * z, zero));
        }
    for (size_t b = v0 * W; b < v1 * W; ++b)
        ws->nrm[b] = 1.0 / sqrt(ws->s[b]);
}

/* Scalar twisted factorisation for one lane with rescaling, used when the vectorised
   recurrences over- or underflow (tiny pivots next to large off-diagonals). */
static void twisted_safe(kry_tridiag_ws *ws, size_t n, size_t b)
{
    const size_t bp = ws->bp;
    double lam = ws->lam[b];
    double *z = ws->fz, *rp = ws->rp, *rq = ws->rq;
    double p = guard1(ws->d[b] - lam);
    rp[b] = 1.0 / p;
    for (size_t i = 1; i < n; ++i) {
        p = guard1(ws->d[i * bp + b] - lam - ws->e2[(i - 1) * bp + b] * rp[(i - 1) * bp + b]);
        rp[i * bp + b] = 1.0 / p;
    }
    size_t m = n - 1, r = m;
    double qv = guard1(ws->d[m * bp + b] - lam);
    rq[m * bp + b] = 1.0 / qv;
    double gbest = fabs(1.0 / rp[m * bp + b]);
    for (size_t i = m; i-- > 0;) {
        double t = ws->e2[i * bp + b] * rq[(i + 1) * bp + b];
        double g = fabs(1.0 / rp[i * bp + b] - t);
        if (g < gbest) {
            gbest = g;
            r = i;
        }
        qv = guard1(ws->d[i * bp + b] - lam - t);
        rq[i * bp + b] = 1.0 / qv;
    }
    /* Both recurrences, rescaling everything so far whenever |z| grows past 2^500. */
    const double big = 0x1p500;
    for (size_t i = 0; i < n; ++i)
        z[i * bp + b] = 0.0;
    z[r * bp + b] = 1.0;
    for (size_t i = r; i-- > 0;) {
        double zi = -ws->e[i * bp + b] * rp[i * bp + b] * z[(i + 1) * bp + b];
        if (!(fabs(zi) <= big)) {
            for (size_t j = i + 1; j < n; ++j)
                z[j * bp + b] *= 0x1p-500;
            zi = -ws->e[i * bp + b] * rp[i * bp + b] * z[(i + 1) * bp + b];
            if (!isfinite(zi))
                zi = 0.0;
        }
        z[i * bp + b] = zi;
    }
    for (size_t i = r + 1; i < n; ++i) {
        double zi = -ws->e[(i - 1) * bp + b] * rq[i * bp + b] * z[(i - 1) * bp + b];
        if (!(fabs(zi) <= big)) {
            for (size_t j = 0; j < i; ++j)
                z[j * bp + b] *= 0x1p-500;
            zi = -ws->e[(i - 1) * bp + b] * rq[i * bp + b] * z[(i - 1) * bp + b];
            if (!isfinite(zi))
                zi = 0.0;
        }
        z[i * bp + b] = zi;
    }
    double amax = 0.0;
    for (size_t i = 0; i < n; ++i)
        amax = fmax(amax, fabs(z[i * bp + b]));
    double ss = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double t = z[i * bp + b] / amax;
        z[i * bp + b] = t;
        ss += t * t;
    }
    ws->nrm[b] = 1.0 / sqrt(ss);
}

/* Solves lanes [v0 W, v1 W): the part of a call one thread does. */
ALWAYS_INLINE void solve_body(job *jb)
{
    kry_tridiag_ws *ws = jb->ws;
    const kry_tridiag_batch *B = jb->batch;
    size_t n = B->n, bp = ws->bp;
    jb->passes = 0;
    if (load_range(jb))
        return;
    /* Each thread owns the slice of the active list that starts at its v0. */
    size_t *act = ws->act + jb->v0, nact = 0;
    for (size_t v = jb->v0; v < jb->v1; ++v) {
        ws->needd[v] = jb->params->warm_start != 0;
        int all = 1;
        for (int l = 0; l < W; ++l)
            all &= ws->done[v * W + l] != 0;
        if (!all)
            act[nact++] = v;
    }
    while (nact > 0 && jb->passes < MAX_PASSES) {
        sturm_pass(ws, n, act, nact);
        ++jb->passes;
        nact = update(ws, n, act, nact);
    }
    /* Lanes still running after MAX_PASSES (not seen in practice) take the midpoint. */
    for (size_t a = 0; a < nact; ++a)
        for (int l = 0; l < W; ++l) {
            size_t b = act[a] * W + (size_t)l;
            if (!ws->done[b])
                ws->lam[b] = 0.5 * (ws->lo[b] + ws->hi[b]);
        }
    size_t bend = jb->v1 * W < B->count ? jb->v1 * W : B->count;
    for (size_t b = jb->v0 * W; b < bend; ++b)
        jb->lambda[b] = ws->lam[b] / ws->scale[b];
    if (!jb->want_vec)
        return;
    if (n == 1) {
        for (size_t b = jb->v0 * W; b < bend; ++b) {
            jb->q[b * jb->ldq] = 1.0;
            if (jb->tied)
                jb->tied[b] = 0;
        }
        return;
    }
    if (jb->tied) {
        /* Tie test for all lanes at once: two count-only passes at lam +- delta;
           two or more eigenvalues in (lam - delta, lam + delta] is a tie. */
        size_t nall = 0;
        for (size_t v = jb->v0; v < jb->v1; ++v) {
            act[nall++] = v;
            ws->needd[v] = 0;
        }
        for (size_t b = jb->v0 * W; b < jb->v1 * W; ++b)
            ws->x[b] = ws->lam[b] + jb->params->tie_tol * ws->tnorm[b];
        sturm_pass(ws, n, act, nall);
        memcpy(ws->clo + jb->v0 * W, ws->cnt + jb->v0 * W, (jb->v1 - jb->v0) * W * 8);
        for (size_t b = jb->v0 * W; b < jb->v1 * W; ++b)
            ws->x[b] = ws->lam[b] - jb->params->tie_tol * ws->tnorm[b];
        sturm_pass(ws, n, act, nall);
        for (size_t b = jb->v0 * W; b < bend; ++b)
            jb->tied[b] = (unsigned char)(ws->tnorm[b] == 0.0 || ws->clo[b] - ws->cnt[b] >= 2);
    }
    twisted(ws, n, jb->v0, jb->v1);
    for (size_t b = jb->v0 * W; b < bend; ++b) {
        if (!(isfinite(ws->nrm[b]) && ws->nrm[b] > 0.0))
            twisted_safe(ws, n, b);
        double sc = ws->nrm[b], *qb = jb->q + b * jb->ldq;
        for (size_t i = 0; i < n; ++i)
            qb[i] = ws->fz[i * bp + b] * sc;
    }
}

/* The body compiled for three instruction sets; the widest the CPU supports is used. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
__attribute__((target("avx512f,avx512dq,fma"))) static void solve_avx512(job *jb)
{
    solve_body(jb);
}
__attribute__((target("avx2,fma"))) static void solve_avx2(job *jb) { solve_body(jb); }
static void solve_generic(job *jb) { solve_body(jb); }

typedef void solve_fn(job *jb);
static solve_fn *pick_solver(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return solve_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return solve_avx2;
    return solve_generic;
}
#else
static void solve_generic(job *jb) { solve_body(jb); }
typedef void solve_fn(job *jb);
static solve_fn *pick_solver(void) { return solve_generic; }
#endif

static void *thread_main(void *arg)
{
    job *jb = arg;
    pick_solver()(jb);
    return NULL;
}

enum { MAX_THREADS = 64 };

static kry_status run(kry_tridiag_ws *ws, const kry_tridiag_batch *batch, size_t k,
                      const size_t *kvec, const kry_tridiag_params *params,
                      double *lambda, double *q, size_t ldq, unsigned char *tied,
                      int want_vec, size_t *bad)
{
    if (bad)
        *bad = batch ? batch->count : 0;
    KRY_REQUIRE(ws != NULL && batch != NULL && lambda != NULL, KRY_EINVAL);
    size_t n = batch->n, count = batch->count;
    KRY_REQUIRE(n >= 1 && count >= 1 && batch->d != NULL && batch->ldd >= n, KRY_EINVAL);
    KRY_REQUIRE(n == 1 || (batch->e != NULL && batch->lde >= n - 1), KRY_EINVAL);
    KRY_REQUIRE(!want_vec || (q != NULL && ldq >= n), KRY_EINVAL);
    KRY_REQUIRE(n <= ws->n && count <= ws->cap, KRY_EDIM);
    kry_tridiag_params p = params ? *params : kry_tridiag_params_default();
    KRY_REQUIRE(isfinite(p.tol) && isfinite(p.tie_tol), KRY_EINVAL);
    if (p.tol <= 0.0)
        p.tol = 2.0 * DBL_EPSILON;
    if (p.tie_tol <= 0.0)
        p.tie_tol = 1e-10;
    if (kvec == NULL) {
        KRY_REQUIRE(k < n, KRY_EINVAL);
    } else {
        for (size_t b = 0; b < count; ++b)
            if (kvec[b] >= n) {
                if (bad)
                    *bad = b;
                return KRY_EINVAL;
            }
    }
    /* Matrices of size n live in a workspace built for size ws->n: the SoA rows are
       bp long whatever n is, so a smaller n just uses the first n rows. */
    size_t nvec = (count + W - 1) / W;
    size_t nt = p.nthreads == 0 ? 1 : p.nthreads;
    if (nt > nvec)
        nt = nvec;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    size_t started = 0;
    kry_status st = KRY_OK;
    for (size_t t = 0; t < nt; ++t) {
        job *jb = &jobs[t];
        jb->ws = ws;
        jb->batch = batch;
        jb->k = k;
        jb->kvec = kvec;
        jb->params = &p;
        jb->lambda = lambda;
        jb->q = q;
        jb->ldq = ldq;
        jb->tied = tied;
        jb->want_vec = want_vec;
        jb->v0 = nvec * t / nt;
        jb->v1 = nvec * (t + 1) / nt;
        jb->bad = count;
        jb->passes = 0;
    }
    for (size_t t = 1; t < nt; ++t) {
        if (pthread_create(&tid[t], NULL, thread_main, &jobs[t]) != 0) {
            st = KRY_ENOMEM;
            break;
        }
        started = t;
    }
    if (st == KRY_OK)
        pick_solver()(&jobs[0]);
    for (size_t t = 1; t <= started; ++t)
        pthread_join(tid[t], NULL);
    if (st != KRY_OK)
        return st;
    size_t first_bad = count, passes = 0;
    for (size_t t = 0; t < nt; ++t) {
        if (jobs[t].bad < first_bad)
            first_bad = jobs[t].bad;
        if (jobs[t].passes > passes)
            passes = jobs[t].passes;
    }
    ws->passes = passes;
    if (first_bad < count) {
        if (bad)
            *bad = first_bad;
        return KRY_ENONFINITE;
    }
    return KRY_OK;
}

kry_status kry_tridiag_eigvals(kry_tridiag_ws *ws, const kry_tridiag_batch *batch,
                               size_t k, const size_t *kvec,
                               const kry_tridiag_params *params, double *lambda,
                               size_t *bad)
{
    return run(ws, batch, k, kvec, params, lambda, NULL, 0, NULL, 0, bad);
}

kry_status kry_tridiag_eigpairs(kry_tridiag_ws *ws, const kry_tridiag_batch *batch,
                                size_t k, const size_t *kvec,
                                const kry_tridiag_params *params, double *lambda,
                                double *q, size_t ldq, unsigned char *tied, size_t *bad)
{
    return run(ws, batch, k, kvec, params, lambda, q, ldq, tied, 1, bad);
}

kry_status kry_tridiag_grad(size_t n, size_t count, const double *q, size_t ldq,
                            const double *gy, double *gd, size_t ldgd, double *ge,
                            size_t ldge)
{
    KRY_REQUIRE(n >= 1 && count >= 1 && q != NULL && gd != NULL, KRY_EINVAL);
    KRY_REQUIRE(ldq >= n && ldgd >= n, KRY_EINVAL);
    KRY_REQUIRE(n == 1 || (ge != NULL && ldge >= n - 1), KRY_EINVAL);
    for (size_t b = 0; b < count; ++b) {
        const double *qb = q + b * ldq;
        double g = gy ? gy[b] : 1.0;
        double *gdb = gd + b * ldgd;
        for (size_t i = 0; i < n; ++i)
            gdb[i] = g * qb[i] * qb[i];
        if (n > 1) {
            double *geb = ge + b * ldge, g2 = 2.0 * g;
            for (size_t i = 0; i + 1 < n; ++i)
                geb[i] = g2 * qb[i] * qb[i + 1];
        }
    }
    return KRY_OK;
}
