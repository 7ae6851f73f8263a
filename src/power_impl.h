/* power_impl.h — the power-iteration engine shared by power.c and deflation.c (never
   installed). */
#ifndef KRY_POWER_IMPL_H
#define KRY_POWER_IMPL_H

#include <stddef.h>

#include "kry/operator.h"
#include "kry/power.h"
#include "kry/status.h"


/* y = B x for the operator being iterated (one matvec of the user's operator). */
typedef kry_status kry_power_engine_apply_fn(void *ctx, const double *x, double *y);

typedef struct kry_power_engine {
    size_t n;                         /* local length */
    const kry_space *space;           /* reductions and the global length */
    kry_power_engine_apply_fn *apply; /* the operator B (before the phase shift) */
    void *apply_ctx;
    const double *x0;                 /* unit start vector, length n */
    double *buf[3];                   /* three work vectors of length n */
    double *r;                        /* scratch vector of length n */
    double *hist_lambda, *hist_resid; /* max_iter entries each, or NULL */
    double anorm0;                    /* initial estimate of |B| (>= 0) */
} kry_power_engine;

/* Runs the phases described in kry/power.h on B; *x_out points into e->buf at the unit
   vector the result refers to (the last one whose product was computed). */
kry_status kry_power_engine_run(const kry_power_engine *e, const kry_power_params *p,
                                const double **x_out, kry_power_result *res);

/* Copies *in (or the defaults when in == NULL) to *out with the 0-means-default fields
   resolved; KRY_EINVAL for invalid values. */
kry_status kry_power_params_resolve(const kry_power_params *in, kry_power_params *out);

/* Scales x (length n) to unit norm. KRY_ENONFINITE if x has a NaN/Inf, KRY_EINVAL if it
   is zero, KRY_ECALLBACK if the reduction fails. */
kry_status kry_power_normalize_start(const kry_space *sp, size_t n, double *x);

#endif /* KRY_POWER_IMPL_H */
