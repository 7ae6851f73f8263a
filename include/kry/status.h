/* kry/status.h — error codes (kry_status) and stop reasons (kry_reason).

   Every fallible kry function returns a kry_status. KRY_OK means the call did what it
   documents; any other value means it did not, and outputs are unspecified unless the
   function says otherwise. Not converging is *not* an error: solvers return KRY_OK and
   report why they stopped in a kry_reason field of their result. */
#ifndef KRY_STATUS_H
#define KRY_STATUS_H

#include "kry/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kry_status {
    KRY_OK = 0,
    KRY_EINVAL,       /* invalid argument or parameter value */
    KRY_EDIM,         /* dimensions of operator, vectors or workspace disagree */
    KRY_ENOMEM,       /* memory allocation failed */
    KRY_ECALLBACK,    /* a user callback (matvec, gradient, reduction) returned nonzero */
    KRY_ENONFINITE,   /* a NaN or Inf appeared in an input or in an operator's output */
    KRY_ELAPACK,      /* a LAPACK routine reported failure (info != 0) */
    KRY_ERANGE,       /* a size exceeds a supported limit (BLAS/LAPACK int, 32-bit index) */
    KRY_EUNSUPPORTED, /* valid request this object cannot serve (e.g. no param_vjp) */
    KRY_EIO,          /* a file could not be opened, read or written */
    KRY_EFORMAT,      /* malformed input file (see the accompanying error detail) */
    KRY_ENOTSYM,      /* the matrix or operator is not symmetric */
    KRY_EDOMAIN,      /* a function was applied outside its domain (log or sqrt of a
                         matrix that is not positive definite, 1/x at 0) */
    KRY_ENOTCONV,     /* budget exhausted before convergence, and the caller asked for
                         that to be an error (params.fail_if_not_converged) */
    KRY_STATUS_COUNT  /* number of codes; not a status */
} kry_status;

/* Returns a static, human-readable, one-line description of status. Never NULL:
   out-of-range values give "unknown status". Thread-safe. */
KRY_API const char *kry_strerror(kry_status status);

/* Why an iterative method stopped. Reported in result structs, never returned. */
typedef enum kry_reason {
    KRY_RUNNING = 0,          /* not stopped yet (step-level APIs) */
    KRY_CONVERGED_TOL,        /* the requested residual tolerance was reached */
    KRY_CONVERGED_INVARIANT,  /* the Krylov space became invariant (lucky breakdown) */
    KRY_STOPPED_MAXIT,        /* the step or matvec budget ran out first */
    KRY_STOPPED_USER,         /* a monitor callback asked to stop */
    KRY_REASON_COUNT          /* number of reasons; not a reason */
} kry_reason;

/* Returns a static lower-case token for reason ("converged", "invariant",
   "max_iterations", "user", "running"); "unknown" when out of range. */
KRY_API const char *kry_reason_str(kry_reason reason);

#ifdef __cplusplus
}
#endif
#endif /* KRY_STATUS_H */
