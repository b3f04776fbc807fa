/* SPDX-License-Identifier: BSD-3-Clause */
/* iszero.h: is_zero(buf, len), whether len bytes are all zero.
 *
 * Header only.  The first 16 bytes are checked one by one; then
 * comparing the buffer with itself shifted by 16 proves the rest, at
 * memcmp speed.
 */

#ifndef NBDX_ISZERO_H
#define NBDX_ISZERO_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static inline bool
is_zero(const void *buf, size_t len)
{
    const char *p = buf;
    size_t i, head = len < 16 ? len : 16;

    for (i = 0; i < head; i++)
        if (p[i] != 0)
            return false;
    return len <= 16 || memcmp(p, p + 16, len - 16) == 0;
}

#endif /* NBDX_ISZERO_H */
