/* kry/rng.h — a counter-based random number generator.

   Every value is a pure function of (seed, stream, index): there is no state to carry,
   so the vector an algorithm draws does not depend on how it is split across threads or
   MPI ranks (a rank filling entries [offset, offset+n) of a global vector gets exactly
   the entries a serial run gets). The mixing function is a SplitMix64-style finaliser
   applied to the key and counter; it is fast and statistically sound for start vectors
   and probes, and it is not cryptographic. */
#ifndef KRY_RNG_H
#define KRY_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Well-known stream numbers, so that different uses of one seed never collide. */
enum {
    KRY_RNG_STREAM_START = 1,   /* start vectors of Lanczos / power iteration */
    KRY_RNG_STREAM_RESTART = 2, /* fresh vectors after breakdown or for multiplicities */
    KRY_RNG_STREAM_PROBE = 3,   /* probe vectors of trace estimators */
    KRY_RNG_STREAM_TEST = 4,    /* test and benchmark data */
    KRY_RNG_STREAM_USER = 1024  /* first stream number free for user code */
};

/* 64 random bits for (seed, stream, index). */
KRY_API uint64_t kry_rng_u64(uint64_t seed, uint64_t stream, uint64_t index);

/* A double uniform in [0, 1) with 53 random bits, for (seed, stream, index). */
KRY_API double kry_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index);

/* A standard normal deviate for (seed, stream, index) (Box–Muller on two counters). */
KRY_API double kry_rng_normal(uint64_t seed, uint64_t stream, uint64_t index);

/* x[i] = uniform in [lo, hi) for global index offset + i, i < n. */
KRY_API void kry_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t offset,
                                  size_t n, double lo, double hi, double *x);

/* x[i] = standard normal for global index offset + i, i < n. */
KRY_API void kry_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t offset,
                                 size_t n, double *x);

/* x[i] = +1 or -1 with equal probability for global index offset + i, i < n. */
KRY_API void kry_rng_fill_rademacher(uint64_t seed, uint64_t stream, uint64_t offset,
                                     size_t n, double *x);

#ifdef __cplusplus
}
#endif
#endif /* KRY_RNG_H */
