/* rng.c — counter-based random numbers: value = mix(key(seed, stream), index).

   The finaliser is the SplitMix64 one (Steele, Lea & Flood, "Fast splittable
   pseudorandom number generators", OOPSLA 2014); applying it to a Weyl sequence in the
   counter gives independent-looking values for consecutive indices. */
#include <math.h>

#include "kry/rng.h"
#include "rng_impl.h"

uint64_t kry_rng_u64(uint64_t seed, uint64_t stream, uint64_t index)
{
    return kry_rng_keyed(kry_rng_key(seed, stream), index);
}

double kry_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    return (double)(kry_rng_u64(seed, stream, index) >> 11) * 0x1.0p-53;
}

double kry_rng_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    /* Counters 2i and 2i+1 feed one Box–Muller pair; u1 is in (0, 1] so log is finite. */
    double u1 = 1.0 - kry_rng_uniform(seed, stream, 2 * index);
    double u2 = kry_rng_uniform(seed, stream, 2 * index + 1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void kry_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t offset, size_t n,
                          double lo, double hi, double *x)
{
    for (size_t i = 0; i < n; ++i)
        x[i] = lo + (hi - lo) * kry_rng_uniform(seed, stream, offset + i);
}

void kry_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t offset, size_t n,
                         double *x)
{
    for (size_t i = 0; i < n; ++i)
        x[i] = kry_rng_normal(seed, stream, offset + i);
}

void kry_rng_fill_rademacher(uint64_t seed, uint64_t stream, uint64_t offset, size_t n,
                             double *x)
{
    for (size_t i = 0; i < n; ++i)
        x[i] = (kry_rng_u64(seed, stream, offset + i) >> 63) ? 1.0 : -1.0;
}
