/* internal.h — error plumbing shared by kry's sources (never installed). */
#ifndef KRY_INTERNAL_H
#define KRY_INTERNAL_H

#include <limits.h>
#include <stddef.h>

#include "kry/status.h"

/* Propagates any non-OK status to the caller. */
#define KRY_TRY(expr)                         \
    do {                                      \
        kry_status kry_try_s_ = (expr);       \
        if (kry_try_s_ != KRY_OK)             \
            return kry_try_s_;                \
    } while (0)

/* Argument check on a public entry point; stays on in release builds. */
#define KRY_REQUIRE(cond, code) \
    do {                        \
        if (!(cond))            \
            return (code);      \
    } while (0)

/* Within a function that cleans up at a `fail:` label: records the status and jumps. */
#define KRY_TRY_GOTO(st, expr)       \
    do {                             \
        (st) = (expr);               \
        if ((st) != KRY_OK)          \
            goto fail;               \
    } while (0)

/* True when n fits the BLAS/LAPACK integer type (int on Debian's OpenBLAS). */
static inline int kry_fits_blas_int(size_t n) { return n <= (size_t)INT_MAX; }

#endif /* KRY_INTERNAL_H */
