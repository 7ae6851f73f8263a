/* tridiag.c — batched k-th eigenpair of symmetric tridiagonal matrices (module tridiag).

   Method (MATH.md section 4): Sturm counts started from the Gershgorin interval;
   bracket shrinking by count interpolation and bisection until one end of the bracket
   is next to lambda_k; then Laguerre's method on det(T - xI), which from such a point
   converges monotonically and cubically to lambda_k (Li & Zeng, "Laguerre's iteration
   in solving the symmetric tridiagonal eigenproblem", SIAM J. Sci. Comput. 15, 1994),
   with bisection whenever a step would leave the bracket. It stops on a step below the
   tolerance or, one pass earlier, when the rate of the last two steps shows it cubic
   (see update_vector). A warm start (a guess per matrix, e.g. its eigenvalue in the
   previous training epoch) replaces the Gershgorin start; a guess just past a
   neighbour of lambda_k hops across it, and a point next to lambda_k but much nearer
   the other neighbour takes a Newton step with that neighbour deflated.

   Sturm counts: the leading and trailing minors of T - xI obey three-term recurrences
   whose sign changes count the eigenvalues below x (see sturm3_group). Evaluated with
   multiplies and FMAs only, they avoid the division per row of the LDL^T recurrence,
   whose throughput bounded the previous version of this file; exact power-of-two
   rescaling keeps them in range, and the guarded LDL^T count of LAPACK's dlaebz
   (pivots below pivmin replaced by -pivmin, pivmin = the safe minimum once every
   matrix is scaled to norm about 1) is the fallback whenever a minor pair underflows
   (a split right after a zero minor, or tiny off-diagonals).

   The eigenvector comes from the twisted factorisation (Dhillon & Parlett, "Multiple
   representations to compute orthogonal eigenvectors of symmetric tridiagonal
   matrices", LAA 387, 2004; Parlett & Dhillon, "Fernando's solution to Wilkinson's
   problem", LAA 267, 1997): forward pivots D+ and backward pivots D- of T - lambda I,
   gamma_i = D+_i - e_i^2 / D-_{i+1}, twist r = argmin |gamma_i|, then two O(n)
   recurrences from z_r = 1. The pivots are taken as ratios of the same three-term
   minors, so their divisions are off the recurrences' dependency chains.

   Layout and scheduling: matrices are copied, scaled, into structure-of-arrays form in
   vectors of W = 8 matrices with the matrix index innermost (entry i of matrix
   b = v W + l at [(v N + i) W + l], N the workspace's n, so each vector's rows are
   contiguous), and every sweep updates one SIMD vector of W matrices per step using
   GCC/Clang vector extensions. A thread keeps NS = 2 vectors in flight: it runs a
   Sturm pass over both (two vectors give enough independent recurrences to fill the
   FMA pipes), updates their brackets, and when a vector has converged it finishes it
   (values, tie test, eigenvectors) and loads the next one. So each vector is loaded
   and scaled right before its passes and its rows stay in the L1 cache for all of
   them (sweeping the whole batch in every pass would stream it from L2, which bounded
   the count passes). The solver body is compiled three times (AVX-512, AVX2+FMA and
   the baseline ISA) and chosen at run time, so the default build flags need no -march.

   Compiler notes: 64-bit integer vector compares are avoided (GCC 12 scalarises them
   even for AVX-512), so eigenvalue counts, k and twist indices are held as doubles
   (exact integers); and GCC in ISO C mode does not contract a*b + c into FMAs, which
   this file needs for speed (the Sturm recurrences are FMA chains), hence the pragma
   below. Contraction does not affect the error analysis: every bound quoted here
   holds with or without it. The pragma also drops errno from math calls (the build
   does too), so that a lane-by-lane sqrt becomes one vector instruction. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "no-math-errno")
#endif

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "isa.h"
#include "kry/tridiag.h"

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define W 8 /* lanes per SIMD vector (one AVX-512 register of doubles) */
#define NS 2 /* vectors in flight per thread */
#define MAX_PASSES 400
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef double vd __attribute__((vector_size(W * sizeof(double))));
typedef int64_t vl __attribute__((vector_size(W * sizeof(int64_t))));

struct kry_tridiag_ws {
    size_t n, cap, bp; /* capacity: matrix size, batch; bp = cap rounded up to W */
    /* bp / W vectors of n rows of W lanes (see the file comment) */
    double *d, *e, *e2, *fz, *rp, *rq;
    /* bp each. Counts, k, twist indices and lane masks as doubles (see above). */
    double *x, *lo, *hi, *lam, *wprev, *tnorm, *atol, *scale, *s, *dp, *nrm;
    double *cnt, *clo, *chi, *kk, *mode, *twist, *xt, *ct;
    double *sprev; /* the lane's previous Laguerre step (NaN: none) */
    int64_t *done, *pad; /* lane masks: converged (or padding); padding */
    unsigned char *needd; /* per vector: next pass must compute G and H */
    size_t *npass;        /* per vector: passes so far */
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

enum { N_SOA = 6, N_LANE_D = 20, N_LANE_L = 2 };

size_t kry_tridiag_ws_bytes(size_t n, size_t batch)
{
    size_t bp = round_up(batch, W);
    return sizeof(kry_tridiag_ws) + (N_SOA * n * bp + (N_LANE_D + N_LANE_L) * bp) * 8 +
           (bp / W) * (1 + sizeof(size_t)) + 64 * (N_SOA + N_LANE_D + N_LANE_L + 2);
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
    double **lane[N_LANE_D] = {&ws->x,     &ws->lo,  &ws->hi,  &ws->lam,   &ws->wprev,
                               &ws->tnorm, &ws->atol, &ws->scale, &ws->s,   &ws->dp,
                               &ws->nrm,   &ws->cnt, &ws->clo, &ws->chi,   &ws->kk,
                               &ws->mode,  &ws->twist, &ws->xt, &ws->ct,   &ws->sprev};
    for (int i = 0; i < N_LANE_D; ++i)
        *lane[i] = alloc64(bp, &failed);
    ws->done = alloc64(bp, &failed);
    ws->pad = alloc64(bp, &failed);
    ws->needd = malloc(bp / W);
    ws->npass = malloc((bp / W) * sizeof(size_t));
    if (failed || ws->needd == NULL || ws->npass == NULL) {
        kry_tridiag_ws_free(ws);
        return NULL;
    }
    return ws;
}

void kry_tridiag_ws_free(kry_tridiag_ws *ws)
{
    if (ws == NULL)
        return;
    double *dbl[] = {ws->d,     ws->e,    ws->e2,   ws->fz,  ws->rp,    ws->rq,
                     ws->x,     ws->lo,   ws->hi,   ws->lam, ws->wprev, ws->tnorm,
                     ws->atol,  ws->scale, ws->s,   ws->dp,  ws->nrm,   ws->cnt,
                     ws->clo,   ws->chi,  ws->kk,   ws->mode, ws->twist, ws->xt,
                     ws->ct,    ws->sprev};
    for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; ++i)
        free(dbl[i]);
    free(ws->done);
    free(ws->pad);
    free(ws->needd);
    free(ws->npass);
    free(ws);
}

size_t kry_tridiag_ws_passes(const kry_tridiag_ws *ws) { return ws ? ws->passes : 0; }

/* ---------------------------------------------------------------- SIMD helpers */

#define LD(p) (*(const vd *)(const void *)(p))
#define LDL(p) (*(const vl *)(const void *)(p))
#define ST(p, v) (*(vd *)(void *)(p) = (v))
#define STL(p, v) (*(vl *)(void *)(p) = (v))

ALWAYS_INLINE vl splatl(int64_t a)
{
    vl v = {a, a, a, a, a, a, a, a};
    return v;
}

/* A broadcast, made as one of the bits: for a double that is not a constant, GCC 12
   expands {a, a, ..., a} for AVX-512 into a chain of eight masked broadcasts, while
   the integer broadcast is one instruction (constants fold either way). */
ALWAYS_INLINE vd splat(double a)
{
    int64_t b;
    memcpy(&b, &a, sizeof b);
    return (vd)splatl(b);
}

/* An unaligned load of W doubles. */
ALWAYS_INLINE vd ldu(const double *p)
{
    vd v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* m ? a : b for a lane mask m (all ones or all zeros per lane). */
ALWAYS_INLINE vd sel(vl m, vd a, vd b) { return (vd)((m & (vl)a) | (~m & (vl)b)); }
ALWAYS_INLINE vd vabs(vd a) { return (vd)((vl)a & splatl(INT64_MAX)); }
ALWAYS_INLINE vd vmax(vd a, vd b) { return sel(a > b, a, b); }
ALWAYS_INLINE vd vmin(vd a, vd b) { return sel(a < b, a, b); }

/* Lane masks from compares: mk((vl)(a < b)). GCC 12 lowers a vector compare whose
   result is combined with other masks by & and | to scalar code, lane by lane (even
   for AVX-512, where it has no vector-valued compare, only k-masks, and combining
   masks made it give up). Passing the mask through a floating-point add of zero,
   which it cannot fold (-0 + 0 = +0), makes it materialise the compare as a vector
   first. All ones is a quiet NaN pattern that x86 leaves unchanged by the add; other
   targets keep the plain compare. */
#if defined(__x86_64__) || defined(__i386__)
ALWAYS_INLINE vl mk(vl m) { return (vl)((vd)m + splat(0.0)); }
#else
ALWAYS_INLINE vl mk(vl m) { return m; }
#endif

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

/* Exact conversion of integers 0 <= c < 2^51 to double, on any instruction set. */
ALWAYS_INLINE vd i2d(vl c)
{
    return (vd)(c | splatl(0x4330000000000000)) - splat(0x1p52);
}

/* sqrt(q) lane by lane, correctly rounded: without errno to set (see the pragma
   above), GCC turns the loop into one vector square root (vsqrtpd). It scales
   Laguerre steps, and the last one is accepted without a confirming pass (see
   update_vector), so its error must stay far below the tolerance over the step. */
ALWAYS_INLINE vd vsqrt(vd q)
{
    vd r;
    _Pragma("GCC unroll 8") for (int l = 0; l < W; ++l) r[l] = sqrt(q[l]);
    return r;
}

/* The dlaebz guard: a pivot of magnitude below pivmin becomes -pivmin. */
ALWAYS_INLINE vd guard(vd p) { return sel(vabs(p) < splat(DBL_MIN), splat(-DBL_MIN), p); }

static double guard1(double p) { return fabs(p) < DBL_MIN ? -DBL_MIN : p; }

/* 8 x 8 transpose: row j of the result holds entry j of every input vector. */
ALWAYS_INLINE void transpose8(vd r[8])
{
    const vl lo2 = {0, 8, 2, 10, 4, 12, 6, 14}, hi2 = {1, 9, 3, 11, 5, 13, 7, 15};
    const vl lo4 = {0, 1, 8, 9, 4, 5, 12, 13}, hi4 = {2, 3, 10, 11, 6, 7, 14, 15};
    const vl lo8 = {0, 1, 2, 3, 8, 9, 10, 11}, hi8 = {4, 5, 6, 7, 12, 13, 14, 15};
    vd t[8], u[8];
    _Pragma("GCC unroll 8") for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shuffle(r[i], r[i + 1], lo2);
        t[i + 1] = __builtin_shuffle(r[i], r[i + 1], hi2);
    }
    _Pragma("GCC unroll 8") for (int i = 0; i < 8; i += 4)
        _Pragma("GCC unroll 8") for (int j = 0; j < 2; ++j) {
            u[i + j] = __builtin_shuffle(t[i + j], t[i + j + 2], lo4);
            u[i + j + 2] = __builtin_shuffle(t[i + j], t[i + j + 2], hi4);
        }
    _Pragma("GCC unroll 8") for (int j = 0; j < 4; ++j) {
        r[j] = __builtin_shuffle(u[j], u[j + 4], lo8);
        r[j + 4] = __builtin_shuffle(u[j], u[j + 4], hi8);
    }
}

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
    size_t passes;   /* most passes any vector of the range needed */
} job;

/* Offset of row 0 of vector v in the SoA arrays. */
ALWAYS_INLINE size_t vbase(const kry_tridiag_ws *ws, size_t v) { return v * ws->n * W; }

/* Per lane, a power of two s with a s in [0.5, 1) for a normal a > 0 below 2^1022,
   from the exponent bits (exact); larger a get a subnormal power of two, subnormal a
   get 2^1022 (a s then lies in [2^-52, 1)) and 0 gets 1. The special cases are chosen
   by floating-point compares (see the compiler notes). */
ALWAYS_INLINE vd scale_for(vd a)
{
    typedef uint64_t vu __attribute__((vector_size(W * sizeof(uint64_t))));
    vd r = (vd)((vu)(splatl(2045) - ((vl)a >> 52)) << 52);
    r = sel(mk((vl)(a >= splat(0x1p1022))),
            sel(mk((vl)(a >= splat(0x1p1023))), splat(0x1p-1024), splat(0x1p-1023)), r);
    r = sel(mk((vl)(a < splat(DBL_MIN))), splat(0x1p1022), r);
    return sel(mk((vl)(a == splat(0.0))), splat(1.0), r);
}

/* Loads vector v (matrices v W .. v W + W - 1): copies and scales its matrices into
   SoA form and sets up each lane's bracket. Two sweeps: the first transposes blocks
   of 8 rows from the caller's layout in registers and stores them unscaled, while
   finding each lane's largest magnitude and whether every entry is finite (a sum of
   x * 0 is NaN exactly when some x is Inf or NaN); the second, over the rows now in
   the L1 cache, scales them and stores d, e^2 (and e when the eigenvectors are
   wanted) while accumulating the Gershgorin interval. Every step works on all W lanes
   at once. Returns 0, or 1 after recording the first non-finite matrix. */
ALWAYS_INLINE int load_vector(job *jb, size_t v)
{
    kry_tridiag_ws *ws = jb->ws;
    const kry_tridiag_batch *B = jb->batch;
    const size_t n = B->n, count = B->count, o = v * W, base = vbase(ws, v);
    const int keep_e = jb->want_vec;
    const double *dl[W], *el[W];
    int nreal = 0;
    for (int l = 0; l < W; ++l) {
        size_t b = o + (size_t)l;
        /* Padding lanes read the vector's first matrix and get the scale 0. */
        int real = b < count;
        nreal += real;
        dl[l] = B->d + (real ? b : o) * B->ldd;
        el[l] = n > 1 ? B->e + (real ? b : o) * B->lde : dl[l];
    }
    double *dv = ws->d + base, *ev = ws->e + base, *e2v = ws->e2 + base;
    const vd zero = splat(0.0);
    /* Sweep 1: raw rows into d and e (e's last row is 0); two accumulator pairs. */
    vd am[2] = {zero, zero}, ck[2] = {zero, zero};
    size_t i = 0;
    for (; i + 8 <= n - 1; i += 8) {
        vd rd[8], re[8];
        _Pragma("GCC unroll 8") for (int l = 0; l < W; ++l) {
            rd[l] = ldu(dl[l] + i);
            re[l] = ldu(el[l] + i);
        }
        transpose8(rd);
        transpose8(re);
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j) {
            ST(dv + (i + (size_t)j) * W, rd[j]);
            ST(ev + (i + (size_t)j) * W, re[j]);
            am[j & 1] = vmax(am[j & 1], vmax(vabs(rd[j]), vabs(re[j])));
            ck[j & 1] += rd[j] * zero + re[j] * zero;
        }
    }
    for (; i < n; ++i) {
        vd di, ei = zero;
        for (int l = 0; l < W; ++l) {
            di[l] = dl[l][i];
            if (i + 1 < n)
                ei[l] = el[l][i];
        }
        ST(dv + i * W, di);
        ST(ev + i * W, ei);
        am[0] = vmax(am[0], vmax(vabs(di), vabs(ei)));
        ck[0] += di * zero + ei * zero;
    }
    vd lane = {0, 1, 2, 3, 4, 5, 6, 7};
    vl pad = mk((vl)(lane >= splat((double)(count - o))));
    vd ckv = ck[0] + ck[1];
    if (any_lane(~pad & mk((vl)(ckv != zero)))) {
        for (int l = 0; l < nreal; ++l)
            if (ckv[l] != 0.0) {
                size_t b = o + (size_t)l;
                if (b < jb->bad)
                    jb->bad = b;
                break;
            }
        return 1;
    }
    vd sc = sel(pad, zero, scale_for(vmax(am[0], am[1])));
    /* Sweep 2: scale, square; Gershgorin with two accumulator pairs. */
    vd glo[2] = {splat(INFINITY), splat(INFINITY)}, ghi[2] = {-glo[0], -glo[0]};
    vd eprev = zero;
    for (i = 0; i < n; ++i) {
        vd di = LD(dv + i * W) * sc, ei = LD(ev + i * W) * sc;
        vd aei = vabs(ei), rad = eprev + aei;
        ST(dv + i * W, di);
        ST(e2v + i * W, ei * ei);
        if (keep_e)
            ST(ev + i * W, ei);
        glo[i & 1] = vmin(glo[i & 1], di - rad);
        ghi[i & 1] = vmax(ghi[i & 1], di + rad);
        eprev = aei;
    }
    vd lo = vmin(glo[0], glo[1]), hi = vmax(ghi[0], ghi[1]);
    /* Lane set-up, vectorised. Widen the bracket as LAPACK's dstebz does, so that
       rounding in the counts cannot exclude an eigenvalue. */
    vd tn = vmax(vabs(lo), vabs(hi));
    vd fudge = splat(2.0 * DBL_EPSILON * (double)n) * tn + splat(4.0 * DBL_MIN);
    lo -= fudge;
    hi += fudge;
    vl done = pad | mk((vl)(tn == zero));
    if (n == 1)
        done = splatl(-1);
    vd kk = splat((double)jb->k), x = splat(0.5) * (lo + hi);
    if (jb->kvec)
        for (int l = 0; l < nreal; ++l)
            kk[l] = (double)jb->kvec[o + (size_t)l];
    if (jb->params->warm_start) {
        /* Guesses strictly inside the bracket (so finite) replace the midpoint. */
        vd g = splat(NAN);
        for (int l = 0; l < nreal; ++l)
            g[l] = jb->lambda[o + (size_t)l];
        g *= sc;
        x = sel(mk((vl)(g > lo)) & mk((vl)(g < hi)), g, x);
    }
    ST(ws->scale + o, sel(pad, splat(1.0), sc));
    ST(ws->lo + o, lo);
    ST(ws->hi + o, hi);
    ST(ws->x + o, x);
    ST(ws->tnorm + o, tn);
    ST(ws->atol + o, splat(jb->params->tol) * tn + splat(4.0 * DBL_MIN));
    ST(ws->kk + o, kk);
    ST(ws->clo + o, zero);
    ST(ws->chi + o, splat((double)n));
    ST(ws->wprev + o, hi - lo);
    ST(ws->mode + o, zero);
    ST(ws->sprev + o, splat(NAN));
    /* 1 x 1 and zero matrices: the eigenvalue is the diagonal entry. */
    ST(ws->lam + o, LD(dv));
    STL(ws->done + o, done);
    STL(ws->pad + o, pad);
    ws->needd[v] = (unsigned char)(jb->params->warm_start != 0);
    ws->npass[v] = 0;
    return 0;
}

/* ---------------------------------------------------------------- Sturm passes */

/* One member of a Sturm pass: a vector of W matrices and W shifts. */
typedef struct member {
    size_t o;           /* lane offset of the vector: v * W */
    size_t base;        /* offset of its row 0 in the SoA arrays: vbase(ws, v) */
    const double *x;    /* the W shifts */
    double *cnt;        /* out: number of eigenvalues below x, per lane */
    const int64_t *ign; /* lanes whose breakdown does not matter (done or padding) */
} member;

/* Rows between two rescalings of the three-term recurrences. Per row the pair
   (u_j, u_{j-1}) grows at most by |d_j - x| + e_{j-1}^2 <= 5 (entries below 1 after
   scaling, x inside the widened Gershgorin interval), so 16 rows grow it by < 2^38. */
#define RB 16

/* A power of two f with (|u| + |v|) f in [1, 2), for rescaling a recurrence pair
   exactly. Lanes where |u| + |v| < 2^-900 are ORed into *bad: there the pair may have
   underflowed. (Within RB rows of a pair >= 2^-900 the pair stays above 2^-970, so
   rounding is still relative to the pair's size; an underflowing single member of a
   pair is harmless, its absolute error being far below the rounding of its neighbour.) */
ALWAYS_INLINE vd rescale(vd u, vd v, vl *bad)
{
    vd s = vabs(u) + vabs(v);
    *bad |= mk((vl)(s < splat(0x1p-900)));
    return (vd)((splatl(2046) - ((vl)s >> 52)) << 52);
}

/* One Sturm pass for G members at once (G, and dmask, whose bit g asks for G and H of
   member g, are compile-time constants at every call, so the loops unroll and two
   members give the FMA pipes enough independent work). Without divisions: with
   a_j = d_j - x and b_j = e_j^2, the leading minors of T - xI obey
   u_j = a_j u_{j-1} - b_{j-1} u_{j-2} (u_{-1} = 1, u_{-2} = 0) and the trailing ones
   w_j = a_j w_{j+1} - b_j w_{j+2} (w_n = 1, w_{n+1} = 0). The LDL^T pivots are their
   ratios, so the number of negative pivots (Sylvester: the number of eigenvalues below
   x) is the number of sign changes. The two recurrences run towards the middle row
   m = n/2 (as in the twisted factorisation of LAPACK's dlaneg, halving the dependency
   chain) and meet in
     f(x) = det(T - xI) = u_{m-1} w_m - b_{m-1} u_{m-2} w_{m+1},
   the twist pivot being gamma_m = f / (u_{m-1} w_{m+1}), so
     count = changes(u_{-1..m-1}) + changes(w_{n..m+1}) + [sign f != sign(u_{m-1} w_{m+1})].
   Why no division: each row then costs one multiply and one FMA on the critical path
   instead of a division, whose throughput bounded the LDL^T pass.
   Accuracy: the computed u_j are, up to a positive factor per row, the exact minors of
   a matrix whose d_j - x and e_j^2 carry relative perturbations of a few ulps, so the
   count is as backward stable as the LDL^T count (Wilkinson, The Algebraic Eigenvalue
   Problem, 5.39); exact powers of two rescale the pairs every RB rows. An exact zero
   u_j between nonzero neighbours adds exactly one sign change whatever the sign of the
   zero, as the pivmin guard does (u_{j+1} = -b_j u_{j-1}). A zero pair (a split right
   after a zero minor) or an underflowing pair is flagged by rescale(); the function
   then returns a bit mask of the flagged members and the caller redoes each of them
   with ldl_one(), so a lane's result never depends on which vector shares its pass.
   For deriv members the same recurrences differentiated in x (a_j' = -1) give f' and
   f'', hence G = f'/f = sum_j 1/(x - lambda_j) and H = G^2 - f''/f =
   sum_j 1/(x - lambda_j)^2 for the Laguerre step (into ws->s and ws->dp). */
ALWAYS_INLINE int sturm3_group(kry_tridiag_ws *ws, size_t n, const member *mb, int G,
                               int dmask)
{
    const size_t m = n / 2, nb = n - 1 - m;
    const vd one = splat(1.0), zero = splat(0.0), two = splat(2.0);
    /* Forward state: (uf, vf) = (u_j, u_{j-1}) with derivatives (duf, dvf) and second
       derivatives (hf, hvf); backward state likewise. */
    vd x[NS], uf[NS], vf[NS], ub[NS], vb[NS];
    vd duf[NS], dvf[NS], hf[NS], hvf[NS], dub[NS], dvb[NS], hb[NS], hvb[NS];
    vl c[NS], bad[NS];
    const double *d[NS], *e2[NS];
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        const int dv = (dmask >> g) & 1;
        d[g] = ws->d + mb[g].base;
        e2[g] = ws->e2 + mb[g].base;
        x[g] = LD(mb[g].x);
        bad[g] = splatl(0);
        uf[g] = LD(d[g]) - x[g];
        vf[g] = one;
        c[g] = (vl)uf[g] >> 63;
        if (nb > 0) {
            ub[g] = LD(d[g] + (n - 1) * W) - x[g];
            vb[g] = one;
            c[g] += (vl)ub[g] >> 63;
        } else {
            ub[g] = one;
            vb[g] = zero;
        }
        if (dv) {
            duf[g] = -one;
            dvf[g] = zero;
            hf[g] = zero;
            hvf[g] = zero;
            dub[g] = nb > 0 ? -one : zero;
            dvb[g] = zero;
            hb[g] = zero;
            hvb[g] = zero;
        }
    }
    /* Forward rows 1..m-1 and backward rows n-2..m+1 side by side (nb - 1 <= m - 1). */
    for (size_t i0 = 1; i0 < m; i0 += RB) {
        size_t i1 = i0 + RB < m ? i0 + RB : m;
        for (size_t i = i0; i < i1; ++i) {
            const size_t j = n - 1 - i;
            const int back = i < nb;
            _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
                const int dv = (dmask >> g) & 1;
                vd a = LD(d[g] + i * W) - x[g], b = LD(e2[g] + (i - 1) * W);
                vd un = a * uf[g] - b * vf[g];
                c[g] += ((vl)un ^ (vl)uf[g]) >> 63;
                if (dv) {
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
                    vd ab = LD(d[g] + j * W) - x[g], bb = LD(e2[g] + j * W);
                    vd wn = ab * ub[g] - bb * vb[g];
                    c[g] += ((vl)wn ^ (vl)ub[g]) >> 63;
                    if (dv) {
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
            const int dv = (dmask >> g) & 1;
            vd f = rescale(uf[g], vf[g], &bad[g]);
            uf[g] *= f;
            vf[g] *= f;
            vd fb = rescale(ub[g], vb[g], &bad[g]);
            ub[g] *= fb;
            vb[g] *= fb;
            if (dv) {
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
    int flagged = 0;
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        const int dv = (dmask >> g) & 1;
        flagged |= any_lane(bad[g] & ~LDL(mb[g].ign)) << g;
        vd a = LD(d[g] + m * W) - x[g], bL = LD(e2[g] + (m - 1) * W),
           bR = LD(e2[g] + m * W);
        vd wm = a * ub[g] - bR * vb[g];
        vd f = uf[g] * wm - bL * (vf[g] * ub[g]);
        c[g] += ((vl)f ^ (vl)uf[g] ^ (vl)ub[g]) >> 63;
        ST(mb[g].cnt, i2d(-c[g]));
        if (dv) {
            vd dwm = a * dub[g] - (ub[g] + bR * dvb[g]);
            vd hwm = a * hb[g] - (two * dub[g] + bR * hvb[g]);
            vd df = duf[g] * wm + uf[g] * dwm - bL * (dvf[g] * ub[g] + vf[g] * dub[g]);
            vd hf2 = hf[g] * wm + two * duf[g] * dwm + uf[g] * hwm -
                     bL * (hvf[g] * ub[g] + two * dvf[g] * dub[g] + vf[g] * hb[g]);
            /* f == 0: x is an eigenvalue to working accuracy; a tiny f keeps G and H
               finite (huge), so the Laguerre step is (nearly) zero. */
            f = sel(f == zero, splat(DBL_MIN), f);
            vd rf = one / f, gg = df * rf;
            ST(ws->s + mb[g].o, gg);
            ST(ws->dp + mb[g].o, gg * gg - hf2 * rf);
        }
    }
    return flagged;
}

/* The same pass for one member with the guarded LDL^T recurrence of LAPACK's dlaebz,
   the fallback for members flagged by sturm3_group: every pivot passes the pivmin
   guard, so it never breaks down. Forward pivots p_i (i < m) and backward pivots q_i
   (i > m) meet in the twist pivot gamma = d_m - x - e_{m-1}^2 / p_{m-1} -
   e_m^2 / q_{m+1}, and count = #{p_i < 0} + #{q_i < 0} + [gamma < 0]. With deriv,
   G = sum u'/u and H = sum ((u'/u)^2 - u''/u) over all pivots u (and gamma), with u'
   and u'' from differentiating the pivot recurrences. */
ALWAYS_INLINE void ldl_one(kry_tridiag_ws *ws, size_t n, const member *mb, int deriv)
{
    const size_t m = n / 2, nb = n - 1 - m, o = mb->o;
    const double *d = ws->d + mb->base, *e2 = ws->e2 + mb->base;
    const vd one = splat(1.0), zero = splat(0.0), two = splat(2.0);
    const vd x = LD(mb->x);
    vd rb = zero, db = zero, fb = zero;
    vd p = guard(LD(d) - x);
    vd rf = one / p, df = -one, ff = zero, s = -rf, h = rf * rf;
    vl c = (vl)p >> 63;
    if (nb > 0) {
        vd q = guard(LD(d + (n - 1) * W) - x);
        rb = one / q;
        db = -one;
        s -= rb;
        h += rb * rb;
        c += (vl)q >> 63;
    }
    for (size_t j = 1; j < m; ++j) {
        vd t = LD(e2 + (j - 1) * W) * rf;
        p = guard((LD(d + j * W) - x) - t);
        vd tr = t * rf;
        if (deriv) {
            ff = tr * (ff - two * df * df * rf);
            df = tr * df - one;
        }
        rf = one / p;
        if (deriv) {
            vd u = df * rf;
            s += u;
            h += u * u - ff * rf;
        }
        c += (vl)p >> 63;
        if (j < nb) {
            size_t ib = n - 1 - j;
            vd tb = LD(e2 + ib * W) * rb;
            vd q = guard((LD(d + ib * W) - x) - tb);
            vd trb = tb * rb;
            if (deriv) {
                fb = trb * (fb - two * db * db * rb);
                db = trb * db - one;
            }
            rb = one / q;
            if (deriv) {
                vd ub = db * rb;
                s += ub;
                h += ub * ub - fb * rb;
            }
            c += (vl)q >> 63;
        }
    }
    vd tf = LD(e2 + (m - 1) * W) * rf, tb = LD(e2 + m * W) * rb;
    vd gam = guard((LD(d + m * W) - x) - tf - tb);
    if (deriv) {
        vd trf = tf * rf, trb = tb * rb;
        vd dg = trf * df + trb * db - one;
        vd fg = trf * (ff - two * df * df * rf) + trb * (fb - two * db * db * rb);
        vd rg = one / gam, u = dg * rg;
        s += u;
        h += u * u - fg * rg;
        ST(ws->s + o, s);
        ST(ws->dp + o, h);
    }
    c += (vl)gam >> 63;
    ST(mb->cnt, i2d(-c));
}

/* A Sturm pass over G members, redoing flagged members with the LDL^T recurrence. */
ALWAYS_INLINE void sturm_pass(kry_tridiag_ws *ws, size_t n, const member *mb, int G,
                              int dmask)
{
    int flagged = sturm3_group(ws, n, mb, G, dmask);
    for (int g = 0; flagged != 0; ++g, flagged >>= 1)
        if (flagged & 1)
            ldl_one(ws, n, mb + g, (dmask >> g) & 1);
}

/* ---------------------------------------------------------------- bracket updates */

/* Updates the brackets of vector v from the counts at x and picks every live lane's
   next point; returns nonzero when all lanes of v have converged. */
ALWAYS_INLINE int update_vector(kry_tridiag_ws *ws, size_t n, size_t v)
{
    const size_t o = v * W;
    const vd half = splat(0.5), eps4 = splat(4.0 * DBL_EPSILON), zero = splat(0.0);
    const vd one = splat(1.0), two = splat(2.0), nn = splat((double)n);
    const vd nm1 = splat((double)n - 1.0);
    vl done = LDL(ws->done + o), live = ~done;
    vd x = LD(ws->x + o), lo = LD(ws->lo + o), hi = LD(ws->hi + o);
    vd c = LD(ws->cnt + o), k = LD(ws->kk + o);
    vd clo = LD(ws->clo + o), chi = LD(ws->chi + o);
    vl below = mk((vl)(c <= k)), left = live & below, right = live & ~below;
    lo = sel(left, x, lo);
    clo = sel(left, c, clo);
    hi = sel(right, x, hi);
    chi = sel(right, c, chi);

    vd w = hi - lo;
    vd tol = vmax(LD(ws->atol + o), eps4 * vmax(vabs(lo), vabs(hi)));
    /* Laguerre's method for f(x) = det(T - xI), a polynomial of degree n with real
       roots: from x in (lambda_{k-1}, lambda_k] (count k) the point x + n / (S - G)
       lies in (x, lambda_k], and from x in (lambda_k, lambda_{k+1}) (count k + 1) the
       point x - n / (S + G) lies in [lambda_k, x), where S = sqrt((n-1)(nH - G^2)).
       So the iteration approaches lambda_k monotonically and cubically once one point
       next to it is known; no full isolation is needed. Rounding that throws a step
       out of the bracket falls back to bisection. */
    vl hasd = splatl(ws->needd[v] ? -1 : 0);
    vd G = LD(ws->s + o), H = LD(ws->dp + o);
    vd S = vsqrt(vmax(nm1 * (nn * H - G * G), zero));
    vl adjl = mk((vl)(c == k)), adjr = mk((vl)(c == k + one)), adj = hasd & (adjl | adjr);
    /* Towards larger x when c <= k (then lambda_k >= x), else towards smaller x. */
    vl up = mk((vl)(c <= k));
    vd step = nn / sel(up, S - G, -(S + G));
    vd xn = x + step, astep = vabs(step);
    vl inside = mk((vl)(xn > lo)) & mk((vl)(xn < hi));
    vl lag = adj & inside;
    /* A step below the tolerance ends the iteration even when x + step rounds onto x
       itself (an end of the bracket). A tiny step is also what Laguerre gives from a
       point just past the wrong neighbour (x just above lambda_{k-1} with count k);
       there G = sum 1/(x - lambda_j) is large and positive, while next to lambda_k it
       is large and negative (positive from the right), so the sign of G tells the two
       apart. */
    vl gside = (adjl & mk((vl)(G < zero))) | (adjr & mk((vl)(G > zero)));
    /* The last Laguerre step is also accepted without a confirming pass when the
       observed rate shows the iteration in its cubic phase: with rho = |step| /
       |previous Laguerre step| <= 1e-3, e_{j+1} ~ K e_j^3 predicts the error left after
       this step as rho^3 |step|, accepted below tol / 8 (compared without dividing:
       |step|^4 <= tol / 8 |previous|^3). Laguerre's K depends on the other roots as
       seen from x, which moves by less than the previous step, so once rho is that
       small K no longer changes much; the tests' 1e-13 ||T|| is 200 times tol. This
       saves the pass that would only confirm a sub-ulp step. */
    vd asp = vabs(LD(ws->sprev + o)), asp3 = asp * asp * asp, as2 = astep * astep;
    vl fast = mk((vl)(astep <= splat(1e-3) * asp)) &
              mk((vl)(as2 * as2 <= splat(0.125) * tol * asp3));
    vl nconv = adj & gside & (mk((vl)(astep <= tol)) | fast);
    vl conv = live & (mk((vl)(w <= tol)) | nconv);
    vd mid = half * (lo + hi);

    /* Far from lambda_k: interpolate the eigenvalue count linearly across the bracket
       (aiming at count k + 1/2), kept off the ends, unless the previous interpolation
       step failed to halve the bracket; then bisect. Modes: 0 interpolate, 1 the last
       step interpolated, 3 otherwise. */
    vd mode = LD(ws->mode + o), wprev = LD(ws->wprev + o);
    vd frac = (k - clo + half) / (chi - clo);
    frac = vmin(splat(0.9375), vmax(splat(0.0625), frac));
    vd xi = lo + frac * w;
    vl m1 = mk((vl)(mode == one));
    vl interp_ok = mk((vl)(mode == zero)) | (m1 & mk((vl)(w <= half * wprev)));
    /* A point just past a neighbour of lambda_k (a warm start across lambda_{k-1} or
       lambda_{k+1}: count k - 1 or k + 2) still has a Laguerre step towards lambda_k:
       it lands in [lambda_{k+1}, x) or (x, lambda_{k-1}], about as far as that
       neighbour. Twice that step hops across it, next to lambda_k unless lambda_k is
       nearer the neighbour than the step (the next point then has a tighter bracket).
       Only the first point, the guess, hops: elsewhere, and further off, interpolating
       the counts did better. */
    vl hopin = splatl(0);
    vd xnext = sel(interp_ok, xi, mid);
    if (ws->npass[v] == 1 && ws->needd[v]) {
        vl far = live & ~conv & (mk((vl)(c == k - one)) | mk((vl)(c == k + two)));
        vd hop = x + two * step;
        hopin = far & mk((vl)(hop > lo)) & mk((vl)(hop < hi));
        xnext = sel(hopin, hop, xnext);
    }
    xnext = sel(lag, xn, xnext);
    /* Next to lambda_k but nearer the root on the other side (the sign of G says so,
       as above), Laguerre's steps towards lambda_k start about as small as the
       distance to that root and grow only slowly. Then that root r is removed from G
       instead: Laguerre's step away from lambda_k estimates it well (it is the nearest
       root), and so does 1 / (x - r) the term of G it stands for, so
       G1 = G - 1 / (x - r) = sum over the other roots, dominated by lambda_k; the
       Newton step -1 / G1 of det(T - xI) / (x - r) is taken when it goes further
       than Laguerre's. */
    vl wrong = lag & ~conv & ~gside;
    if (any_lane(wrong)) {
        vd so = nn / sel(up, -(S + G), S - G);
        vd xw = x - one / (G + one / so);
        vl wok = wrong & mk((vl)(xw > lo)) & mk((vl)(xw < hi)) &
                 mk((vl)(vabs(xw - x) > astep)) & ~(mk((vl)(xw > x)) ^ up);
        xnext = sel(wok, xw, xnext);
        lag &= ~wok;
    }
    vd newmode = sel(interp_ok & ~lag, one, splat(3.0));
    newmode = sel(m1 & ~interp_ok, zero, newmode);
    newmode = sel(hopin, zero, newmode);
    ST(ws->mode + o, sel(live, newmode, mode));
    ST(ws->wprev + o, sel(live, w, wprev));

    vd fin = sel(nconv, vmax(lo, vmin(xn, hi)), mid);
    ST(ws->lam + o, sel(conv, fin, LD(ws->lam + o)));
    ST(ws->x + o, sel(live, xnext, x));
    ST(ws->sprev + o, sel(lag, step, splat(NAN)));
    ST(ws->lo + o, lo);
    ST(ws->hi + o, hi);
    ST(ws->clo + o, clo);
    ST(ws->chi + o, chi);
    done |= conv;
    STL(ws->done + o, done);
    /* Derivatives are worth computing at the next point when it will likely lie next
       to lambda_k: the bracket already has an end there. */
    vl want = ~done & (mk((vl)(clo == k)) | mk((vl)(chi == k + one)) | hopin);
    ws->needd[v] = (unsigned char)any_lane(want);
    return !any_lane(~done);
}

/* ---------------------------------------------------------------- eigenvectors */

/* Eigenvectors of the G vectors vs[] at the converged lam, by twisted factorisation;
   leaves z in ws->fz and 1/||z|| in ws->nrm (NaN for lanes the scalar fallback must
   redo). The pivots come from the three-term minors of T - lam I (see sturm3_group):
   D+_i = u_i / u_{i-1} and D-_i = w_i / w_{i+1}, so the recurrences are FMA chains and
   the reciprocal pivots rp_i = u_{i-1} / u_i and rq_i = w_{i+1} / w_i, the only
   divisions, are off them (the LDL^T recurrence has its division on the chain, which
   made this stage latency-bound). They are the pivots of the guard-free LDL^T
   factorisation: an exact zero pivot shows up as an infinite reciprocal, which makes
   z non-finite where the recurrences below cross it, and such lanes (like lanes whose
   minors underflow) go to twisted_safe(), which has LAPACK's pivmin guard.
   The twist r minimises |gamma_i| = |D+_i - e_i^2 rq_{i+1}| = |1 - t_i| / |rp_i| with
   t_i = e_i^2 rq_{i+1} rp_i, compared by cross-multiplication (no division; a NaN
   from an infinite reciprocal never compares smaller). Then z_r = 1,
   z_i = -e_i rp_i z_{i+1} above r and z_i = -e_{i-1} rq_i z_{i-1} below. */
ALWAYS_INLINE void twisted_group(kry_tridiag_ws *ws, size_t n, const size_t *vs, int G)
{
    const size_t m = n - 1;
    const vd one = splat(1.0), zero = splat(0.0);
    const double *d[NS], *e[NS], *e2[NS];
    double *z[NS], *rp[NS], *rq[NS];
    vd lam[NS], uf[NS], vf[NS], ub[NS], vb[NS], r[NS], s[NS], zc[NS];
    vl bad[NS];
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        const size_t base = vbase(ws, vs[g]);
        d[g] = ws->d + base;
        e[g] = ws->e + base;
        e2[g] = ws->e2 + base;
        z[g] = ws->fz + base;
        rp[g] = ws->rp + base;
        rq[g] = ws->rq + base;
        lam[g] = LD(ws->lam + vs[g] * W);
        bad[g] = splatl(0);
        /* u_0 = d_0 - lam over u_{-1} = 1; w_{n-1} = d_{n-1} - lam over w_n = 1. */
        uf[g] = LD(d[g]) - lam[g];
        vf[g] = one;
        ST(rp[g], one / uf[g]);
        ub[g] = LD(d[g] + m * W) - lam[g];
        vb[g] = one;
        ST(rq[g] + m * W, one / ub[g]);
    }
    /* Forward rows 1..n-1 and backward rows n-2..0 side by side. */
    for (size_t i0 = 1; i0 < n; i0 += RB) {
        size_t i1 = i0 + RB < n ? i0 + RB : n;
        for (size_t i = i0; i < i1; ++i) {
            const size_t j = m - i;
            _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
                vd un = (LD(d[g] + i * W) - lam[g]) * uf[g] - LD(e2[g] + (i - 1) * W) * vf[g];
                ST(rp[g] + i * W, uf[g] / un);
                vf[g] = uf[g];
                uf[g] = un;
                vd wn = (LD(d[g] + j * W) - lam[g]) * ub[g] - LD(e2[g] + j * W) * vb[g];
                ST(rq[g] + j * W, ub[g] / wn);
                vb[g] = ub[g];
                ub[g] = wn;
            }
        }
        _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
            vd f = rescale(uf[g], vf[g], &bad[g]);
            uf[g] *= f;
            vf[g] *= f;
            vd fb = rescale(ub[g], vb[g], &bad[g]);
            ub[g] *= fb;
            vb[g] *= fb;
        }
    }
    /* The twist: four interleaved running minima over the rows (the compare-and-select
       chain of a single one would bound the sweep), merged at the end; row n - 1
       (gamma = D+_{n-1} = 1 / rp_{n-1}) seeds the first. */
    vd num[NS][4], den[NS][4], rr[NS][4];
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        _Pragma("GCC unroll 4") for (int t = 0; t < 4; ++t) {
            num[g][t] = one;
            den[g][t] = zero;
            rr[g][t] = splat((double)m);
        }
        den[g][0] = vabs(LD(rp[g] + m * W));
    }
    size_t i4 = 0;
    vd ii = zero;
    for (; i4 + 4 <= m; i4 += 4) {
        _Pragma("GCC unroll 4") for (int t = 0; t < 4; ++t) {
            const size_t it = i4 + (size_t)t;
            _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
                vd rpi = LD(rp[g] + it * W);
                vd nu = vabs(one - LD(e2[g] + it * W) * LD(rq[g] + (it + 1) * W) * rpi);
                vd de = vabs(rpi);
                vl better = (vl)(nu * den[g][t] < num[g][t] * de);
                num[g][t] = sel(better, nu, num[g][t]);
                den[g][t] = sel(better, de, den[g][t]);
                rr[g][t] = sel(better, ii, rr[g][t]);
            }
            ii += one;
        }
    }
    for (; i4 < m; ++i4) {
        _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
            vd rpi = LD(rp[g] + i4 * W);
            vd nu = vabs(one - LD(e2[g] + i4 * W) * LD(rq[g] + (i4 + 1) * W) * rpi);
            vd de = vabs(rpi);
            vl better = (vl)(nu * den[g][0] < num[g][0] * de);
            num[g][0] = sel(better, nu, num[g][0]);
            den[g][0] = sel(better, de, den[g][0]);
            rr[g][0] = sel(better, ii, rr[g][0]);
        }
        ii += one;
    }
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        r[g] = rr[g][0];
        vd nb = num[g][0], db = den[g][0];
        _Pragma("GCC unroll 4") for (int t = 1; t < 4; ++t) {
            vl better = (vl)(num[g][t] * db < nb * den[g][t]);
            nb = sel(better, num[g][t], nb);
            db = sel(better, den[g][t], db);
            r[g] = sel(better, rr[g][t], r[g]);
        }
    }
    /* z from r upwards (z_i for i < r), then downwards (i > r); each step is one FMA
       on the chain, z_i = c_i z_{i+1} + [i == r] with c_i = -e_i rp_i above r and 0
       elsewhere (the selects are off the chain). */
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        zc[g] = sel((vl)(r[g] == splat((double)m)), one, zero);
        ST(z[g] + m * W, zc[g]);
    }
    ii = splat((double)m);
    for (size_t i = m; i-- > 0;) {
        ii -= one;
        _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
            vd c = sel((vl)(ii < r[g]), -(LD(e[g] + i * W) * LD(rp[g] + i * W)), zero);
            vd at = sel((vl)(ii == r[g]), one, zero);
            zc[g] = c * zc[g] + at;
            ST(z[g] + i * W, zc[g]);
        }
    }
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        zc[g] = LD(z[g]);
        s[g] = zc[g] * zc[g];
    }
    ii = zero;
    for (size_t i = 1; i < n; ++i) {
        ii += one;
        _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
            vl below = (vl)(ii > r[g]);
            vd c = sel(below, -(LD(e[g] + (i - 1) * W) * LD(rq[g] + i * W)), zero);
            vd keep = sel(below, zero, LD(z[g] + i * W));
            zc[g] = c * zc[g] + keep;
            ST(z[g] + i * W, zc[g]);
            s[g] += zc[g] * zc[g];
        }
    }
    /* s >= 1 (z_r = 1); an overflowing s is flagged like an underflowing pair. */
    _Pragma("GCC unroll 8") for (int g = 0; g < G; ++g) {
        vl ok = ~bad[g] & mk((vl)(s[g] < splat(DBL_MAX)));
        ST(ws->nrm + vs[g] * W, sel(ok, splat(1.0) / vsqrt(s[g]), splat(NAN)));
    }
}

/* Scalar twisted factorisation for one lane with LAPACK's pivmin guard and rescaling,
   used when the vectorised recurrences break down (zero pivots, under- or overflow). */
static void twisted_safe(kry_tridiag_ws *ws, size_t n, size_t b)
{
    const size_t off = vbase(ws, b / W) + b % W;
    const double lam = ws->lam[b];
    const double *d = ws->d + off, *e = ws->e + off, *e2 = ws->e2 + off;
    double *z = ws->fz + off, *rp = ws->rp + off, *rq = ws->rq + off;
#define AT(a, i) (a)[(i) * W]
    double p = guard1(AT(d, 0) - lam);
    AT(rp, 0) = 1.0 / p;
    for (size_t i = 1; i < n; ++i) {
        p = guard1(AT(d, i) - lam - AT(e2, i - 1) * AT(rp, i - 1));
        AT(rp, i) = 1.0 / p;
    }
    size_t m = n - 1, r = m;
    double qv = guard1(AT(d, m) - lam);
    AT(rq, m) = 1.0 / qv;
    double gbest = fabs(1.0 / AT(rp, m));
    for (size_t i = m; i-- > 0;) {
        double t = AT(e2, i) * AT(rq, i + 1);
        double g = fabs(1.0 / AT(rp, i) - t);
        if (g < gbest) {
            gbest = g;
            r = i;
        }
        qv = guard1(AT(d, i) - lam - t);
        AT(rq, i) = 1.0 / qv;
    }
    /* Both recurrences, rescaling everything so far whenever |z| grows past 2^500. */
    const double big = 0x1p500;
    for (size_t i = 0; i < n; ++i)
        AT(z, i) = 0.0;
    AT(z, r) = 1.0;
    for (size_t i = r; i-- > 0;) {
        double zi = -AT(e, i) * AT(rp, i) * AT(z, i + 1);
        if (!(fabs(zi) <= big)) {
            for (size_t j = i + 1; j < n; ++j)
                AT(z, j) *= 0x1p-500;
            zi = -AT(e, i) * AT(rp, i) * AT(z, i + 1);
            if (!isfinite(zi))
                zi = 0.0;
        }
        AT(z, i) = zi;
    }
    for (size_t i = r + 1; i < n; ++i) {
        double zi = -AT(e, i - 1) * AT(rq, i) * AT(z, i - 1);
        if (!(fabs(zi) <= big)) {
            for (size_t j = 0; j < i; ++j)
                AT(z, j) *= 0x1p-500;
            zi = -AT(e, i - 1) * AT(rq, i) * AT(z, i - 1);
            if (!isfinite(zi))
                zi = 0.0;
        }
        AT(z, i) = zi;
    }
    double amax = 0.0;
    for (size_t i = 0; i < n; ++i)
        amax = fmax(amax, fabs(AT(z, i)));
    double ss = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double t = AT(z, i) / amax;
        AT(z, i) = t;
        ss += t * t;
    }
#undef AT
    ws->nrm[b] = 1.0 / sqrt(ss);
}

/* Writes the unit eigenvectors of the G vectors vs[] (after twisted_group and the
   scalar fallback) to q: full blocks of 8 rows are transposed in registers. */
ALWAYS_INLINE void store_vectors(job *jb, const size_t *vs, int G)
{
    kry_tridiag_ws *ws = jb->ws;
    const size_t n = jb->batch->n, count = jb->batch->count;
    for (int g = 0; g < G; ++g) {
        const size_t o = vs[g] * W;
        const double *z = ws->fz + vbase(ws, vs[g]);
        const size_t nl = count - o < W ? count - o : W;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            vd r[8];
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j)
                r[j] = LD(z + (i + (size_t)j) * W);
            transpose8(r);
            for (size_t l = 0; l < nl; ++l) {
                vd t = r[l] * splat(ws->nrm[o + l]);
                memcpy(jb->q + (o + l) * jb->ldq + i, &t, sizeof t);
            }
        }
        for (size_t l = 0; l < nl; ++l) {
            double sc = ws->nrm[o + l], *qb = jb->q + (o + l) * jb->ldq;
            for (size_t ii = i; ii < n; ++ii)
                qb[ii] = z[ii * W + l] * sc;
        }
    }
}

/* Eigenvectors of the converged vector v, while its rows are still in the L1 cache.
   (One vector at a time: the chains are FMAs, and a second vector's state no longer
   fits in the registers.) */
ALWAYS_INLINE void finish_vectors(job *jb, size_t v)
{
    kry_tridiag_ws *ws = jb->ws;
    const size_t n = jb->batch->n, count = jb->batch->count;
    twisted_group(ws, n, &v, 1);
    for (size_t b = v * W; b < v * W + W && b < count; ++b)
        if (!(isfinite(ws->nrm[b]) && ws->nrm[b] > 0.0))
            twisted_safe(ws, n, b);
    store_vectors(jb, &v, 1);
}

/* Vector v has converged: writes its eigenvalues and tie flags. Lanes still running
   after MAX_PASSES (not seen in practice) take the midpoint of their bracket. */
ALWAYS_INLINE void finish_values(job *jb, size_t v)
{
    kry_tridiag_ws *ws = jb->ws;
    const size_t n = jb->batch->n, count = jb->batch->count, o = v * W;
    const size_t bend = o + W < count ? o + W : count;
    {
        vd lam = sel(LDL(ws->done + o), LD(ws->lam + o),
                     splat(0.5) * (LD(ws->lo + o) + LD(ws->hi + o)));
        ST(ws->lam + o, lam);
        lam /= LD(ws->scale + o);
        memcpy(jb->lambda + o, &lam, (bend - o) * sizeof(double));
    }
    if (ws->npass[v] > jb->passes)
        jb->passes = ws->npass[v];
    if (!jb->want_vec || jb->tied == NULL)
        return;
    if (n == 1) {
        for (size_t b = o; b < bend; ++b)
            jb->tied[b] = 0;
        return;
    }
    /* Tie test: count passes at lam +- delta (one pass for both); two or more
       eigenvalues in (lam - delta, lam + delta] is a tie. */
    const vd lam = LD(ws->lam + o), dl = splat(jb->params->tie_tol) * LD(ws->tnorm + o);
    ST(ws->xt + o, lam + dl);
    ST(ws->x + o, lam - dl);
    const size_t base = vbase(ws, v);
    member mb[2] = {{o, base, ws->xt + o, ws->ct + o, ws->pad + o},
                    {o, base, ws->x + o, ws->cnt + o, ws->pad + o}};
    sturm_pass(ws, n, mb, 2, 0);
    for (size_t b = o; b < bend; ++b)
        jb->tied[b] = (unsigned char)(ws->tnorm[b] == 0.0 || ws->ct[b] - ws->cnt[b] >= 2.0);
}

/* Solves vectors [v0, v1): the part of a call one thread does. NS vectors are in
   flight; each pass updates both, and a converged vector is finished and replaced by
   the next one, so each vector's rows stay in the L1 cache through its passes and its
   eigenvectors. */
ALWAYS_INLINE void solve_body(job *jb)
{
    kry_tridiag_ws *ws = jb->ws;
    const size_t n = jb->batch->n;
    size_t slot[NS], nslot = 0, next = jb->v0;
    jb->passes = 0;
    for (;;) {
        while (nslot < NS && next < jb->v1) {
            size_t v = next++;
            if (load_vector(jb, v))
                return;
            if (any_lane(~LDL(ws->done + v * W))) {
                slot[nslot++] = v;
                continue;
            }
            finish_values(jb, v);
            if (jb->want_vec && n > 1)
                finish_vectors(jb, v);
        }
        if (nslot == 0)
            break;
        /* One pass: members needing G and H first (dmask is a constant per call). */
        member mb[NS];
        int nd = 0;
        for (size_t s = 0; s < nslot; ++s)
            nd += ws->needd[slot[s]];
        for (size_t s = 0, a = 0, c = (size_t)nd; s < nslot; ++s) {
            size_t v = slot[s], at = ws->needd[v] ? a++ : c++;
            mb[at].o = v * W;
            mb[at].base = vbase(ws, v);
            mb[at].x = ws->x + v * W;
            mb[at].cnt = ws->cnt + v * W;
            mb[at].ign = ws->done + v * W;
        }
        if (nslot == 1)
            nd ? sturm_pass(ws, n, mb, 1, 1) : sturm_pass(ws, n, mb, 1, 0);
        else
            nd == 2 ? sturm_pass(ws, n, mb, 2, 3)
                    : nd == 1 ? sturm_pass(ws, n, mb, 2, 1) : sturm_pass(ws, n, mb, 2, 0);
        for (size_t s = 0; s < nslot;) {
            size_t v = slot[s];
            ++ws->npass[v];
            if (update_vector(ws, n, v) || ws->npass[v] >= MAX_PASSES) {
                finish_values(jb, v);
                slot[s] = slot[--nslot];
                if (jb->want_vec && n > 1)
                    finish_vectors(jb, v);
            } else {
                ++s;
            }
        }
    }
    if (jb->want_vec && n == 1)
        for (size_t b = jb->v0 * W; b < jb->v1 * W && b < jb->batch->count; ++b)
            jb->q[b * jb->ldq] = 1.0;
}

/* The body compiled for three instruction sets; the widest the CPU supports is used
   (isa.h). */
typedef void solve_fn(job *jb);
KRY_ISA_CLONES_VOID(solve, (job * jb), solve_body(jb))
static solve_fn *pick_solver(void) { return KRY_ISA_PICK(kry_isa_level(), solve); }

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
    /* Matrices of size n live in a workspace built for size ws->n: each vector has
       ws->n rows whatever n is, so a smaller n just uses the first n of them. */
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
