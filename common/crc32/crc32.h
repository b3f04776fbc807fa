/* SPDX-License-Identifier: BSD-3-Clause */
/* crc32.h: the CRC-32 of IEEE 802.3 (reflected polynomial 0xedb88320,
 * initial value and final xor 0xffffffff), as GPT headers, gzip and zlib
 * use it.
 *
 *     uint32_t c = crc32_compute(buf, len);
 *
 * or in pieces, for data that is not in one buffer:
 *
 *     uint32_t c = crc32_update(0, a, alen);
 *     c = crc32_update(c, b, blen);      ... c == crc32_compute(a ++ b)
 *
 * No allocation, no state: safe from any number of threads.
 */

#ifndef NBDX_CRC32_H
#define NBDX_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of the bytes so far, crc, extended with buf[0..len); start
 * with 0.
 */
extern uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

/* The CRC of buf[0..len). */
extern uint32_t crc32_compute(const void *buf, size_t len);

#endif /* NBDX_CRC32_H */
