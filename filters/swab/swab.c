/* SPDX-License-Identifier: BSD-3-Clause */
/* swab.c: swap the bytes of each 2, 4 or 8-byte word of the layer below.
 *
 * swab-bits=16 (the default) swaps pairs of bytes, 32 and 64 reverse
 * words of 4 and 8 bytes, 8 changes nothing.  The size is rounded down
 * to a whole word, requests must be aligned to words (EINVAL), and the
 * minimum block size says so.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

static unsigned word = 2; /* bytes per swapped word */

static int
swab_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
            const char *value)
{
    unsigned bits;

    if (strcmp(key, "swab-bits") != 0)
        return next(nxdata, key, value);
    if (nbdkit_parse_unsigned(key, value, &bits) == -1)
        return -1;
    if (bits != 8 && bits != 16 && bits != 32 && bits != 64) {
        nbdkit_error("invalid swab-bits, must be 8, 16, 32 or 64");
        return -1;
    }
    word = bits / 8;
    return 0;
}

#define swab_config_help                                                       \
    "swab-bits=8|16|32|64 Size of the words to swap (default 16)."

static int64_t
swab_get_size(nbdkit_next *next, void *handle)
{
    int64_t size = next->get_size(next);

    return size == -1 ? -1 : size & ~(int64_t)(word - 1);
}

static int
swab_block_size(nbdkit_next *next, void *handle, uint32_t *minimum,
                uint32_t *preferred, uint32_t *maximum)
{
    if (next->block_size(next, minimum, preferred, maximum) == -1)
        return -1;
    if (*minimum == 0) { /* nothing said below */
        *preferred = 4096;
        *maximum = 0xffffffff;
    }
    if (*minimum < word)
        *minimum = word;
    if (*preferred < *minimum)
        *preferred = *minimum;
    return 0;
}

static int
swab_aligned(uint32_t count, uint64_t offset, int *err)
{
    if ((count | offset) & (word - 1)) {
        *err = EINVAL;
        return 0;
    }
    return 1;
}

/* Reverse each word of BUF in place. */
static void
swab_words(char *buf, uint32_t count)
{
    uint32_t i, j;
    char t;

    for (i = 0; i < count; i += word)
        for (j = 0; j < word / 2; j++) {
            t = buf[i + j];
            buf[i + j] = buf[i + word - 1 - j];
            buf[i + word - 1 - j] = t;
        }
}

static int
swab_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    if (!swab_aligned(count, offset, err) ||
        next->pread(next, buf, count, offset, flags, err) == -1)
        return -1;
    swab_words(buf, count);
    return 0;
}

static int
swab_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    char *copy;
    int r;

    if (!swab_aligned(count, offset, err))
        return -1;
    copy = malloc(count ? count : 1);
    if (copy == NULL) {
        *err = errno;
        nbdkit_error("malloc: %m");
        return -1;
    }
    memcpy(copy, buf, count);
    swab_words(copy, count);
    r = next->pwrite(next, copy, count, offset, flags, err);
    free(copy);
    return r;
}

static int
swab_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
          uint32_t flags, int *err)
{
    if (!swab_aligned(count, offset, err))
        return -1;
    return next->trim(next, count, offset, flags, err);
}

static int
swab_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
          uint32_t flags, int *err)
{
    if (!swab_aligned(count, offset, err))
        return -1;
    return next->zero(next, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "swab",
    .longname = "nbdx swab filter",
    .config = swab_config,
    .config_help = swab_config_help,
    .get_size = swab_get_size,
    .block_size = swab_block_size,
    .pread = swab_pread,
    .pwrite = swab_pwrite,
    .trim = swab_trim,
    .zero = swab_zero,
};

NBDKIT_REGISTER_FILTER(filter)
