/* SPDX-License-Identifier: BSD-3-Clause */
/* nozero.c: change how NBD_CMD_WRITE_ZEROES is handled.
 *
 * zeromode=none (the default) does not advertise zeroes: clients write
 * zero bytes themselves.  emulate advertises them and writes zero bytes
 * with the layer below's pwrite.  notrim passes zeroes down without
 * NBDKIT_FLAG_MAY_TRIM; plugin passes them down unchanged.
 * fastzeromode=none hides fast zeroes, slow fails every fast zero with
 * ENOTSUP, ignore drops the fast flag (unsafe; emulated zeroes still
 * fail fast), default fails them with emulate and leaves them to the
 * plugin otherwise.
 */

#include <errno.h>
#include <string.h>

#include <nbdkit-filter.h>

#define ZERO_CHUNK (1024 * 1024) /* bytes per pwrite when emulating */

static enum { ZM_NONE, ZM_EMULATE, ZM_NOTRIM, ZM_PLUGIN } zeromode = ZM_NONE;
static enum { FZ_DEFAULT, FZ_NONE, FZ_SLOW, FZ_IGNORE } fastzeromode;
static const char zeroes[ZERO_CHUNK]; /* read-only */

static int
nozero_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
              const char *value)
{
    static const char *zm[] = {"none", "emulate", "notrim", "plugin"};
    static const char *fz[] = {"default", "none", "slow", "ignore"};
    int i;

    if (strcmp(key, "zeromode") == 0) {
        for (i = 0; i < 4; i++)
            if (strcmp(value, zm[i]) == 0)
                return zeromode = i, 0;
        nbdkit_error("unknown zeromode '%s'", value);
        return -1;
    }
    if (strcmp(key, "fastzeromode") == 0) {
        for (i = 0; i < 4; i++)
            if (strcmp(value, fz[i]) == 0)
                return fastzeromode = i, 0;
        nbdkit_error("unknown fastzeromode '%s'", value);
        return -1;
    }
    return next(nxdata, key, value);
}

#define nozero_config_help                                                     \
    "zeromode=none|emulate|notrim|plugin  How to handle zeroes (default "      \
    "none).\n"                                                                 \
    "fastzeromode=default|none|slow|ignore  How to handle fast zeroes."

/* notrim and plugin forward zeroes: the layer below must have them. */
static int
nozero_prepare(nbdkit_next *next, void *handle, int readonly)
{
    int r;

    if (readonly || (zeromode != ZM_NOTRIM && zeromode != ZM_PLUGIN))
        return 0;
    r = next->can_zero(next);
    if (r == -1)
        return -1;
    if (r != NBDKIT_ZERO_NATIVE) {
        nbdkit_error("zeromode '%s' requires plugin zero support",
                     zeromode == ZM_NOTRIM ? "notrim" : "plugin");
        return -1;
    }
    return 0;
}

static int
nozero_can_zero(nbdkit_next *next, void *handle)
{
    switch (zeromode) {
    case ZM_NONE:
        return NBDKIT_ZERO_NONE;
    case ZM_EMULATE:
        return NBDKIT_ZERO_EMULATE;
    default:
        return next->can_zero(next);
    }
}

static int
nozero_can_fast_zero(nbdkit_next *next, void *handle)
{
    if (zeromode == ZM_NONE || fastzeromode == FZ_NONE)
        return 0;
    if (zeromode == ZM_EMULATE || fastzeromode != FZ_DEFAULT)
        return 1;
    return next->can_fast_zero(next);
}

/* Zero bytes written with pwrite, FUA on the last write only. */
static int
nozero_emulate(nbdkit_next *next, uint32_t count, uint64_t offset,
               uint32_t flags, int *err)
{
    uint32_t n, fua = flags & NBDKIT_FLAG_FUA;

    while (count > 0) {
        n = count < ZERO_CHUNK ? count : ZERO_CHUNK;
        if (next->pwrite(next, zeroes, n, offset, n == count ? fua : 0, err) ==
            -1)
            return -1;
        count -= n;
        offset += n;
    }
    return 0;
}

static int
nozero_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    if (flags & NBDKIT_FLAG_FAST_ZERO) {
        /* Emulated zeroes are never fast, even with ignore (as nbdkit). */
        if (fastzeromode == FZ_SLOW || zeromode == ZM_EMULATE) {
            *err = ENOTSUP;
            return -1;
        }
        if (fastzeromode == FZ_IGNORE)
            flags &= ~NBDKIT_FLAG_FAST_ZERO;
    }
    if (zeromode == ZM_EMULATE)
        return nozero_emulate(next, count, offset, flags, err);
    if (zeromode == ZM_NOTRIM)
        flags &= ~NBDKIT_FLAG_MAY_TRIM;
    return next->zero(next, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "nozero",
    .longname = "nbdx nozero filter",
    .config = nozero_config,
    .config_help = nozero_config_help,
    .prepare = nozero_prepare,
    .can_zero = nozero_can_zero,
    .can_fast_zero = nozero_can_fast_zero,
    .zero = nozero_zero,
};

NBDKIT_REGISTER_FILTER(filter)
