/* SPDX-License-Identifier: BSD-3-Clause */
/* nocache.c: change how NBD_CMD_CACHE is handled.
 *
 * cachemode=none (the default) does not advertise cache requests;
 * emulate answers them by reading the range from the layer below into a
 * scratch buffer (so a read-ahead cache below fills), whatever the
 * plugin's own cache callback does; nop accepts them and does nothing.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#define EMULATE_CHUNK (1024 * 1024) /* bytes read per pread when emulating */

static enum { CACHE_NONE, CACHE_EMULATE, CACHE_NOP } mode = CACHE_NONE;

static int
nocache_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
               const char *key, const char *value)
{
    if (strcmp(key, "cachemode") != 0)
        return next(nxdata, key, value);
    if (strcmp(value, "none") == 0)
        mode = CACHE_NONE;
    else if (strcmp(value, "emulate") == 0)
        mode = CACHE_EMULATE;
    else if (strcmp(value, "nop") == 0)
        mode = CACHE_NOP;
    else {
        nbdkit_error("unknown cachemode '%s'", value);
        return -1;
    }
    return 0;
}

#define nocache_config_help                                                    \
    "cachemode=none|emulate|nop  Handling of NBD_CMD_CACHE (default none)."

static int
nocache_can_cache(nbdkit_next *next, void *handle)
{
    switch (mode) {
    case CACHE_EMULATE:
        return NBDKIT_CACHE_EMULATE;
    case CACHE_NOP:
        return NBDKIT_CACHE_NATIVE;
    default:
        return NBDKIT_CACHE_NONE;
    }
}

/* emulate: read the range in chunks into a buffer that is thrown away. */
static int
nocache_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, int *err)
{
    uint32_t n;
    char *buf;
    int r = 0;

    if (mode == CACHE_NOP || count == 0)
        return 0;
    buf = malloc(count < EMULATE_CHUNK ? count : EMULATE_CHUNK);
    if (buf == NULL) {
        *err = errno;
        nbdkit_error("malloc: %m");
        return -1;
    }
    while (r == 0 && count > 0) {
        n = count < EMULATE_CHUNK ? count : EMULATE_CHUNK;
        r = next->pread(next, buf, n, offset, 0, err);
        count -= n;
        offset += n;
    }
    free(buf);
    return r;
}

static struct nbdkit_filter filter = {
    .name = "nocache",
    .longname = "nbdx nocache filter",
    .config = nocache_config,
    .config_help = nocache_config_help,
    .can_cache = nocache_can_cache,
    .cache = nocache_cache,
};

NBDKIT_REGISTER_FILTER(filter)
