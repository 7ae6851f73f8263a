/* kry/adjoint.h — gradients through Lanczos: the Lanczos adjoint and the Arnoldi adjoint
   with re-projection (MATH.md section 7), and the affine operator family
   A(theta) = sum_i theta_i B_i.

   Forward (kry/lanczos.h): from v, x_0 = v/|v|, K steps give x_0..x_K, alpha[0..K),
   beta[0..K) with A X_K = X_K T_K + beta_{K-1} x_K e_{K-1}^T. Given cotangents
   (xbar_0..xbar_K, alpha_bar, beta_bar) of a scalar loss of these outputs, one backward
   sweep gives the loss's gradient with respect to the operator's parameters theta
   (through op->param_vjp) and the start vector v. It costs K matvecs and K parameter
   VJPs, and keeps only O(n) vectors besides the forward basis (plus O(n K^2) flops and a
   (K+1)^2 matrix for the Arnoldi variant).

   Which adjoint: the Lanczos adjoint differentiates the bare three-term recurrence
   (reorth none). With full reorthogonalisation the forward pass is an Arnoldi process
   with an orthonormal basis, and the Arnoldi adjoint with re-projection is its
   derivative: at step k it enforces X_{0..k+1}^T lambda_k = Hbar[0..k+1, k] (the
   stationarity conditions of the Hessenberg entries, all zero off the tridiagonal
   pattern). Both give the same gradient in exact arithmetic; in floating point, use the
   one matching the forward pass.

   Gradient conventions: theta_bar and v_bar are *accumulated* (+=), so SLQ can sum over
   probes; zero them first. param_vjp contributions are summed locally: with a
   distributed space the caller reduces theta_bar across processes if the parameters are
   shared. Gradients are with respect to symmetric perturbations: for the dense operator,
   read grad[i*n+j] + grad[j*n+i] as the derivative for the stored entry (i, j), i < j.

   Breakdown: if beta_{K-1} is at breakdown (the forward stopped on an invariant
   subspace), x_K is not differentiable; the cotangents of x_K and beta_{K-1} are then
   ignored (the sweep is truncated there). A zero beta_k with k < K-1 (a continued
   breakdown that split T) is not supported. What the truncated sweep returns is the
   derivative of the m-step approximation, i.e. with respect to perturbations that keep
   the subspace invariant. For v^T f(A) v and SLQ that is the full derivative (only the
   subspace block of A enters it to first order). For f(A) v with a general output
   cotangent it is not, when m < n: the true derivative has components outside the
   subspace that no Krylov method started from v can see. The high-level calls leave
   the forward run's summary in the Lanczos workspace: check kry_lanczos_result_get
   for reason KRY_CONVERGED_INVARIANT with steps < n (typically v a combination of a
   few eigenvectors, e.g. sines for a constant-coefficient Laplacian).

   In debug builds (NDEBUG not defined) every step asserts the identities of MATH.md
   section 7: lambda_k^T x_k = alpha_bar_k and lambda_k^T x_{k+1} = beta_bar_k -
   lambda_{k+1}^T x_k (Lanczos; up to the measured local loss of orthogonality), and
   X_{0..k+1}^T lambda_k = Hbar[0..k+1, k] (Arnoldi). */
#ifndef KRY_ADJOINT_H
#define KRY_ADJOINT_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/funm.h"
#include "kry/lanczos.h"
#include "kry/operator.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The backward recurrence to use. */
typedef enum kry_adjoint_method {
    KRY_ADJOINT_LANCZOS = 0, /* bare recurrence (forward with reorth none) */
    KRY_ADJOINT_ARNOLDI,     /* re-projection (forward with reorth full) */
    KRY_ADJOINT_METHOD_COUNT
} kry_adjoint_method;

/* Optional fused product for the backward sweep: u = A(theta) w and
   grad[0..n_params) += d(w^T A(theta) x)/d(theta), in one call with the operator's ctx.
   Operators whose parameter VJP shares work with the product (e.g. the affine family,
   kry_affine_matvec_vjp) make the backward sweep cheaper this way. Return 0 on success;
   nonzero makes the sweep return KRY_ECALLBACK. */
typedef int kry_matvec_vjp_fn(void *ctx, const double *restrict w, const double *restrict x,
                              double *restrict u, double *restrict grad);

/* Parameters of the backward sweep. NULL means the defaults. */
typedef struct kry_adjoint_params {
    kry_matvec_vjp_fn *matvec_vjp; /* NULL (default): op->matvec, then op->param_vjp */
} kry_adjoint_params;

/* The defaults: no fused product. */
KRY_API kry_adjoint_params kry_adjoint_params_default(void);

/* A forward Lanczos decomposition, as the backward sweep reads it (all referenced). */
typedef struct kry_adjoint_decomp {
    size_t steps;        /* K >= 1 */
    const double *Q;     /* x_0..x_K, n x (K+1) column-major */
    size_t ldq;          /* >= n */
    const double *alpha; /* [K] */
    const double *beta;  /* [K]; beta[K-1] is the residual coefficient */
    double v_norm;       /* |v| > 0 */
    int breakdown;       /* nonzero: beta[K-1] is a breakdown (also implied by
                            beta[K-1] == 0) */
} kry_adjoint_decomp;

/* Cotangents of the forward outputs. Every pointer may be NULL (zero cotangent).
   xbar_k = xbar[:, k] + xbar_coef[k] * xbar_dir, the second term letting a rank-one
   cotangent (f(A) v) be passed without n x (K+1) storage. */
typedef struct kry_adjoint_cotangent {
    const double *xbar;      /* n x (K+1) column-major, leading dimension ldxbar */
    size_t ldxbar;
    const double *xbar_coef; /* [K+1], used with xbar_dir */
    const double *xbar_dir;  /* [n] */
    const double *alpha_bar; /* [K] */
    const double *beta_bar;  /* [K] */
} kry_adjoint_cotangent;

/* Workspace of the backward sweep: four vectors of length n (g, lambda_k, lambda_{k+1},
   scratch), a (K+1)^2 matrix of orthogonality multipliers (Arnoldi) and O(K) scratch
   (including the cotangents of T used by the high-level calls below). */
typedef struct kry_adjoint_ws kry_adjoint_ws;

/* Allocates a workspace for operators of (local) dimension n >= 1 and up to max_steps
   >= 1 steps. Returns NULL on a zero size, size overflow or allocation failure. */
KRY_API kry_adjoint_ws *kry_adjoint_ws_alloc(size_t n, size_t max_steps);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_adjoint_ws_free(kry_adjoint_ws *ws);

/* Bytes kry_adjoint_ws_alloc(n, max_steps) allocates: (4 n + (K+1)^2 + 7 (K+2))
   doubles; 0 on overflow. */
KRY_API size_t kry_adjoint_ws_bytes(size_t n, size_t max_steps);

/* The backward sweep of MATH.md section 7 (method KRY_ADJOINT_LANCZOS) or the Arnoldi
   adjoint with re-projection (KRY_ADJOINT_ARNOLDI) for the decomposition d of op, with
   cotangents ct. Accumulates theta_bar[0..op->n_params) += dL/dtheta (if theta_bar !=
   NULL) and v_bar[0..n) += dL/dv (if v_bar != NULL). Cost: K matvecs and K parameter
   VJPs (or K fused products), O(n K) vector work (Lanczos) or O(n K^2) (Arnoldi).
   Errors: KRY_EINVAL (NULL op, d, ct or ws, or NULL arrays in d; invalid op; K == 0;
   v_norm <= 0 or not finite; ldq or ldxbar < n; unknown method; xbar_coef without
   xbar_dir or the reverse; a negative beta), KRY_EDIM (op->n or K exceed the
   workspace), KRY_ERANGE (n or K above a BLAS int), KRY_EUNSUPPORTED (theta_bar given
   but op has neither param_vjp nor a fused product; a zero beta_k with k < K-1),
   KRY_ECALLBACK (matvec, param_vjp, fused product or allreduce failed), KRY_ENONFINITE
   (a cotangent or the alpha/beta input is not finite, or a product overflowed). */
KRY_API KRY_NODISCARD kry_status kry_adjoint_backward(const kry_operator *op,
                                                      const kry_adjoint_decomp *d,
                                                      const kry_adjoint_cotangent *ct,
                                                      kry_adjoint_method method,
                                                      const kry_adjoint_params *params,
                                                      kry_adjoint_ws *ws,
                                                      double *theta_bar, double *v_bar);


/* ---- Connecting to kry_lanczos ---- */

/* The adjoint matching a forward reorthogonalisation mode: none -> KRY_ADJOINT_LANCZOS,
   full -> KRY_ADJOINT_ARNOLDI. Errors: KRY_EINVAL (NULL out, unknown mode),
   KRY_EUNSUPPORTED (selective, partial, dgks: their bases are neither the bare
   recurrence nor orthonormal, so neither adjoint is their derivative). */
KRY_API KRY_NODISCARD kry_status kry_adjoint_method_for(kry_reorth reorth,
                                                        kry_adjoint_method *out);

/* Fills *d with views into a Lanczos workspace after a run (valid until its next
   start/step): steps, basis, alpha, beta, |v0|, and breakdown when the run ended on an
   invariant subspace. Errors: KRY_EINVAL (NULL pointers, no steps), KRY_EUNSUPPORTED
   (a continued breakdown split T). */
KRY_API KRY_NODISCARD kry_status kry_adjoint_decomp_from_lanczos(const kry_lanczos_ws *lws,
                                                                 kry_adjoint_decomp *d);

/* ---- Value and gradient (MATH.md section 7) ----
   Each runs the forward pass (kry_lanczos_run with lp; NULL: Lanczos defaults, i.e. full
   reorthogonalisation), the tridiagonal layer of kry/funm.h, the Daleckii-Krein
   cotangent of T, and one backward sweep with the adjoint matching lp->reorth
   (kry_adjoint_method_for). theta_bar (length op->n_params) and v_bar (length n) are
   accumulated (+=) and may be NULL. ap may be NULL (no fused product).
   Cost: about twice the forward pass (2K matvecs, K parameter VJPs).
   Errors: those of the forward calls in kry/funm.h (KRY_EDOMAIN included), of
   kry_adjoint_method_for (KRY_EUNSUPPORTED for selective/partial/dgks), of
   kry_adjoint_decomp_from_lanczos and of kry_adjoint_backward (KRY_EDIM when aws is
   too small). */

/* *value = v^T f(A) v, and its gradients (v_bar includes the length term
   2 (value / |v|^2) v). */
KRY_API KRY_NODISCARD kry_status kry_adjoint_quadform(
    const kry_operator *op, const kry_funm_fn *f, const double *v,
    const kry_lanczos_params *lp, const kry_adjoint_params *ap, kry_lanczos_ws *lws,
    kry_funm_ws *fws, kry_adjoint_ws *aws, double *value, double *theta_bar,
    double *v_bar);

/* y = f(A) v (y may be NULL), and the gradients of the scalar ubar^T y for the given
   output cotangent ubar (length n): xbar_k = |v| f(T)_{k0} ubar (passed as a rank-one
   cotangent, no n x K storage), Tbar from C = |v| (Q^T ubar) e_0^T, and
   v_bar += (ubar^T y / |v|^2) v. */
KRY_API KRY_NODISCARD kry_status kry_adjoint_funm(
    const kry_operator *op, const kry_funm_fn *f, const double *v, const double *ubar,
    const kry_lanczos_params *lp, const kry_adjoint_params *ap, kry_lanczos_ws *lws,
    kry_funm_ws *fws, kry_adjoint_ws *aws, double *y, double *theta_bar, double *v_bar);

/* The SLQ estimate of tr f(A) (as kry_slq, same probes for the same params) and
   theta_bar += its exact gradient: probe by probe, forward, Daleckii-Krein with
   C = (|v_j|^2 / N) e_0 e_0^T, backward, accumulate; nothing is kept across probes.
   theta_bar must not be NULL. res may be NULL. fws must be made for n = op->n.
   Cost: 2 N K matvecs, N K parameter VJPs. */
KRY_API KRY_NODISCARD kry_status kry_adjoint_slq(const kry_operator *op,
                                                 const kry_funm_fn *f,
                                                 const kry_slq_params *params,
                                                 const kry_adjoint_params *ap,
                                                 kry_lanczos_ws *lws, kry_funm_ws *fws,
                                                 kry_adjoint_ws *aws, kry_slq_result *res,
                                                 double *theta_bar);

/* NOT the derivative of the computed estimate: the cheap, inexact gradient of SLQ
   (GPyTorch-style, MATH.md section 7). Per probe, theta_bar += (1/N)
   d(w_1^T A(theta) x_0)/d(theta) with w_1 = |v|^2 Q f'(T) e_0: one parameter VJP and
   no extra matvec. Since d tr f(A) = tr(f'(A) dA) = E[(f'(A) v)^T dA v], it estimates
   the gradient of tr f(A) without bias over the probes, up to the Lanczos error in
   f'(A) v ~ |v| Q f'(T) e_0; it does not match finite differences of the SLQ
   estimate. Works for any reorthogonalisation mode. res as for
   kry_slq. Errors: those of kry_slq, KRY_EINVAL (NULL theta_bar), KRY_EUNSUPPORTED
   (op has no param_vjp), KRY_ECALLBACK. Cost: N K matvecs, N parameter VJPs. */
KRY_API KRY_NODISCARD kry_status kry_adjoint_slq_inexact(const kry_operator *op,
                                                         const kry_funm_fn *f,
                                                         const kry_slq_params *params,
                                                         kry_lanczos_ws *lws,
                                                         kry_funm_ws *fws,
                                                         kry_slq_result *res,
                                                         double *theta_bar);

/* ---- The affine operator family ---- */

/* A(theta) = sum_{i<p} theta_i B_i over symmetric operators B_i of dimension n.
   terms[i] == NULL stands for the identity I (so theta_0 L + theta_1 I is
   {&L, NULL}). The term structs are copied, their contexts referenced: they must
   outlive the operator. theta[0..p) is copied (change it with kry_affine_set_theta).
   Every non-NULL term must have dimension n and the same space pointer, which the
   family inherits. matvec: p products (identity terms are an axpy; terms with theta_i
   == 0 are skipped). param_vjp: parameters theta, grad[i] += w^T B_i u (one product
   with B_i per term, and a local dot product). Use kry_affine_matvec_vjp as the fused
   product of the backward sweep to share those products. Keeps one scratch vector:
   not for concurrent use by several threads.
   Errors: KRY_EINVAL (NULL out or terms, n == 0, p == 0, an invalid term, a term of
   another dimension or space), KRY_ENONFINITE (theta not finite), KRY_ERANGE (n above
   a BLAS int), KRY_ENOMEM. */
KRY_API KRY_NODISCARD kry_status kry_operator_affine(size_t n, size_t p,
                                                     const kry_operator *const *terms,
                                                     const double *theta,
                                                     kry_operator *out);

/* Sets theta[0..p) of an affine operator from kry_operator_affine.
   Errors: KRY_EINVAL (op not an affine operator, NULL theta), KRY_ENONFINITE. */
KRY_API KRY_NODISCARD kry_status kry_affine_set_theta(kry_operator *op,
                                                      const double *theta);

/* The fused product of an affine operator (pass op->ctx): u = A(theta) w and
   grad[i] += x^T B_i w (= w^T B_i x, the B_i being symmetric), each B_i w formed once.
   Returns nonzero when a term's matvec fails. */
KRY_API int kry_affine_matvec_vjp(void *ctx, const double *restrict w,
                                  const double *restrict x, double *restrict u,
                                  double *restrict grad);

/* ---- The tridiagonal pencil with every coefficient a parameter ---- */

/* Number of parameters of kry_operator_pencil_full: p + n + (n-1) + n p + (n-1) p, or 0
   when n == 0 or the count overflows. */
KRY_API size_t kry_pencil_full_nparams(size_t n, size_t p);

/* The tridiagonal pencil A(x) = A_0 + sum_{i<p} x_i A_i of kry_operator_pencil
   (diag(A(x)) = d0 + D x, offdiag(A(x)) = e0 + E x, D n x p and E (n-1) x p, row-major),
   with param_vjp differentiating with respect to the point *and* the matrices, packed as
       theta = (x[0..p), d0[0..n), e0[0..n-1), D[0..n p), E[0..(n-1) p)).
   With s_r = w_r u_r and t_r = w_r u_{r+1} + w_{r+1} u_r, param_vjp adds
   grad_x = D^T s + E^T t, grad_d0 = s, grad_e0 = t, grad_D = s x^T, grad_E = t x^T
   (MATH.md section 4's linear layer), so one adjoint sweep trains both the A_i and x.
   theta (length kry_pencil_full_nparams(n, p)) is copied. p may be 0.
   Errors: KRY_EINVAL (NULL theta or out, n == 0), KRY_ENONFINITE (theta or A(x) not
   finite), KRY_ERANGE (sizes overflow), KRY_ENOMEM. */
KRY_API KRY_NODISCARD kry_status kry_operator_pencil_full(size_t n, size_t p,
                                                          const double *theta,
                                                          kry_operator *out);

/* Replaces theta of an operator from kry_operator_pencil_full (no allocation; not
   concurrently with products of the same operator). On error the previous theta stays.
   Errors: KRY_EINVAL (another operator, NULL theta), KRY_ENONFINITE (theta or A(x)). */
KRY_API KRY_NODISCARD kry_status kry_pencil_full_set(kry_operator *op, const double *theta);

#ifdef __cplusplus
}
#endif
#endif /* KRY_ADJOINT_H */
