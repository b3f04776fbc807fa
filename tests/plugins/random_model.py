# SPDX-License-Identifier: BSD-3-Clause
# random_model.py: a slow, plain model in Python of the bytes the random
# and sparse-random plugins serve (and nbdkit's), for the tests to check
# reads against.
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


# sparse-random: 4096-byte blocks, each data or hole.
BS = 4096


def sparse_layout(size, seed, percent=10.0, runlength=16 << 20):
    """The list of blocks, 1 for data: a walk from a hole, the state of
    block i+1 flipped when the i-th number is at most P * (2^64 - 1)."""
    nblk = (size + BS - 1) // BS
    if percent == 0 or percent == 100:
        return [int(percent == 100)] * nblk
    p_dh = 1.0 / (runlength / BS)
    p_hd = p_dh * (percent / 100.0) / (1.0 - percent / 100.0)
    s = prng_seed(seed)
    data, bm = 0, []
    for _ in range(nblk):
        bm.append(data)
        if float(prng_next(s)) <= (p_dh if data else p_hd) * float(M):
            data = 1 - data
    return bm


def sparse_piece(bm, seed, rc, off, n):
    """n bytes at off, all in one block; data seeded with seed + off."""
    if not bm[off // BS]:
        return bytes(n)
    s = prng_seed((seed + off) & M)
    if not rc:
        return bytes([prng_next(s) & 255 or 1]) * n
    for _ in range(off % BS):
        prng_next(s)
    return bytes(prng_next(s) & 255 for _ in range(n))


def sparse_read(bm, seed, rc, off, n):
    out = []
    while n > 0:
        k = min(n, BS - off % BS)
        out.append(sparse_piece(bm, seed, rc, off, k))
        off += k
        n -= k
    return b"".join(out)
