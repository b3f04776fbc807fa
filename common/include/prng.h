/* SPDX-License-Identifier: BSD-3-Clause */
/* prng.h: a small, fast, insecure pseudo-random number generator.
 *
 * Header only.  The generator is xoshiro256** (Blackman and Vigna,
 * public domain algorithm): 256 bits of state, one 64-bit number per
 * step.  prng_seed fills the state from one 64-bit seed with four steps
 * of splitmix64, as the authors recommend.  These are the same
 * algorithms and the same seeding as nbdkit's random and sparse-random
 * plugins, so plugins built on this serve the same bytes as nbdkit's.
 *
 * A struct prng belongs to its caller; it is not locked, so each thread
 * uses its own (they are cheap: 32 bytes, no allocation).  Never use it
 * for anything that must be unpredictable.
 */

#ifndef NBDX_PRNG_H
#define NBDX_PRNG_H

#include <stdint.h>

struct prng {
    uint64_t s[4];
};

static inline uint64_t
prng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* One splitmix64 step: advance *x and return its mixed value. */
static inline uint64_t
prng_splitmix64(uint64_t *x)
{
    uint64_t z;

    *x += UINT64_C(0x9e3779b97f4a7c15);
    z = *x;
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Set the whole state from seed; any seed, even 0, is fine. */
static inline void
prng_seed(struct prng *st, uint64_t seed)
{
    int i;

    for (i = 0; i < 4; i++)
        st->s[i] = prng_splitmix64(&seed);
}

/* The next 64-bit number of xoshiro256**. */
static inline uint64_t
prng_next(struct prng *st)
{
    uint64_t *s = st->s;
    uint64_t result = prng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = prng_rotl(s[3], 45);
    return result;
}

#endif /* NBDX_PRNG_H */
