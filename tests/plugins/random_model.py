# SPDX-License-Identifier: BSD-3-Clause
# random_model.py: a slow, plain model in Python of the bytes the random
# plugin serves (and nbdkit's), for the tests to check reads against.
# Use it from nbdsh with exec(open(PATH).read()).

M = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


def prng_seed(seed):
    """splitmix64, four steps: the xoshiro256** state for seed."""
    s = []
    for _ in range(4):
        seed = (seed + 0x9E3779B97F4A7C15) & M
        z = ((seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        s.append(z ^ (z >> 31))
    return s


def prng_next(s):
    """One step of xoshiro256** on the state list s."""
    r = (rotl((s[1] * 5) & M, 7) * 9) & M
    t = (s[1] << 17) & M
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 45)
    return r


def random_byte(seed, off):
    """random plugin: low byte of the 3rd number seeded with seed + off."""
    s = prng_seed((seed + off) & M)
    prng_next(s)
    prng_next(s)
    return prng_next(s) & 255


def random_read(seed, off, n):
    return bytes(random_byte(seed, off + i) for i in range(n))
