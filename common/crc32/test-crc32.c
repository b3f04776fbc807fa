/* SPDX-License-Identifier: BSD-3-Clause */
/* test-crc32.c: unit tests of crc32.h against known values. */

#include <stdint.h>
#include <string.h>

#include "crc32.h"
#include "unit.h"

static void
test_known(void)
{
    static const unsigned char zeros[32];
    unsigned char ones[32];

    unit_group("known check values");
    CHECK(crc32_compute("", 0) == 0);
    CHECK(crc32_compute("123456789", 9) == 0xcbf43926);
    CHECK(crc32_compute("a", 1) == 0xe8b7be43);
    CHECK(crc32_compute("The quick brown fox jumps over the lazy dog", 43) ==
          0x414fa339);
    CHECK(crc32_compute(zeros, sizeof zeros) == 0x190a55ad);
    memset(ones, 0xff, sizeof ones);
    CHECK(crc32_compute(ones, sizeof ones) == 0xff6cab0b);
}

static void
test_pieces(void)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t cut;
    int bad = 0;

    unit_group("crc32_update in two pieces, cut anywhere, is the whole CRC");
    for (cut = 0; cut <= 43; cut++) {
        uint32_t c = crc32_update(0, s, cut);
        bad += crc32_update(c, s + cut, 43 - cut) != 0x414fa339;
    }
    CHECK(bad == 0);
    CHECK(crc32_update(0x414fa339, "", 0) == 0x414fa339);
}

int
main(void)
{
    test_known();
    test_pieces();
    return unit_finish();
}
