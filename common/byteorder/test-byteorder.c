/* SPDX-License-Identifier: BSD-3-Clause */
/* test-byteorder.c: unit tests of byteorder.h, at every alignment. */

#include <stdint.h>
#include <string.h>

#include "byteorder.h"
#include "unit.h"

static const uint8_t pattern[8] = {0x01, 0x23, 0x45, 0x67,
                                   0x89, 0xab, 0xcd, 0xef};

/* buf[off..off+n) holds pattern[0..n) and every other byte is still the
 * guard value 0x5a.  The values written are chosen so that both byte
 * orders should give the pattern's order.
 */
static int
layout_ok(const uint8_t *buf, size_t off, size_t n)
{
    size_t i;

    for (i = 0; i < 24; i++) {
        uint8_t want = 0x5a;
        if (i >= off && i < off + n)
            want = pattern[i - off];
        if (buf[i] != want)
            return 0;
    }
    return 1;
}

/* Write v with fn at buf + off, over guard bytes, and check the layout. */
#define WRITES(fn, v, n)                                                       \
    (memset(buf, 0x5a, sizeof buf), fn(buf + off, v), layout_ok(buf, off, n))

static void
test_write(void)
{
    uint8_t buf[24];
    size_t off;
    int bad = 0;

    unit_group("writes put the bytes in order, at any offset, and no others");
    for (off = 0; off < 16; off++) {
        bad += !WRITES(byteorder_write_be16, 0x0123, 2);
        bad += !WRITES(byteorder_write_be32, 0x01234567, 4);
        bad += !WRITES(byteorder_write_be64, 0x0123456789abcdef, 8);
        bad += !WRITES(byteorder_write_le16, 0x2301, 2);
        bad += !WRITES(byteorder_write_le32, 0x67452301, 4);
        bad += !WRITES(byteorder_write_le64, 0xefcdab8967452301, 8);
    }
    CHECK(bad == 0);
}

static void
test_read(void)
{
    uint8_t buf[24];
    size_t off;
    int bad = 0;

    unit_group("reads take the bytes in order, at any offset");
    for (off = 0; off < 16; off++) {
        memset(buf, 0xff, sizeof buf);
        memcpy(buf + off, pattern, sizeof pattern);
        bad += byteorder_read_be16(buf + off) != 0x0123;
        bad += byteorder_read_be32(buf + off) != 0x01234567;
        bad += byteorder_read_be64(buf + off) != 0x0123456789abcdef;
        bad += byteorder_read_le16(buf + off) != 0x2301;
        bad += byteorder_read_le32(buf + off) != 0x67452301;
        bad += byteorder_read_le64(buf + off) != 0xefcdab8967452301;
    }
    CHECK(bad == 0);

    unit_group("the top bit survives: values are unsigned");
    memset(buf, 0x80, sizeof buf);
    CHECK(byteorder_read_be16(buf + 1) == 0x8080);
    CHECK(byteorder_read_le32(buf + 3) == 0x80808080);
    CHECK(byteorder_read_be64(buf + 5) == 0x8080808080808080);
    byteorder_write_be64(buf + 3, UINT64_MAX);
    CHECK(byteorder_read_le64(buf + 3) == UINT64_MAX && buf[2] == 0x80 &&
          buf[11] == 0x80);
}

int
main(void)
{
    test_write();
    test_read();
    return unit_finish();
}
