/* core/rng: explicit random state (xoshiro256**), never rand().
 *
 * A stream is seeded from (seed, key1, key2) through splitmix64, so "the RNG of step s, subnet j"
 * is a pure function of its key and needs no communication between ranks.  The state is four
 * 64-bit words, stored in checkpoints as-is.
 */
#ifndef OFA_CORE_RNG_H
#define OFA_CORE_RNG_H

#include <stdint.h>

typedef struct ofa_rng {
    uint64_t s[4];
} ofa_rng;

void ofa_rng_seed(ofa_rng *r, uint64_t seed);
/* A stream keyed by (seed, a, b): independent of any other key. */
void ofa_rng_keyed(ofa_rng *r, uint64_t seed, uint64_t a, uint64_t b);
/* The next 64 bits.  Inline (with ofa_rng_uniform) because dropout draws one per activation. */
static inline uint64_t ofa_rng_u64(ofa_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
static inline float ofa_rng_uniform(ofa_rng *r) { return (float)(ofa_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
/* Uniform integer in [0, n), unbiased. */
uint64_t ofa_rng_below(ofa_rng *r, uint64_t n);
/* Standard normal (Box-Muller, double precision). */
double ofa_rng_normal(ofa_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void ofa_rng_shuffle(ofa_rng *r, int64_t *idx, int64_t n);

#endif
