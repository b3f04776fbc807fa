/* SPDX-License-Identifier: BSD-3-Clause */
/* readback.c: compare a range of the layer below with a buffer or with
 * zeroes, READBACK_CHUNK bytes at a time.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iszero.h"
#include "minmax.h"
#include "readback.h"

/* Does the piece OLD of N bytes differ from BUF (zeroes if NULL)? */
static int
readback_piece_differs(const char *old, const char *buf, size_t n)
{
    return buf ? memcmp(old, buf, n) != 0 : !is_zero(old, n);
}

/* The index of the first byte where OLD and BUF (zeroes if NULL) differ,
 * in a piece known to differ somewhere.
 */
static size_t
readback_first_difference(const char *old, const char *buf, size_t n)
{
    size_t i;

    for (i = 0; i < n - 1; i++)
        if (old[i] != (buf ? buf[i] : 0))
            break;
    return i;
}

int
readback_compare(nbdkit_next *next, const void *buf, uint64_t count,
                 uint64_t offset, uint64_t *first, int *err)
{
    const char *want = buf;
    uint64_t done;
    size_t n;
    char *old;
    int r = 0;

    old = malloc(MIN(count, (uint64_t)READBACK_CHUNK) + 1);
    if (old == NULL) {
        *err = errno;
        return -1;
    }
    for (done = 0; done < count && r == 0; done += n) {
        n = MIN(count - done, (uint64_t)READBACK_CHUNK);
        if (next->pread(next, old, n, offset + done, 0, err) == -1)
            r = -1;
        else if (readback_piece_differs(old, want ? want + done : NULL, n)) {
            if (first)
                *first = offset + done +
                         readback_first_difference(
                             old, want ? want + done : NULL, n);
            r = 1;
        }
    }
    free(old);
    return r;
}
