/* SPDX-License-Identifier: BSD-3-Clause */
/* null: a disk that reads as zeroes and discards writes
 * (see nbdx-null-plugin(1)).
 */

#include <config.h>

#include <stdint.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

static int64_t size = 0; /* size=SIZE, default 0 */

static int
null_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static void *
null_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
null_get_size(void *handle)
{
    return size;
}

/* The disk never changes, so every connection agrees on it. */
static int
null_can_multi_conn(void *handle)
{
    return 1;
}

static int
null_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
null_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

static int
null_can_fast_zero(void *handle)
{
    return 1;
}

static int
null_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    memset(buf, 0, count);
    return 0;
}

/* Writes, trims, zeroes, flushes and cache requests all succeed and
 * change nothing.
 */
static int
null_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    return 0;
}

static int
null_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

static int
null_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

static int
null_flush(void *handle, uint32_t flags)
{
    return 0;
}

static int
null_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

static int
null_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents)
{
    return nbdkit_add_extent(extents, offset, count,
                             NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "null",
    .longname = "nbdx null plugin",
    .version = PACKAGE_VERSION,
    .description = "A disk that reads as zeroes and discards writes.",
    .magic_config_key = "size",
    .config = null_config,
    .config_help = "size=<SIZE>  Size of the disk (default 0).",
    .open = null_open,
    .get_size = null_get_size,
    .can_multi_conn = null_can_multi_conn,
    .can_fua = null_can_fua,
    .can_cache = null_can_cache,
    .can_fast_zero = null_can_fast_zero,
    .pread = null_pread,
    .pwrite = null_pwrite,
    .trim = null_trim,
    .zero = null_zero,
    .flush = null_flush,
    .cache = null_cache,
    .extents = null_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
