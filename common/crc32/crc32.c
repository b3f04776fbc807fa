/* SPDX-License-Identifier: BSD-3-Clause */
/* crc32.c: bytewise CRC-32 with a 256-entry table built at compile time
 * by the macros below, so there is no initialisation to race on.
 */

#include "crc32.h"

#define CRC32_POLY 0xedb88320u

/* One shift of the reflected register, eight times over. */
#define S1(c) (((c) >> 1) ^ (((c)&1) ? CRC32_POLY : 0))
#define S2(c) S1(S1(c))
#define S4(c) S2(S2(c))
#define S8(c) S4(S4(c))
#define E1(n) S8((uint32_t)(n))
#define E4(n) E1(n), E1((n) + 1), E1((n) + 2), E1((n) + 3)
#define E16(n) E4(n), E4((n) + 4), E4((n) + 8), E4((n) + 12)
#define E64(n) E16(n), E16((n) + 16), E16((n) + 32), E16((n) + 48)

static const uint32_t crc32_table[256] = {E64(0), E64(64), E64(128), E64(192)};

uint32_t
crc32_update(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    crc = ~crc;
    while (len-- > 0)
        crc = crc32_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t
crc32_compute(const void *buf, size_t len)
{
    return crc32_update(0, buf, len);
}
