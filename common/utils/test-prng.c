/* SPDX-License-Identifier: BSD-3-Clause */
/* test-prng.c: unit tests of prng.h against published and computed
 * values of splitmix64 and xoshiro256**.
 */

#include <stdint.h>

#include "prng.h"
#include "unit.h"

int
main(void)
{
    struct prng st;
    uint64_t x = 0;

    unit_group("splitmix64 from 0 gives its well-known first number");
    CHECK(prng_splitmix64(&x) == UINT64_C(0xe220a8397b1dcdaf));

    unit_group("seeding from 0 is four splitmix64 steps");
    prng_seed(&st, 0);
    CHECK(st.s[0] == UINT64_C(0xe220a8397b1dcdaf));
    CHECK(st.s[1] == UINT64_C(0x6e789e6aa1b965f4));
    CHECK(st.s[2] == UINT64_C(0x06c45d188009454f));
    CHECK(st.s[3] == UINT64_C(0xf88bb8a8724c81ec));

    unit_group("the first xoshiro256** numbers after seeding from 0");
    CHECK(prng_next(&st) == UINT64_C(0x99ec5f36cb75f2b4));
    CHECK(prng_next(&st) == UINT64_C(0xbf6e1f784956452a));
    CHECK(prng_next(&st) == UINT64_C(0x1a5f849d4933e6e0));

    unit_group("the largest seed wraps around without harm");
    prng_seed(&st, UINT64_MAX);
    CHECK(prng_next(&st) == UINT64_C(0x8f5520d52a7ead08));
    CHECK(prng_next(&st) == UINT64_C(0xc476a018caa1802d));
    return unit_finish();
}
