/* status.c — text for kry_status and kry_reason, from designated-initialiser tables. */
#include "kry/status.h"

static const char *const status_text[KRY_STATUS_COUNT] = {
    [KRY_OK] = "success",
    [KRY_EINVAL] = "invalid argument",
    [KRY_EDIM] = "dimension mismatch",
    [KRY_ENOMEM] = "out of memory",
    [KRY_ECALLBACK] = "user callback failed",
    [KRY_ENONFINITE] = "NaN or Inf encountered",
    [KRY_ELAPACK] = "LAPACK routine failed",
    [KRY_ERANGE] = "size exceeds a supported limit (BLAS/LAPACK integers, 32-bit indices or memory)",
    [KRY_EUNSUPPORTED] = "operation not supported by this object",
    [KRY_EIO] = "input/output error",
    [KRY_EFORMAT] = "malformed input",
    [KRY_ENOTSYM] = "matrix is not symmetric",
    [KRY_EDOMAIN] = "argument outside the function's domain (matrix not positive definite?)",
    [KRY_ENOTCONV] = "not converged within the iteration budget",
};

static const char *const reason_text[KRY_REASON_COUNT] = {
    [KRY_RUNNING] = "running",
    [KRY_CONVERGED_TOL] = "converged",
    [KRY_CONVERGED_INVARIANT] = "invariant",
    [KRY_STOPPED_MAXIT] = "max_iterations",
    [KRY_STOPPED_USER] = "user",
};

const char *kry_strerror(kry_status status)
{
    if ((unsigned)status >= KRY_STATUS_COUNT || status_text[status] == 0)
        return "unknown status";
    return status_text[status];
}

const char *kry_reason_str(kry_reason reason)
{
    if ((unsigned)reason >= KRY_REASON_COUNT || reason_text[reason] == 0)
        return "unknown";
    return reason_text[reason];
}
