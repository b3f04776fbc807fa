/* SPDX-License-Identifier: BSD-3-Clause */
/* test-overflow.c: unit tests of the checked arithmetic in overflow.h. */

#include <stdint.h>

#include "overflow.h"
#include "unit.h"

static void
test_add(void)
{
    uint64_t r;
    size_t z;

    unit_group("add: the last sum that fits, and the first that does not");
    CHECK(!ckd_add_u64(&r, UINT64_MAX, 0) && r == UINT64_MAX);
    CHECK(!ckd_add_u64(&r, UINT64_MAX - 5, 5) && r == UINT64_MAX);
    CHECK(ckd_add_u64(&r, UINT64_MAX, 1) && r == 0);
    CHECK(ckd_add_u64(&r, UINT64_MAX, UINT64_MAX));
    CHECK(!ckd_add_u64(&r, INT64_MAX, INT64_MAX) && r == UINT64_MAX - 1);
    CHECK(!ckd_add_size(&z, SIZE_MAX - 1, 1) && z == SIZE_MAX);
    CHECK(ckd_add_size(&z, SIZE_MAX, 1) && z == 0);
    CHECK(ckd_add_size(&z, 1, SIZE_MAX));
}

static void
test_sub(void)
{
    uint64_t r;

    unit_group("sub: overflow is exactly a < b");
    CHECK(!ckd_sub_u64(&r, 5, 5) && r == 0);
    CHECK(!ckd_sub_u64(&r, UINT64_MAX, UINT64_MAX - 1) && r == 1);
    CHECK(ckd_sub_u64(&r, 0, 1) && r == UINT64_MAX);
    CHECK(ckd_sub_u64(&r, UINT64_MAX - 1, UINT64_MAX));
}

static void
test_mul(void)
{
    const uint64_t two32 = UINT64_C(1) << 32;
    uint64_t r;
    size_t z;

    unit_group("mul: products at 2^64 - 1 and 2^64");
    CHECK(!ckd_mul_u64(&r, two32 - 1, two32 + 1) && r == UINT64_MAX);
    CHECK(ckd_mul_u64(&r, two32, two32) && r == 0);
    CHECK(!ckd_mul_u64(&r, 0, UINT64_MAX) && r == 0);
    CHECK(!ckd_mul_u64(&r, UINT64_MAX, 1) && r == UINT64_MAX);
    CHECK(ckd_mul_u64(&r, UINT64_MAX, 2) && r == UINT64_MAX - 1);
    CHECK(!ckd_mul_size(&z, SIZE_MAX / 3, 3));
    CHECK(ckd_mul_size(&z, SIZE_MAX / 3 + 1, 3));
    CHECK(ckd_mul_size(&z, SIZE_MAX, SIZE_MAX) && z == 1);
}

/* A small deterministic generator that favours values near the edges. */
static uint64_t
rand_u64(uint64_t *state)
{
    uint64_t x = *state = *state * 6364136223846793005u + 1442695040888963407u;

    x ^= x >> 29;
    switch (x & 3) {
    case 0:
        return x >> (x & 63);
    case 1:
        return UINT64_MAX - (x >> 40);
    default:
        return x;
    }
}

static void
test_against_128(void)
{
    uint64_t state = 1, a, b, r;
    unsigned __int128 wide;
    int i, bad = 0;

    unit_group("add, sub and mul agree with 128-bit arithmetic");
    for (i = 0; i < 200000; i++) {
        a = rand_u64(&state);
        b = rand_u64(&state);
        wide = (unsigned __int128)a + b;
        bad +=
            ckd_add_u64(&r, a, b) != (wide > UINT64_MAX) || r != (uint64_t)wide;
        bad += ckd_sub_u64(&r, a, b) != (a < b) || r != a - b;
        wide = (unsigned __int128)a * b;
        bad +=
            ckd_mul_u64(&r, a, b) != (wide > UINT64_MAX) || r != (uint64_t)wide;
    }
    CHECK(bad == 0);
}

int
main(void)
{
    test_add();
    test_sub();
    test_mul();
    test_against_128();
    return unit_finish();
}
