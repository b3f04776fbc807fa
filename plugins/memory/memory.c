/* SPDX-License-Identifier: BSD-3-Clause */
/* memory: a RAM disk held in a sparse array (see nbdx-memory-plugin(1)).
 *
 * Only pages written with non-zero data take memory; trim and zero give
 * whole pages back.  The array does its own locking, so requests from
 * every connection run in parallel and see the same disk.
 */

#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <nbdx-extensions.h>

#include "sparse.h"

/* The array's pieces are handed to the server as they are: the same
 * layout as the extension's vectors.
 */
#define SAME_LAYOUT(ours, theirs)                                              \
    _Static_assert(sizeof(ours) == sizeof(theirs) &&                           \
                       offsetof(ours, len) == offsetof(theirs, len),           \
                   #ours " and " #theirs " have the same layout")
SAME_LAYOUT(struct sparse_piece, struct nbdx_iovec);
SAME_LAYOUT(struct sparse_wpiece, struct nbdx_wiovec);

static int64_t size = -1;         /* size=SIZE, required */
static struct sparse_array *disk; /* created by config_complete */

static int
memory_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(key, "allocator") == 0) {
        if (strcmp(value, "sparse") == 0)
            return 0;
        nbdkit_error("allocator=%s is not supported; nbdx has only "
                     "allocator=sparse",
                     value);
        return -1;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
memory_config_complete(void)
{
    if (size == -1) {
        nbdkit_error("you must specify size=<SIZE> on the command line");
        return -1;
    }
    disk = sparse_array_new();
    if (disk == NULL) {
        nbdkit_error("sparse_array_new: %m");
        return -1;
    }
    return 0;
}

static void
memory_unload(void)
{
    sparse_array_free(disk);
}

static void
memory_dump_plugin(void)
{
    printf("memory_page_size=%d\n", SPARSE_PAGE_SIZE);
}

static void *
memory_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
memory_get_size(void *handle)
{
    return size;
}

static int
memory_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum)
{
    *minimum = 1;
    *preferred = SPARSE_PAGE_SIZE;
    *maximum = 0xffffffff;
    return 0;
}

/* Every connection sees the same array at once. */
static int
memory_can_multi_conn(void *handle)
{
    return 1;
}

/* Nothing is ever volatile: FUA, flush and cache have nothing to do. */
static int
memory_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
memory_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

static int
memory_can_fast_zero(void *handle)
{
    return 1;
}

static int
memory_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    sparse_array_read(disk, buf, count, offset);
    return 0;
}

/* nbdx only: a READ reply is sent straight from the pages.  The array
 * stays read-locked until memory_release_iov.
 */
static int64_t
memory_pread_iov(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
                 struct nbdx_iovec *iov, size_t max, size_t *n, void **cookie)
{
    *cookie = NULL;
    return sparse_array_read_begin(disk, count, offset,
                                   (struct sparse_piece *)iov, max, n);
}

static void
memory_release_iov(void *handle, void *cookie)
{
    sparse_array_read_end(disk);
}

/* nbdx only: a WRITE payload is received straight into fresh pages
 * that the array swaps in once all of it has arrived (see
 * sparse_array_stage), so a client that dies mid-payload changes nothing.
 */
static int
memory_write_begin(void *handle, uint32_t count, uint64_t offset,
                   uint32_t flags, struct nbdx_wiovec *iov, size_t max,
                   size_t *n, void **cookie)
{
    struct sparse_stage *st;

    if (sparse_array_stage(disk, count, offset, (struct sparse_wpiece *)iov,
                           max, n, &st) == -1)
        return -1; /* the server falls back to .pwrite, which says why */
    *cookie = st;
    return 0;
}

static int
memory_write_commit(void *handle, void *cookie, uint32_t flags)
{
    if (sparse_array_commit(disk, cookie) == -1) {
        nbdkit_error("pwrite: %m");
        return -1;
    }
    return 0;
}

static void
memory_write_abort(void *handle, void *cookie)
{
    sparse_array_abort(disk, cookie);
}

static int
memory_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    if (sparse_array_write(disk, buf, count, offset) == -1) {
        nbdkit_error("pwrite: %m");
        return -1;
    }
    return 0;
}

static int
memory_flush(void *handle, uint32_t flags)
{
    return 0;
}

/* Zeroing frees whole pages, so trim and (fast) zero are the same. */
static int
memory_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    sparse_array_zero(disk, count, offset);
    return 0;
}

static int
memory_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    sparse_array_zero(disk, count, offset);
    return 0;
}

static int
memory_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

static int
memory_add_extent(void *extents, uint64_t offset, uint64_t length, int state)
{
    uint32_t type = 0;

    if (state == SPARSE_HOLE)
        type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
    else if (state == SPARSE_ZERO)
        type = NBDKIT_EXTENT_ZERO;
    return nbdkit_add_extent(extents, offset, length, type);
}

static int
memory_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents)
{
    return sparse_array_extents(disk, count, offset, memory_add_extent,
                                extents);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "memory",
    .longname = "nbdx sparse RAM disk plugin",
    .version = PACKAGE_VERSION,
    .description = "A RAM disk of up to 2^63-1 bytes; memory is only used "
                   "for data that was written.",
    .magic_config_key = "size",
    .config = memory_config,
    .config_complete = memory_config_complete,
    .config_help = "size=<SIZE>  (required) Size of the RAM disk.\n"
                   "allocator=sparse  The sparse page allocator (the only "
                   "one).",
    .unload = memory_unload,
    .dump_plugin = memory_dump_plugin,
    .open = memory_open,
    .get_size = memory_get_size,
    .block_size = memory_block_size,
    .can_multi_conn = memory_can_multi_conn,
    .can_fua = memory_can_fua,
    .can_cache = memory_can_cache,
    .can_fast_zero = memory_can_fast_zero,
    .pread = memory_pread,
    .pwrite = memory_pwrite,
    .flush = memory_flush,
    .trim = memory_trim,
    .zero = memory_zero,
    .cache = memory_cache,
    .extents = memory_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)

static const struct nbdx_extension extension = {
    ._struct_size = sizeof extension,
    ._version = NBDX_EXTENSION_VERSION,
    .pread_iov = memory_pread_iov,
    .release_iov = memory_release_iov,
    .write_begin = memory_write_begin,
    .write_commit = memory_write_commit,
    .write_abort = memory_write_abort,
    /* Freed pages are MADV_DONTNEED'd, never recycled with their old
     * memory (see sparse.c), so spliced READ data stays this export's.
     */
    .flags = NBDX_EXT_SPLICE_OK,
};

const struct nbdx_extension *nbdx_extension_init(void);

const struct nbdx_extension *
nbdx_extension_init(void)
{
    return &extension;
}
