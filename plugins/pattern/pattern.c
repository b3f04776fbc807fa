/* SPDX-License-Identifier: BSD-3-Clause */
/* pattern: a read-only disk where each 8-byte word holds its own offset
 * (see nbdx-pattern-plugin(1)).
 */

#include <config.h>

#include <endian.h>
#include <stdint.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

static int64_t size = -1; /* size=SIZE, required */

static int
pattern_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
pattern_config_complete(void)
{
    if (size == -1) {
        nbdkit_error("you must specify size=<SIZE> on the command line");
        return -1;
    }
    return 0;
}

static void *
pattern_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
pattern_get_size(void *handle)
{
    return size;
}

static int
pattern_can_multi_conn(void *handle)
{
    return 1;
}

static int
pattern_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* The word at an 8-aligned offset is that offset, big-endian.  A read
 * may start and end inside a word, so copy the part of each word that
 * falls in the request.
 */
static int
pattern_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    char *out = buf;
    uint64_t word = offset & ~(uint64_t)7, be;
    size_t skip = offset - word, n;

    while (count > 0) {
        be = htobe64(word);
        n = 8 - skip < count ? 8 - skip : count;
        memcpy(out, (char *)&be + skip, n);
        out += n;
        count -= n;
        word += 8;
        skip = 0;
    }
    return 0;
}

static int
pattern_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "pattern",
    .longname = "nbdx pattern plugin",
    .version = PACKAGE_VERSION,
    .description = "A read-only disk where each 8-byte word holds its own "
                   "offset.",
    .magic_config_key = "size",
    .config = pattern_config,
    .config_complete = pattern_config_complete,
    .config_help = "size=<SIZE>  (required) Size of the disk.",
    .open = pattern_open,
    .get_size = pattern_get_size,
    .can_multi_conn = pattern_can_multi_conn,
    .can_cache = pattern_can_cache,
    .pread = pattern_pread,
    .cache = pattern_cache,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
