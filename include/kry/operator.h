/* kry/operator.h — the one interface every kry solver sees: y = A x.

   A kry_operator is a plain struct of function pointers and a context. Users may fill
   one by hand (only n and matvec are required) or get one from a constructor below.
   Constructors that allocate set `destroy`; release such operators with
   kry_operator_destroy(). kry never frees a user's ctx except through `destroy`.

   Distributed operators: `n` is the *local* length (the entries this process holds) and
   `space` says how local inner products are summed across processes and where the local
   block starts in the global vector. NULL `space` means serial. */
#ifndef KRY_OPERATOR_H
#define KRY_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sums buf[0..count) element-wise across all processes sharing the vector, in place.
   Returns 0 on success; nonzero makes the calling solver return KRY_ECALLBACK. */
typedef int kry_allreduce_fn(void *ctx, double *buf, size_t count);

/* The vector space an operator acts on. */
typedef struct kry_space {
    kry_allreduce_fn *allreduce; /* NULL: single process, no reduction */
    void *ctx;                   /* passed to allreduce */
    uint64_t offset;             /* global index of local entry 0 (random vectors use it) */
    uint64_t n_global;           /* global length; 0 means "same as the operator's n" */
} kry_space;

/* y = A x for local vectors of length n. x and y never alias. Return 0 on success;
   any other value stops the calling solver, which returns KRY_ECALLBACK. */
typedef int kry_matvec_fn(void *ctx, const double *restrict x, double *restrict y);

/* Y = A X for k column-major vectors (leading dimensions ldx, ldy >= n). Optional. */
typedef int kry_matvec_block_fn(void *ctx, size_t k, const double *restrict x, size_t ldx,
                                double *restrict y, size_t ldy);

/* Parameter vector-Jacobian product, for adjoints: grad[0..n_params) +=
   d(w^T A(theta) u)/d(theta), for vectors u, w of length n. Optional. */
typedef int kry_param_vjp_fn(void *ctx, const double *restrict u, const double *restrict w,
                             double *restrict grad);

/* Releases ctx and anything it owns. */
typedef void kry_destroy_fn(void *ctx);

typedef struct kry_operator {
    size_t n;                          /* local dimension; must be >= 1 */
    kry_matvec_fn *matvec;             /* required */
    kry_matvec_block_fn *matvec_block; /* optional; NULL: columns one by one */
    kry_param_vjp_fn *param_vjp;       /* optional; NULL: no parameter gradients */
    size_t n_params;                   /* length of the gradient param_vjp accumulates */
    void *ctx;                         /* passed first to every callback */
    kry_destroy_fn *destroy;           /* optional; called by kry_operator_destroy */
    const kry_space *space;            /* optional; NULL: serial */
} kry_operator;

/* Checks that op is usable: op != NULL, op->n >= 1, op->matvec != NULL.
   Returns KRY_OK or KRY_EINVAL. */
KRY_API KRY_NODISCARD kry_status kry_operator_check(const kry_operator *op);

/* y = A x through op->matvec, then checks y is finite.
   Errors: KRY_EINVAL (NULL pointers), KRY_ECALLBACK (matvec returned nonzero),
   KRY_ENONFINITE (y has a NaN or Inf). One matvec. */
KRY_API KRY_NODISCARD kry_status kry_operator_apply(const kry_operator *op,
                                                    const double *restrict x,
                                                    double *restrict y);

/* Calls op->destroy(op->ctx) if set, then zeroes *op. NULL or a zeroed op is a no-op. */
KRY_API void kry_operator_destroy(kry_operator *op);

/* ---- Constructors. Each copies its input arrays (the caller may free them after the
   call) and sets `destroy`, unless said otherwise. Errors: KRY_EINVAL for NULL
   pointers or n == 0, KRY_ENONFINITE for NaN/Inf entries, KRY_ENOMEM, and KRY_ERANGE
   when a dimension used in BLAS calls exceeds INT_MAX (dense, hvp_fd, wrappers).
   Operators that keep scratch space in ctx (scale's param_vjp, deflated, hvp_fd) must not
   be applied by two threads at once. ---- */

/* Dense symmetric n x n matrix, row-major with leading dimension lda >= n; only the
   upper triangle (j >= i) is read, and y = A x uses dsymv. param_vjp: the parameters
   are the n*n entries in row-major order and grad[i*n + j] += w[i] * u[j] (an outer
   product, not symmetrised). Since only the upper triangle is read, the derivative with
   respect to the stored entry (i, j), i < j, is grad[i*n + j] + grad[j*n + i].
   n must fit a BLAS int (KRY_ERANGE otherwise). */
KRY_API KRY_NODISCARD kry_status kry_operator_dense(size_t n, const double *a, size_t lda,
                                                    kry_operator *out);

/* Symmetric tridiagonal matrix with diagonal d[0..n) and off-diagonal e[0..n-1)
   (e may be NULL when n == 1). param_vjp: parameters are (d[0..n), e[0..n-1)), so
   grad[i] += w_i u_i and grad[n+i] += w_i u_{i+1} + w_{i+1} u_i. */
KRY_API KRY_NODISCARD kry_status kry_operator_tridiag(size_t n, const double *d,
                                                      const double *e, kry_operator *out);

/* Tridiagonal pencil A(x) = A_0 + sum_{i<p} x_i A_i, every A_i symmetric tridiagonal:
   diag(A(x)) = d0 + D x and offdiag(A(x)) = e0 + E x, with D (n x p) and E ((n-1) x p)
   row-major. The point x starts at zero; change it with kry_pencil_set_point.
   param_vjp: parameters are x[0..p), grad[i] += w^T A_i u. p may be 0. */
KRY_API KRY_NODISCARD kry_status kry_operator_pencil(size_t n, size_t p, const double *d0,
                                                     const double *e0, const double *D,
                                                     const double *E, kry_operator *out);

/* Sets the point x[0..p) of a pencil operator made by kry_operator_pencil.
   Errors: KRY_EINVAL (op not a pencil, NULL x), KRY_ENONFINITE (x not finite, or A(x)
   overflows). On error the previous point stays in force. */
KRY_API KRY_NODISCARD kry_status kry_pencil_set_point(kry_operator *op, const double *x);

/* Gradient callback for Hessian-vector products: g = grad L(theta), both length n.
   Returns 0 on success. */
typedef int kry_grad_fn(void *ctx, const double *restrict theta, double *restrict g);

typedef enum kry_fd_scheme {
    KRY_FD_CENTRAL = 0, /* (g(t + h u) - g(t - h u)) / 2h: 2 gradients, error O(h^2) */
    KRY_FD_FORWARD      /* (g(t + h u) - g(t)) / h: 1 gradient (g(t) cached), O(h) */
} kry_fd_scheme;

typedef struct kry_hvp_fd_params {
    kry_fd_scheme scheme; /* default KRY_FD_CENTRAL */
    double grad_rel_acc;  /* relative accuracy eps_g of the gradient; <= 0: DBL_EPSILON */
    double h;             /* step; <= 0: eps_g^(1/3) sqrt(1+|theta|) central,
                             eps_g^(1/2) sqrt(1+|theta|) forward */
} kry_hvp_fd_params;

/* Returns the defaults: central scheme, eps_g = DBL_EPSILON, automatic step. */
KRY_API kry_hvp_fd_params kry_hvp_fd_params_default(void);

/* Hessian-vector product by finite differences of a gradient (MATH.md section 5):
   H v ~ |v| (g(theta + h u) - g(theta - h u)) / 2h with u = v/|v|; v = 0 gives 0.
   theta is *referenced*, not copied: it must stay valid for the operator's lifetime and
   the user may change it between solves (the step is recomputed from |theta| at each
   product). The gradient is evaluated at theta +/- h u held in a private buffer, so
   theta itself is never written. params NULL means defaults. The forward scheme caches
   g(theta) at the first product after each change of theta's contents.
   The result is only approximately linear and symmetric: tolerances of solvers using
   it must sit above its error. Not for distributed use. Errors as for all constructors,
   plus KRY_EINVAL for an unknown scheme, a non-finite h, or grad_rel_acc non-finite or
   >= 1. */
KRY_API KRY_NODISCARD kry_status kry_operator_hvp_fd(size_t n, kry_grad_fn *grad,
                                                     void *grad_ctx, const double *theta,
                                                     const kry_hvp_fd_params *params,
                                                     kry_operator *out);

/* The step h used by the most recent product of an FD-HVP operator (0 before the first).
   Returns KRY_EINVAL if op is not an FD-HVP operator. */
KRY_API KRY_NODISCARD kry_status kry_hvp_fd_last_step(const kry_operator *op, double *h);

/* Number of gradient evaluations an FD-HVP operator has made so far. */
KRY_API KRY_NODISCARD kry_status kry_hvp_fd_grad_count(const kry_operator *op,
                                                       size_t *count);

/* A plain user callback: fills *out with n, matvec and ctx, everything else NULL/0.
   Allocates nothing; destroy is NULL. Errors: KRY_EINVAL. */
KRY_API KRY_NODISCARD kry_status kry_operator_callback(size_t n, kry_matvec_fn *matvec,
                                                       void *ctx, kry_operator *out);

/* Wrappers. Each references `a` (which must outlive the wrapper) and copies any arrays.
   They inherit a->space. param_vjp is forwarded where it is well defined (scale: scaled
   by s; shift: unchanged), absent for the deflated operator. */

/* y = A x - sigma x. */
KRY_API KRY_NODISCARD kry_status kry_operator_shift(const kry_operator *a, double sigma,
                                                    kry_operator *out);

/* y = s A x. */
KRY_API KRY_NODISCARD kry_status kry_operator_scale(const kry_operator *a, double s,
                                                    kry_operator *out);

/* y = A x - sum_{i<k} lambda_i v_i (v_i^T x), with v_i the columns of V (n x k,
   column-major, ldv >= n; copied). Inner products use a->space. k may be 0. */
KRY_API KRY_NODISCARD kry_status kry_operator_deflated(const kry_operator *a, size_t k,
                                                       const double *lambda,
                                                       const double *V, size_t ldv,
                                                       kry_operator *out);

/* Symmetry probe: draws random x, y (from seed) and sets
   *rel = |x^T A y - y^T A x| / (|x| |A y| + |y| |A x|), 0 for a symmetric operator up to
   rounding (about n * DBL_EPSILON). Two matvecs. Allocates 4 vectors of length n.
   Errors: those of kry_operator_apply, KRY_ECALLBACK (reduction hook), KRY_ERANGE,
   KRY_ENOMEM. */
KRY_API KRY_NODISCARD kry_status kry_operator_symmetry(const kry_operator *op,
                                                       uint64_t seed, double *rel);

#ifdef __cplusplus
}
#endif
#endif /* KRY_OPERATOR_H */
