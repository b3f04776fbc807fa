/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-plugin.c: the plugin every fuzz harness serves.
 *
 * A small RAM disk with every optional feature (FUA, trim, zero, fast
 * zero, cache, extents, multi-conn, exports, a description), built with
 * the harness's instrumentation so the fuzzer sees its coverage and the
 * sanitizers check it.  What it reports (size, block size, extents) is
 * set per input through fuzz_plugin_control; see fuzz-plugin.h.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "fuzz-plugin.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* The harness's knobs; exported for dlsym. */
__attribute__((
    visibility("default"))) struct fuzz_plugin_control fuzz_plugin_control;

static uint8_t store[FUZZ_STORE_SIZE]; /* the disk's first bytes */
static int handle_token;               /* .open returns its address */

static void *
fuzz_open(int readonly)
{
    return &handle_token;
}

static int64_t
fuzz_get_size(void *handle)
{
    uint64_t size = fuzz_plugin_control.size;

    if (size == 0)
        return FUZZ_STORE_SIZE;
    return (int64_t)(size & INT64_MAX);
}

static int
fuzz_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                uint32_t *maximum)
{
    *minimum = fuzz_plugin_control.minimum;
    *preferred = fuzz_plugin_control.preferred;
    *maximum = fuzz_plugin_control.maximum;
    return 0;
}

static const char *
fuzz_export_description(void *handle)
{
    return "fuzz export";
}

static int
fuzz_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    if (nbdkit_add_export(exports, "", "the default export") == -1)
        return -1;
    return nbdkit_add_export(exports, "second", NULL);
}

static int
fuzz_can_yes(void *handle)
{
    return 1;
}

static int
fuzz_can_native(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
fuzz_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* ---- Data ---- */

/* The part of [offset, offset+count) inside the store: *n bytes. */
static uint8_t *
fuzz_stored(uint64_t offset, uint32_t count, uint32_t *n)
{
    if (offset >= FUZZ_STORE_SIZE) {
        *n = 0;
        return NULL;
    }
    *n = count < FUZZ_STORE_SIZE - offset ? count : FUZZ_STORE_SIZE - offset;
    return store + offset;
}

static int
fuzz_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    uint32_t n;
    uint8_t *p = fuzz_stored(offset, count, &n);

    if (n)
        memcpy(buf, p, n);
    memset((uint8_t *)buf + n, 0, count - n);
    return 0;
}

static int
fuzz_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    uint32_t n;
    uint8_t *p = fuzz_stored(offset, count, &n);

    if (n)
        memcpy(p, buf, n);
    return 0;
}

static int
fuzz_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    uint32_t n;
    uint8_t *p = fuzz_stored(offset, count, &n);

    if (n)
        memset(p, 0, n);
    return 0;
}

static int
fuzz_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return fuzz_zero(handle, count, offset, flags);
}

static int
fuzz_flush(void *handle, uint32_t flags)
{
    return 0;
}

static int
fuzz_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

/* ---- Extents ---- */

/* 64 KiB runs of data, zero, and zero hole, repeating. */
static int
fuzz_extents_pattern(uint32_t count, uint64_t offset,
                     struct nbdkit_extents *exts)
{
    static const uint32_t types[] = {0, NBDKIT_EXTENT_ZERO,
                                     NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO};
    uint64_t pos = offset & ~UINT64_C(0xffff), end = offset + count;

    while (pos < end) {
        if (nbdkit_add_extent(exts, pos, 65536, types[(pos >> 16) % 3]) == -1)
            return -1;
        pos += 65536;
    }
    return 0;
}

static uint32_t
fuzz_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* One script record at pos; returns 1 to stop, 0 for more, -1 to fail. */
static int
fuzz_extents_record(const uint8_t *rec, uint64_t *pos,
                    struct nbdkit_extents *exts)
{
    uint8_t ctl = rec[0];
    uint32_t len = fuzz_be32(rec + 1);
    uint32_t type = ctl & FUZZ_EXT_TYPE;

    if (ctl & FUZZ_EXT_STOP)
        return 1;
    if (ctl & FUZZ_EXT_FAIL) {
        nbdkit_error("extents: scripted failure");
        nbdkit_set_error(EIO);
        return -1;
    }
    if (ctl & FUZZ_EXT_BACK) {
        *pos = *pos >= len ? *pos - len : 0;
        return 0;
    }
    if (ctl & FUZZ_EXT_RAWTYPE)
        type = ctl >> 3;
    if (!(ctl & FUZZ_EXT_GAP) &&
        nbdkit_add_extent(exts, *pos, len, type) == -1 &&
        !(ctl & FUZZ_EXT_IGNORE))
        return -1;
    *pos += len;
    return 0;
}

static int
fuzz_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *exts)
{
    const uint8_t *script = fuzz_plugin_control.extents;
    size_t len = fuzz_plugin_control.extents_len, i;
    uint64_t pos = offset & ~UINT64_C(4095);
    int r;

    if (script == NULL)
        return fuzz_extents_pattern(count, offset, exts);
    for (i = 0; i + FUZZ_EXT_RECORD <= len; i += FUZZ_EXT_RECORD) {
        r = fuzz_extents_record(script + i, &pos, exts);
        if (r != 0)
            return r == 1 ? 0 : -1;
        if (pos >= offset + (uint64_t)count)
            break;
    }
    return 0;
}

static struct nbdkit_plugin plugin = {
    .name = "fuzz",
    .version = "1",
    .open = fuzz_open,
    .get_size = fuzz_get_size,
    .block_size = fuzz_block_size,
    .export_description = fuzz_export_description,
    .list_exports = fuzz_list_exports,
    .can_write = fuzz_can_yes,
    .can_flush = fuzz_can_yes,
    .can_trim = fuzz_can_yes,
    .can_zero = fuzz_can_yes,
    .can_fast_zero = fuzz_can_yes,
    .can_extents = fuzz_can_yes,
    .can_multi_conn = fuzz_can_yes,
    .can_fua = fuzz_can_native,
    .can_cache = fuzz_can_cache,
    .pread = fuzz_pread,
    .pwrite = fuzz_pwrite,
    .zero = fuzz_zero,
    .trim = fuzz_trim,
    .flush = fuzz_flush,
    .cache = fuzz_cache,
    .extents = fuzz_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)
