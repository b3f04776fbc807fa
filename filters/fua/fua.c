/* SPDX-License-Identifier: BSD-3-Clause */
/* fua.c: change how FUA and flush are handled.
 *
 * fuamode=none (the default) does not advertise FUA: clients flush
 * instead.  emulate advertises FUA and turns it into a flush after the
 * request; native advertises native FUA and passes the flag down; force
 * sets FUA on every write, zero and trim and makes flush a no-op; pass
 * changes nothing; discard drops FUA and flushes (unsafe).
 */

#include <string.h>

#include <nbdkit-filter.h>

static enum {
    FUA_NONE,
    FUA_EMULATE,
    FUA_NATIVE,
    FUA_FORCE,
    FUA_PASS,
    FUA_DISCARD
} mode = FUA_NONE;
static const char *names[] = {"none",  "emulate", "native",
                              "force", "pass",    "discard"};

static int
fua_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
           const char *value)
{
    int i;

    if (strcmp(key, "fuamode") != 0)
        return next(nxdata, key, value);
    for (i = 0; i < 6; i++)
        if (strcmp(value, names[i]) == 0)
            return mode = i, 0;
    nbdkit_error("unknown fuamode '%s'", value);
    return -1;
}

#define fua_config_help                                                        \
    "fuamode=<MODE>       none, emulate, native, force, pass or discard\n"     \
    "                     (default none)."

/* emulate needs flush below; native and force need FUA below. */
static int
fua_prepare(nbdkit_next *next, void *handle, int readonly)
{
    int r;

    if (readonly)
        return 0;
    if (mode == FUA_EMULATE) {
        r = next->can_flush(next);
        if (r == -1)
            return -1;
        if (r == 0) {
            nbdkit_error("fuamode 'emulate' requires plugin flush support");
            return -1;
        }
    }
    if (mode == FUA_NATIVE || mode == FUA_FORCE) {
        r = next->can_fua(next);
        if (r == -1)
            return -1;
        if (r == NBDKIT_FUA_NONE) {
            nbdkit_error("fuamode '%s' requires plugin fua support",
                         names[mode]);
            return -1;
        }
    }
    return 0;
}

static int
fua_can_flush(nbdkit_next *next, void *handle)
{
    return mode == FUA_DISCARD ? 1 : next->can_flush(next);
}

static int
fua_can_fua(nbdkit_next *next, void *handle)
{
    switch (mode) {
    case FUA_NONE:
        return NBDKIT_FUA_NONE;
    case FUA_EMULATE:
        return NBDKIT_FUA_EMULATE;
    case FUA_PASS:
        return next->can_fua(next);
    default:
        return NBDKIT_FUA_NATIVE;
    }
}

/* The flags to pass down; *flush set if a flush must follow. */
static uint32_t
fua_flags(uint32_t flags, int *flush)
{
    *flush = 0;
    switch (mode) {
    case FUA_EMULATE:
        *flush = (flags & NBDKIT_FLAG_FUA) != 0;
        return flags & ~NBDKIT_FLAG_FUA;
    case FUA_FORCE:
        return flags | NBDKIT_FLAG_FUA;
    case FUA_DISCARD:
    case FUA_NONE:
        return flags & ~NBDKIT_FLAG_FUA;
    default:
        return flags;
    }
}

static int
fua_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    int flush;

    flags = fua_flags(flags, &flush);
    if (next->pwrite(next, buf, count, offset, flags, err) == -1)
        return -1;
    return flush ? next->flush(next, 0, err) : 0;
}

static int
fua_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    int flush;

    flags = fua_flags(flags, &flush);
    if (next->zero(next, count, offset, flags, err) == -1)
        return -1;
    return flush ? next->flush(next, 0, err) : 0;
}

static int
fua_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    int flush;

    flags = fua_flags(flags, &flush);
    if (next->trim(next, count, offset, flags, err) == -1)
        return -1;
    return flush ? next->flush(next, 0, err) : 0;
}

/* force: every write was durable already; discard: nothing is. */
static int
fua_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    if (mode == FUA_FORCE || mode == FUA_DISCARD)
        return 0;
    return next->flush(next, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "fua",
    .longname = "nbdx fua filter",
    .config = fua_config,
    .config_help = fua_config_help,
    .prepare = fua_prepare,
    .can_flush = fua_can_flush,
    .can_fua = fua_can_fua,
    .pwrite = fua_pwrite,
    .zero = fua_zero,
    .trim = fua_trim,
    .flush = fua_flush,
};

NBDKIT_REGISTER_FILTER(filter)
