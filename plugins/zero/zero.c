/* SPDX-License-Identifier: BSD-3-Clause */
/* zero: a disk of zero bytes, for testing corner cases of clients
 * (see nbdx-zero-plugin(1)).
 */

#include <config.h>

#include <stdint.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

static void *
zero_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
zero_get_size(void *handle)
{
    return 0;
}

static int
zero_can_multi_conn(void *handle)
{
    return 1;
}

static int
zero_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* The server never asks for bytes of an empty disk; this is here because
 * every plugin must read.
 */
static int
zero_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    memset(buf, 0, count);
    return 0;
}

static int
zero_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "zero",
    .longname = "nbdx zero-length disk plugin",
    .version = PACKAGE_VERSION,
    .description = "A read-only disk of size zero.",
    .open = zero_open,
    .get_size = zero_get_size,
    .can_multi_conn = zero_can_multi_conn,
    .can_cache = zero_can_cache,
    .pread = zero_pread,
    .cache = zero_cache,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
