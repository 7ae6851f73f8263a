/* kry/funm.h — matrix functions by Lanczos (MATH.md section 6): f(A) v, v^T f(A) v,
   stochastic Lanczos quadrature (SLQ) for tr f(A) and log det A, Hutchinson's trace
   estimator, and spectral densities. Their gradients are in kry/adjoint.h.

   With a Lanczos decomposition A Q = Q T + beta q e^T from v (l = |v|) and the
   eigen-decomposition T = S diag(theta) S^T,

       f(A) v    ~  l Q f(T) e_0 = l Q S f(theta) (S^T e_0),
       v^T f(A) v ~ l^2 e_0^T f(T) e_0 = l^2 sum_i S_{0i}^2 f(theta_i),

   the second being Gauss quadrature with nodes theta_i (the Ritz values) and weights
   S_{0i}^2. f is exp(t x), log x, sqrt x, 1/x, or any user function with its derivative
   (the derivative is what the adjoints in kry/adjoint.h need).

   Domain: log and sqrt need every Ritz value > 0, 1/x every Ritz value != 0. Ritz values
   lie inside the spectrum of A, so a non-positive one proves A is not positive definite;
   the calls then return KRY_EDOMAIN instead of producing NaN.

   Layers: the tridiagonal layer (kry_funm_tridiag, kry_funm_tridiag_vjp) works on T
   given as arrays and needs no operator; the Lanczos layer runs kry_lanczos and applies
   it. Memory for both is in a kry_funm_ws; the Lanczos basis lives in the caller's
   kry_lanczos_ws (workspaces never own each other, STYLE.md row 9). */
#ifndef KRY_FUNM_H
#define KRY_FUNM_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/lanczos.h"
#include "kry/operator.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Scalar functions ---- */

/* Which function f is. */
typedef enum kry_funm_kind {
    KRY_FUNM_EXP = 0, /* f(x) = exp(t x), with t from kry_funm_fn.t */
    KRY_FUNM_LOG,     /* f(x) = log x, domain x > 0 */
    KRY_FUNM_SQRT,    /* f(x) = sqrt x, domain x > 0 (open, so that f' exists) */
    KRY_FUNM_INV,     /* f(x) = 1 / x, domain x != 0 */
    KRY_FUNM_USER,    /* the callback kry_funm_fn.user */
    KRY_FUNM_KIND_COUNT
} kry_funm_kind;

/* A user scalar function: sets *f = f(x) and *df = f'(x). Return 0 on success, a
   positive value when x is outside the domain (the caller gets KRY_EDOMAIN), a negative
   value for any other failure (KRY_ECALLBACK). Must be thread-safe if the same
   kry_funm_fn is used by several threads. */
typedef int kry_scalar_fn(void *ctx, double x, double *f, double *df);

/* A scalar function. Build one with the constructors below. */
typedef struct kry_funm_fn {
    kry_funm_kind kind;
    double t;            /* KRY_FUNM_EXP: the scale in exp(t x) (e.g. the time) */
    kry_scalar_fn *user; /* KRY_FUNM_USER: the function and its derivative */
    void *ctx;           /* KRY_FUNM_USER: passed first to user */
} kry_funm_fn;

/* exp(t x). */
KRY_API kry_funm_fn kry_funm_exp(double t);
/* log x. */
KRY_API kry_funm_fn kry_funm_log(void);
/* sqrt x. */
KRY_API kry_funm_fn kry_funm_sqrt(void);
/* 1 / x. */
KRY_API kry_funm_fn kry_funm_inv(void);
/* A user function with its derivative (see kry_scalar_fn). */
KRY_API kry_funm_fn kry_funm_user(kry_scalar_fn *fn, void *ctx);

/* Evaluates *fx = f(x) and *dfx = f'(x) (either pointer may be NULL).
   Errors: KRY_EINVAL (NULL f, unknown kind, user kind without a callback, non-finite t),
   KRY_EDOMAIN (x outside the domain), KRY_ECALLBACK (user callback failed),
   KRY_ENONFINITE (x not finite, or a result overflowed or is NaN). */
KRY_API KRY_NODISCARD kry_status kry_funm_eval(const kry_funm_fn *f, double x, double *fx,
                                               double *dfx);

/* Divided difference (f(x) - f(y)) / (x - y), and f'(x) when x == y. For exp, log,
   sqrt and 1/x it is computed without cancellation (expm1, log1p and algebraic forms),
   so it is accurate to a few ulps for any x, y in the domain. For a user function it is
   the plain quotient when |x - y| > sqrt(eps) max(|x|, |y|), else the mean of f'(x) and
   f'(y) (error O(|x - y|^2)), so it is accurate to about sqrt(eps) relative.
   Errors: those of kry_funm_eval. */
KRY_API KRY_NODISCARD kry_status kry_funm_divdiff(const kry_funm_fn *f, double x, double y,
                                                  double *out);

/* ---- Workspace ---- */

/* Opaque workspace: the eigen-decomposition of T (m x m), f and f' at the nodes, the
   Daleckii-Krein matrices (two more m x m), and two vectors of length n for the Lanczos
   layer (probe and scratch). Reusable for any number of calls. */
typedef struct kry_funm_ws kry_funm_ws;

/* Allocates a workspace for operators of (local) dimension n and decompositions of up
   to max_steps steps (max_steps >= 1). n may be 0 when only the tridiagonal layer is
   used. Returns NULL when max_steps == 0, on size overflow, or when allocation fails.
   Memory: kry_funm_ws_bytes(n, max_steps). */
KRY_API kry_funm_ws *kry_funm_ws_alloc(size_t n, size_t max_steps);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_funm_ws_free(kry_funm_ws *ws);

/* Bytes kry_funm_ws_alloc(n, max_steps) allocates (about 3 m^2 + 8 m + 2 n doubles);
   0 if the size overflows. */
KRY_API size_t kry_funm_ws_bytes(size_t n, size_t max_steps);

/* ---- Tridiagonal layer ---- */

/* Decomposes T = tridiag(beta, alpha, beta) of order m (alpha[0..m), beta[0..m-1); beta
   may be NULL when m == 1) as S diag(theta) S^T with LAPACK dstev, evaluates f and f' at
   the nodes theta, and returns
       *quad = e_0^T f(T) e_0 = sum_i S_{0i}^2 f(theta_i)   (if quad != NULL),
       fe0[0..m) = f(T) e_0                                 (if fe0 != NULL).
   The decomposition, f and f' stay in ws for kry_funm_nodes, kry_funm_weights and
   kry_funm_tridiag_vjp until the next call. No allocation; O(m^3) flops (dstev with
   vectors).
   Errors: KRY_EINVAL (NULL ws, alpha or f, or beta NULL with m > 1, m == 0, invalid f),
   KRY_EDIM (m above the workspace capacity), KRY_ENONFINITE (alpha or beta not finite,
   or f overflows at a node), KRY_ERANGE (m above a LAPACK int), KRY_ELAPACK (dstev
   failed), KRY_EDOMAIN (a node outside f's domain: for log and sqrt a Ritz value <= 0,
   i.e. A is not positive definite; *ws keeps the nodes so the caller can report the
   smallest), KRY_ECALLBACK (user function failed). */
KRY_API KRY_NODISCARD kry_status kry_funm_tridiag(kry_funm_ws *ws, size_t m,
                                                  const double *alpha, const double *beta,
                                                  const kry_funm_fn *f, double *quad,
                                                  double *fe0);

/* The order m of the last decomposition (0 before any) and its nodes theta[0..m),
   ascending (NULL before any). Valid until the next call on ws. */
KRY_API const double *kry_funm_nodes(const kry_funm_ws *ws, size_t *m);

/* The Gauss quadrature weights S_{0i}^2, i < m, of the last decomposition (they sum to
   1). NULL before any. */
KRY_API const double *kry_funm_weights(const kry_funm_ws *ws);

/* Daleckii-Krein: for the loss a^T f(T) b = <a b^T, f(T)> with T from the last
   kry_funm_tridiag call, computes the cotangent
       Tbar = S (F o (S^T a b^T S)) S^T,  F_ij = (f(theta_i) - f(theta_j))/(theta_i -
       theta_j), F_ii = f'(theta_i)   (divided differences by kry_funm_divdiff),
   and writes alpha_bar[k] = Tbar_kk (k < m) and beta_bar[k] = Tbar_{k,k+1} +
   Tbar_{k+1,k} (k < m-1), the cotangents of T's entries. a and b have length m. b may be
   NULL for e_0. O(m^3) flops (one dgemm).
   Errors: KRY_EINVAL (NULL ws, a, alpha_bar, or beta_bar with m > 1; no decomposition in
   ws), plus those of kry_funm_divdiff. */
KRY_API KRY_NODISCARD kry_status kry_funm_tridiag_vjp(kry_funm_ws *ws, const double *a,
                                                      const double *b, double *alpha_bar,
                                                      double *beta_bar);


/* ---- Lanczos layer ----
   These run kry_lanczos_run(op, v, lp, lws) (lp NULL: the Lanczos defaults, i.e. full
   reorthogonalisation and min(n, 300) steps capped at lws's capacity; lp->max_steps is
   the number of steps K), then apply the tridiagonal layer. A run that ends on an
   invariant subspace uses the steps it made (the result is then exact up to rounding).
   Errors common to all: KRY_EINVAL (NULL op, f, lws or fws; invalid op, f or params),
   KRY_EDIM (fws smaller than the steps, or, where an n-vector of fws is used, fws made
   for another n), the errors of kry_lanczos_run (KRY_ECALLBACK, KRY_ENONFINITE, ...),
   and those of kry_funm_tridiag (notably KRY_EDOMAIN). */

/* y[0..n) = f(A) v ~ |v| Q f(T) e_0 (v of length op->n, nonzero; y must not overlap v).
   info (may be NULL) receives the Lanczos summary. Cost: K matvecs, O(n K) (+ O(n K^2)
   with full reorthogonalisation), O(K^3) for T. */
KRY_API KRY_NODISCARD kry_status kry_funm_apply(const kry_operator *op, const kry_funm_fn *f,
                                                const double *v,
                                                const kry_lanczos_params *lp,
                                                kry_lanczos_ws *lws, kry_funm_ws *fws,
                                                double *y, kry_lanczos_result *info);

/* *value = v^T f(A) v ~ |v|^2 e_0^T f(T) e_0 (Gauss quadrature). Same cost as
   kry_funm_apply without the final O(n K) combination. */
KRY_API KRY_NODISCARD kry_status kry_funm_quadform(const kry_operator *op,
                                                   const kry_funm_fn *f, const double *v,
                                                   const kry_lanczos_params *lp,
                                                   kry_lanczos_ws *lws, kry_funm_ws *fws,
                                                   double *value, kry_lanczos_result *info);

/* Probe distributions for stochastic trace estimation (E[v v^T] = I for both). */
typedef enum kry_probe_kind {
    KRY_PROBE_RADEMACHER = 0, /* entries +1 / -1 (minimal variance for real A) */
    KRY_PROBE_GAUSSIAN,       /* entries N(0, 1) */
    KRY_PROBE_KIND_COUNT
} kry_probe_kind;

/* Parameters of stochastic Lanczos quadrature. */
typedef struct kry_slq_params {
    size_t probes;              /* number of probe vectors N >= 1; 0: 30 */
    kry_probe_kind probe;       /* default KRY_PROBE_RADEMACHER */
    uint64_t seed;              /* probe j, entry i (global index g) is drawn from
                                   (seed, KRY_RNG_STREAM_PROBE, j * n_global + g), so the
                                   probes do not depend on the process layout; default 1 */
    kry_lanczos_params lanczos; /* per probe: lanczos.max_steps = K, lanczos.reorth, ... */
} kry_slq_params;

/* The defaults: 30 Rademacher probes, seed 1, kry_lanczos_params_default(). */
KRY_API kry_slq_params kry_slq_params_default(void);

/* Outcome of an SLQ run. */
typedef struct kry_slq_result {
    double estimate;  /* (1/N) sum_j |v_j|^2 e_0^T f(T_j) e_0 ~ tr f(A) */
    double std_error; /* sample standard deviation of the N terms / sqrt(N); NaN if N == 1 */
    size_t probes;    /* probes completed */
    size_t matvecs;   /* products with A over all probes */
    size_t steps_max; /* largest Lanczos step count of a probe */
    double ritz_min;  /* smallest and largest Ritz value seen over the probes done (also */
    double ritz_max;  /*  filled when a probe fails with KRY_EDOMAIN) */
} kry_slq_result;

/* tr f(A) by SLQ (MATH.md section 6): for each probe, Lanczos from v_j and Gauss
   quadrature. params NULL: defaults. fws must have been allocated for n = op->n (it
   holds the probe). res (may be NULL) receives the estimate; on an error it describes
   the probes completed (and ritz_min/ritz_max include the failing probe's nodes after
   KRY_EDOMAIN). Cost: N K matvecs. Additional errors: KRY_EINVAL (probes kind out of
   range). */
KRY_API KRY_NODISCARD kry_status kry_slq(const kry_operator *op, const kry_funm_fn *f,
                                         const kry_slq_params *params, kry_lanczos_ws *lws,
                                         kry_funm_ws *fws, kry_slq_result *res);

/* Hutchinson's estimator of tr A: (1/N) sum_j v_j^T A v_j with the probes of params
   (kind, seed, count; params->lanczos is not used). One matvec per probe, no Lanczos:
   for f(x) = x it equals SLQ at a fraction of the cost (v^T A v = |v|^2 alpha_0).
   fws must have been allocated for n = op->n (it holds the probe and A v). res as for
   kry_slq, with steps_max 0 and ritz_min/ritz_max NaN. Errors: KRY_EINVAL (NULL op or
   fws, invalid op or params), KRY_EDIM, KRY_ECALLBACK, KRY_ENONFINITE. */
KRY_API KRY_NODISCARD kry_status kry_trace_hutchinson(const kry_operator *op,
                                                      const kry_slq_params *params,
                                                      kry_funm_ws *fws,
                                                      kry_slq_result *res);

/* log det A = tr log A by SLQ, for symmetric positive definite A. A non-positive Ritz
   value (A not positive definite) gives KRY_EDOMAIN. Otherwise as kry_slq. */
KRY_API KRY_NODISCARD kry_status kry_slq_logdet(const kry_operator *op,
                                                const kry_slq_params *params,
                                                kry_lanczos_ws *lws, kry_funm_ws *fws,
                                                kry_slq_result *res);

/* The raw material of a spectral density: for each probe j, the Gauss nodes theta_i of
   T_j and weights S_{0i}^2 / N (all weights sum to 1). nodes and weights have room for
   cap entries; N K entries always suffice. *count receives the number written. res as
   for kry_slq, with estimate and std_error those of tr I = n (a check: each probe gives
   |v_j|^2). Errors: as kry_slq, plus KRY_EDIM when cap is too small. */
KRY_API KRY_NODISCARD kry_status kry_slq_nodes(const kry_operator *op,
                                               const kry_slq_params *params,
                                               kry_lanczos_ws *lws, kry_funm_ws *fws,
                                               double *nodes, double *weights, size_t cap,
                                               size_t *count, kry_slq_result *res);

/* Gaussian-broadened spectral density from nodes and weights (e.g. from kry_slq_nodes):
   out[k] = sum_i weights[i] exp(-(t[k] - nodes[i])^2 / (2 sigma^2)) / (sigma sqrt(2 pi))
   for k < nt; with weights summing to 1 it integrates to 1 (the spectral density of A
   normalised by n). sigma > 0. O(count nt).
   Errors: KRY_EINVAL (NULL arrays with nonzero counts, sigma <= 0 or not finite),
   KRY_ENONFINITE (non-finite nodes, weights or t). */
KRY_API KRY_NODISCARD kry_status kry_density_eval(const double *nodes,
                                                  const double *weights, size_t count,
                                                  double sigma, const double *t, size_t nt,
                                                  double *out);

/* The default broadening: sigma = (max node - min node) / K for K Lanczos steps per
   probe, the resolution of a K-point Gauss rule; a nonzero fallback
   (1e-3 max(1, |node|)) when all nodes coincide. 0 when count == 0 or K == 0. */
KRY_API double kry_density_sigma_default(const double *nodes, size_t count, size_t steps);

#ifdef __cplusplus
}
#endif
#endif /* KRY_FUNM_H */
