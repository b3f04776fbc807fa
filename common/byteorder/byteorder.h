/* SPDX-License-Identifier: BSD-3-Clause */
/* byteorder.h: big- and little-endian integers in byte buffers.
 *
 *     uint16_t byteorder_read_be16(const void *p)  (also be32, be64,
 *     uint32_t byteorder_read_le32(const void *p)   le16, le32, le64)
 *     void byteorder_write_be64(void *p, uint64_t v)
 *
 * byteorder_read_be32(p) returns the 4 bytes at p as a big-endian
 * number; byteorder_write_le64(p, v) stores v at p as 8 little-endian
 * bytes.  p need not be aligned, and the host's own byte order does not
 * matter.  NBD puts its numbers on the wire big-endian; disk formats such
 * as VMDK and most partition tables are little-endian.
 *
 * The functions touch only the bytes at p: no state, safe from any thread
 * (as long as no other thread writes those bytes).  Header only: link
 * common_byteorder_dep for the include path.
 */

#ifndef NBDX_BYTEORDER_H
#define NBDX_BYTEORDER_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

/* memcpy is how C reads an unaligned integer; compilers make it one
 * load (or a load and a byte swap).
 */
#define BYTEORDER_DEFINE(bits, order)                                          \
    static inline uint##bits##_t byteorder_read_##order##bits(const void *p)   \
    {                                                                          \
        uint##bits##_t v;                                                      \
        memcpy(&v, p, sizeof v);                                               \
        return order##bits##toh(v);                                            \
    }                                                                          \
    static inline void byteorder_write_##order##bits(void *p,                  \
                                                     uint##bits##_t v)         \
    {                                                                          \
        v = hto##order##bits(v);                                               \
        memcpy(p, &v, sizeof v);                                               \
    }

BYTEORDER_DEFINE(16, be)
BYTEORDER_DEFINE(32, be)
BYTEORDER_DEFINE(64, be)
BYTEORDER_DEFINE(16, le)
BYTEORDER_DEFINE(32, le)
BYTEORDER_DEFINE(64, le)

#undef BYTEORDER_DEFINE

#endif /* NBDX_BYTEORDER_H */
