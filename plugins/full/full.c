/* SPDX-License-Identifier: BSD-3-Clause */
/* full: a disk that reads as zeroes and is always out of space
 * (see nbdx-full-plugin(1)).
 */

#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

static int64_t size = -1; /* size=SIZE, required */

static int
full_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
full_config_complete(void)
{
    if (size == -1) {
        nbdkit_error("you must specify size=<SIZE> on the command line");
        return -1;
    }
    return 0;
}

static void *
full_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
full_get_size(void *handle)
{
    return size;
}

static int
full_can_multi_conn(void *handle)
{
    return 1;
}

/* Advertised so that clients send them, and see them fail. */
static int
full_can_trim(void *handle)
{
    return 1;
}

static int
full_can_fast_zero(void *handle)
{
    return 1;
}

static int
full_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

static int
full_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    memset(buf, 0, count);
    return 0;
}

/* Every change fails with ENOSPC.  This is the disk's whole purpose, so it
 * is not logged as an error.
 */
static int
full_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    nbdkit_set_error(ENOSPC);
    return -1;
}

static int
full_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    nbdkit_set_error(ENOSPC);
    return -1;
}

static int
full_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    nbdkit_set_error(ENOSPC);
    return -1;
}

/* Nothing was ever written, so there is nothing to flush. */
static int
full_flush(void *handle, uint32_t flags)
{
    return 0;
}

static int
full_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

static int
full_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents)
{
    return nbdkit_add_extent(extents, offset, count,
                             NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "full",
    .longname = "nbdx full plugin",
    .version = PACKAGE_VERSION,
    .description = "A disk that reads as zeroes; every write fails with "
                   "ENOSPC.",
    .magic_config_key = "size",
    .config = full_config,
    .config_complete = full_config_complete,
    .config_help = "size=<SIZE>  (required) Size of the disk.",
    .open = full_open,
    .get_size = full_get_size,
    .can_multi_conn = full_can_multi_conn,
    .can_trim = full_can_trim,
    .can_fast_zero = full_can_fast_zero,
    .can_cache = full_can_cache,
    .pread = full_pread,
    .pwrite = full_pwrite,
    .trim = full_trim,
    .zero = full_zero,
    .flush = full_flush,
    .cache = full_cache,
    .extents = full_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
