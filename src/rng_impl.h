/* rng_impl.h — the counter-based generator of kry/rng.h as inline pieces (internal),
   for loops that draw many values of one (seed, stream): the key is computed once. */
#ifndef KRY_RNG_IMPL_H
#define KRY_RNG_IMPL_H

#include <stdint.h>

/* The SplitMix64 finaliser. */
static inline uint64_t kry_rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The key of (seed, stream). */
static inline uint64_t kry_rng_key(uint64_t seed, uint64_t stream)
{
    return kry_rng_mix64(seed ^ kry_rng_mix64(stream + UINT64_C(0x632BE59BD9B4E019)));
}

/* Value number `index` under `key`: kry_rng_u64(seed, stream, index) equals
   kry_rng_keyed(kry_rng_key(seed, stream), index). */
static inline uint64_t kry_rng_keyed(uint64_t key, uint64_t index)
{
    uint64_t z = kry_rng_mix64(key + (index + 1) * UINT64_C(0x9E3779B97F4A7C15));
    return kry_rng_mix64(z ^ key);
}

#endif /* KRY_RNG_IMPL_H */
