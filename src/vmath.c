/* vmath.c — vectorised exp, log1p, the binary cross-entropy terms and the Adam update
   (see vmath.h).

   exp(x), x <= 0: k = round(x / ln 2) by adding and subtracting 1.5 * 2^52, the
   reduced r = x - k ln 2 in two parts (Cody and Waite: ln 2 = hi + lo with hi's last
   32 bits zero, so k hi is exact), |r| <= ln(2) / 2, and exp(r) by its Taylor series
   to degree 13 (truncation below 5e-18 relative). 2^k is applied as two exact
   powers of two 2^k1 2^k2 with k1 ~ k2 ~ k / 2, both normal, so results down into the
   subnormal range are rounded once; x < -746 gives 0.

   log1p(z), 0 <= z <= 1: u = 1 + z rounded, whose error z - (u - 1) (u - 1 is exact)
   enters as the first-order correction (z - (u - 1)) / u; log u = e ln 2 + log m with
   m = u or u / 2 in [1/sqrt(2), sqrt(2)], and log m = 2 atanh(s), s = (m - 1)/(m + 1),
   |s| <= 0.1716, by the odd series 2 (s + s^3/3 + ... + s^25/25) (truncation below
   1e-19 relative).

   Both are a few ulps from the exact values, the same order as the C library's
   calls (tests/test_vmath.c compares them with long-double references). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "no-math-errno")
#endif

#include "vmath.h"

#include <stdint.h>
#include <string.h>

#include "isa.h"

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define W 8
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef double vd __attribute__((vector_size(W * sizeof(double))));
typedef int64_t vl __attribute__((vector_size(W * sizeof(int64_t))));
typedef uint64_t vu __attribute__((vector_size(W * sizeof(uint64_t))));

/* A constant vector (a constant expression x): GCC 12 loads these from memory, while
   a splat of a variable built for AVX-512 becomes eight masked broadcasts. */
#define VC(x) ((vd){(x), (x), (x), (x), (x), (x), (x), (x)})

/* A broadcast of a variable, made as one of the bits (see smallmm.c). */
ALWAYS_INLINE vd splat(double a)
{
    int64_t b;
    memcpy(&b, &a, sizeof b);
    vl v = {b, b, b, b, b, b, b, b};
    return (vd)v;
}

ALWAYS_INLINE vd sel(vl m, vd a, vd b) { return (vd)((m & (vl)a) | (~m & (vl)b)); }

/* round(a) for |a| < 2^51, as a double. */
ALWAYS_INLINE vd vround(vd a) { return (a + VC(0x1.8p52)) - VC(0x1.8p52); }

/* 2^k for an integer-valued double k in [-1022, 1023]. */
ALWAYS_INLINE vd pow2(vd k)
{
    vu bits = (vu)(k + VC(0x1.8p52));
    return (vd)((bits + (vu){1023, 1023, 1023, 1023, 1023, 1023, 1023, 1023}) << 52);
}

/* exp(x) for x <= 0 (NaN stays NaN). */
ALWAYS_INLINE vd vexp_neg(vd x)
{
    x = sel((vl)(x < VC(-746.0)), VC(-746.0), x);
    vd k = vround(x * VC(1.44269504088896338700e+00));
    vd r = (x - k * VC(6.93147180369123816490e-01)) - k * VC(1.90821492927058770002e-10);
    /* Taylor coefficients 1/13!, ..., 1/2!, 1, 1 by Horner's rule (written out:
       constant vectors then load from memory instead of being built per use). */
    vd p = VC(1.0 / 6227020800.0);
    p = p * r + VC(1.0 / 479001600.0);
    p = p * r + VC(1.0 / 39916800.0);
    p = p * r + VC(1.0 / 3628800.0);
    p = p * r + VC(1.0 / 362880.0);
    p = p * r + VC(1.0 / 40320.0);
    p = p * r + VC(1.0 / 5040.0);
    p = p * r + VC(1.0 / 720.0);
    p = p * r + VC(1.0 / 120.0);
    p = p * r + VC(1.0 / 24.0);
    p = p * r + VC(1.0 / 6.0);
    p = p * r + VC(0.5);
    p = p * r + VC(1.0);
    p = p * r + VC(1.0);
    vd k1 = vround(k * VC(0.5)), k2 = k - k1;
    return p * pow2(k1) * pow2(k2);
}

/* log1p(z) for 0 <= z <= 1 (NaN stays NaN). */
ALWAYS_INLINE vd vlog1p_unit(vd z)
{
    const vd one = VC(1.0);
    vd u = one + z;
    vd corr = (z - (u - one)) / u;
    vl big = (vl)(u > VC(1.41421356237309504880));
    vd m = sel(big, VC(0.5) * u, u), e = sel(big, one, VC(0.0));
    vd s = (m - one) / (m + one), s2 = s * s;
    vd q = VC(1.0 / 25.0);
    q = q * s2 + VC(1.0 / 23.0);
    q = q * s2 + VC(1.0 / 21.0);
    q = q * s2 + VC(1.0 / 19.0);
    q = q * s2 + VC(1.0 / 17.0);
    q = q * s2 + VC(1.0 / 15.0);
    q = q * s2 + VC(1.0 / 13.0);
    q = q * s2 + VC(1.0 / 11.0);
    q = q * s2 + VC(1.0 / 9.0);
    q = q * s2 + VC(1.0 / 7.0);
    q = q * s2 + VC(1.0 / 5.0);
    q = q * s2 + VC(1.0 / 3.0);
    q = q * s2 + VC(1.0);
    vd logm = VC(2.0) * s * q;
    return e * VC(6.93147180369123816490e-01) +
           ((logm + e * VC(1.90821492927058770002e-10)) + corr);
}

/* Terms for 8 elements: loss terms (returned) and sigmoids (*sg). */
ALWAYS_INLINE vd bce8(vd y, vd t, vd *sg)
{
    const vd zero = VC(0.0), one = VC(1.0);
    vl pos = (vl)(y >= zero);
    vd ay = sel(pos, y, -y);
    vd z = vexp_neg(-ay);
    *sg = sel(pos, one, z) / (one + z);
    return sel((vl)(y > zero), y, zero) - y * t + vlog1p_unit(z);
}

ALWAYS_INLINE double bce_body(size_t m, const double *y, const double *t, double *sig)
{
    vd acc = VC(0.0), sg;
    size_t i = 0;
    for (; i + W <= m; i += W) {
        vd yv, tv;
        memcpy(&yv, y + i, sizeof yv);
        memcpy(&tv, t + i, sizeof tv);
        acc += bce8(yv, tv, &sg);
        if (sig)
            memcpy(sig + i, &sg, sizeof sg);
    }
    double s = 0.0;
    for (int l = 0; l < W; ++l)
        s += acc[l];
    if (i < m) {
        /* The tail in one padded vector; padding lanes are not summed. */
        vd yv = VC(0.0), tv = VC(0.0);
        for (size_t l = 0; i + l < m; ++l) {
            yv[l] = y[i + l];
            tv[l] = t[i + l];
        }
        vd terms = bce8(yv, tv, &sg);
        for (size_t l = 0; i + l < m; ++l) {
            s += terms[l];
            if (sig)
                sig[i + l] = sg[l];
        }
    }
    return s;
}

/* The Adam step: a first sweep checks that g is finite (a sum of g * 0 is NaN exactly
   when some entry is not), the second updates. The square roots go lane by lane,
   which without errno (-fno-math-errno, set by the build) is one vector instruction. */
ALWAYS_INLINE int adam_body(size_t n, double *x, double *m, double *v, const double *g,
                            double b1, double b2, double a, double c2, double eps, double wd)
{
    vd chk = VC(0.0);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        vd gv;
        memcpy(&gv, g + i, sizeof gv);
        chk += gv * VC(0.0);
    }
    double tail = 0.0;
    for (size_t j = i; j < n; ++j)
        tail += g[j] * 0.0;
    for (int l = 0; l < W; ++l)
        tail += chk[l];
    if (tail != 0.0)
        return -1;
    const vd vb1 = splat(b1), vb2 = splat(b2), va = splat(a), vc2 = splat(c2),
             veps = splat(eps), vwd = splat(wd);
    for (i = 0; i + W <= n; i += W) {
        vd xv, mv, vv, gv, r;
        memcpy(&xv, x + i, sizeof xv);
        memcpy(&mv, m + i, sizeof mv);
        memcpy(&vv, v + i, sizeof vv);
        memcpy(&gv, g + i, sizeof gv);
        mv = vb1 * mv + (VC(1.0) - vb1) * gv;
        vv = vb2 * vv + (VC(1.0) - vb2) * gv * gv;
        vd q = vv * vc2;
        _Pragma("GCC unroll 8") for (int l = 0; l < W; ++l) r[l] = __builtin_sqrt(q[l]);
        xv -= va * mv / (r + veps) + vwd * xv;
        memcpy(x + i, &xv, sizeof xv);
        memcpy(m + i, &mv, sizeof mv);
        memcpy(v + i, &vv, sizeof vv);
    }
    for (; i < n; ++i) {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        x[i] -= a * m[i] / (__builtin_sqrt(v[i] * c2) + eps) + wd * x[i];
    }
    return 0;
}

#define ADAM_ARGS                                                                      \
    size_t n, double *x, double *m, double *v, const double *g, double b1, double b2,    \
        double a, double c2, double eps, double wd
KRY_ISA_CLONES(int, adam, (ADAM_ARGS), adam_body(n, x, m, v, g, b1, b2, a, c2, eps, wd))

int kry_adam_update_isa(int isa, ADAM_ARGS)
{
    return KRY_ISA_PICK(kry_isa_clamp(isa), adam)(n, x, m, v, g, b1, b2, a, c2, eps, wd);
}

int kry_adam_update(ADAM_ARGS)
{
    return kry_adam_update_isa(2, n, x, m, v, g, b1, b2, a, c2, eps, wd);
}

KRY_ISA_CLONES(double, bce, (size_t m, const double *y, const double *t, double *sig),
               bce_body(m, y, t, sig))

double kry_bce_terms_isa(int isa, size_t m, const double *y, const double *t, double *sig)
{
    return KRY_ISA_PICK(kry_isa_clamp(isa), bce)(m, y, t, sig);
}

double kry_bce_terms(size_t m, const double *y, const double *t, double *sig)
{
    return kry_bce_terms_isa(2, m, y, t, sig);
}
