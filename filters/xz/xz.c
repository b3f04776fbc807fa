/* SPDX-License-Identifier: BSD-3-Clause */
/* xz.c: serve the uncompressed contents of an xz file, read-only.
 *
 * prepare reads the index of every stream in the file, from the end
 * backwards (xz_index_read, also the fuzz target's entry point), and
 * refuses a file with a block larger than xz-max-block.  A read finds
 * the blocks it covers in the index, decodes each whole block with
 * liblzma and keeps the last xz-max-depth decoded blocks of the
 * connection in a small cache, least recently used out first.  Random
 * access costs at most one block's decoding, so files made with
 * xz --block-size=SIZE read well.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzma.h>

#include <nbdkit-filter.h>

#include "cleanup.h"

static uint64_t max_block = 512 << 20; /* xz-max-block=SIZE */
static unsigned max_depth = 8;         /* xz-max-depth=N, >= 1 */

#define XZ_HEADER_SIZE LZMA_STREAM_HEADER_SIZE /* stream header and footer */
#define XZ_INDEX_MAX (UINT64_C(1) << 30)       /* one stream's index bytes */
#define XZ_PAD_CHUNK 4096 /* stream padding read per call */

/* One decoded block: uncompressed bytes [start, start+size). */
struct xz_block {
    uint64_t start;
    size_t size;
    uint8_t *data; /* owned; NULL if the slot is free */
    uint64_t used; /* tick of the last use, for LRU */
};

/* One connection. */
struct handle {
    lzma_index *index;      /* owned; set by prepare, then read-only */
    pthread_mutex_t lock;   /* guards cache and tick */
    struct xz_block *cache; /* max_depth slots */
    uint64_t tick;
};

static int
xz_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
          const char *value)
{
    int64_t r;

    if (strcmp(key, "xz-max-block") == 0) {
        r = nbdkit_parse_size(value);
        if (r == -1) {
            nbdkit_error("xz-max-block: %s: not a size", value);
            return -1;
        }
        if (r < 4096 || (uint64_t)r > SIZE_MAX / 2) {
            nbdkit_error("xz-max-block: %s: out of range", value);
            return -1;
        }
        max_block = r;
        return 0;
    }
    if (strcmp(key, "xz-max-depth") == 0) {
        if (nbdkit_parse_unsigned(key, value, &max_depth) == -1)
            return -1;
        if (max_depth == 0 || max_depth > 1024) {
            nbdkit_error("xz-max-depth: %s: must be between 1 and 1024", value);
            return -1;
        }
        return 0;
    }
    return next(nxdata, key, value);
}

#define xz_config_help                                                         \
    "xz-max-block=<SIZE> (optional) Maximum block size allowed (default: "     \
    "512M)\n"                                                                  \
    "xz-max-depth=<N>    (optional) Maximum blocks in cache (default: 8)"

/* Read count bytes at offset from the layer below; -1 with errno. */
static int
xz_read(nbdkit_next *next, void *buf, uint64_t count, uint64_t offset)
{
    int err;
    uint32_t n;

    while (count > 0) {
        n = count > (1 << 30) ? 1 << 30 : count;
        if (next->pread(next, buf, n, offset, 0, &err) == -1) {
            errno = err;
            return -1;
        }
        buf = (uint8_t *)buf + n;
        count -= n, offset += n;
    }
    return 0;
}

/* Step *pos back over stream padding (zero bytes, in 4-byte words). */
static int
xz_skip_padding(nbdkit_next *next, uint64_t *pos, uint64_t *padding)
{
    uint8_t buf[XZ_PAD_CHUNK];
    uint64_t n;
    size_t i;

    *padding = 0;
    while (*pos >= 4) {
        n = *pos < sizeof buf ? *pos & ~UINT64_C(3) : sizeof buf;
        if (xz_read(next, buf, n, *pos - n) == -1) {
            nbdkit_error("xz: read: %m");
            return -1;
        }
        for (i = n; i >= 4; i -= 4)
            if (memcmp(&buf[i - 4], "\0\0\0\0", 4) != 0)
                break;
        *pos -= n - i, *padding += n - i;
        if (i >= 4)
            break;
    }
    return 0;
}

/* Read the footer ending at pos and the index before it; the stream
 * flags go to *flags and the decoded index to *out (owned by the
 * caller).
 */
static int
xz_stream_index(nbdkit_next *next, uint64_t pos, lzma_stream_flags *flags,
                lzma_index **out)
{
    uint8_t footer[XZ_HEADER_SIZE];
    CLEANUP_FREE uint8_t *buf = NULL;
    uint64_t memlimit;
    size_t in_pos = 0;
    lzma_ret r;

    if (pos < 2 * XZ_HEADER_SIZE) {
        nbdkit_error("xz: not an xz file");
        return -1;
    }
    if (xz_read(next, footer, sizeof footer, pos - sizeof footer) == -1) {
        nbdkit_error("xz: read: %m");
        return -1;
    }
    r = lzma_stream_footer_decode(flags, footer);
    if (r != LZMA_OK) {
        nbdkit_error(r == LZMA_FORMAT_ERROR ? "xz: not an xz file"
                                            : "xz: corrupt stream footer");
        return -1;
    }
    if (flags->backward_size > XZ_INDEX_MAX ||
        flags->backward_size > pos - 2 * XZ_HEADER_SIZE) {
        nbdkit_error("xz: corrupt file: the index is larger than the file");
        return -1;
    }
    buf = malloc(flags->backward_size);
    if (buf == NULL) {
        nbdkit_error("malloc: %m");
        return -1;
    }
    if (xz_read(next, buf, flags->backward_size,
                pos - XZ_HEADER_SIZE - flags->backward_size) == -1) {
        nbdkit_error("xz: read: %m");
        return -1;
    }
    /* Each record takes 2 bytes or more: a claimed count beyond that is
     * refused before liblzma allocates for it.
     */
    memlimit = lzma_index_memusage(1, flags->backward_size / 2 + 1);
    r = lzma_index_buffer_decode(out, &memlimit, NULL, buf, &in_pos,
                                 flags->backward_size);
    if (r != LZMA_OK) {
        nbdkit_error("xz: corrupt index (liblzma error %d)", (int)r);
        return -1;
    }
    return 0;
}

/* Check the stream header of idx, whose footer ends at pos, against
 * the footer's flags; *start is where the stream begins.
 */
static int
xz_stream_header(nbdkit_next *next, uint64_t pos, lzma_index *idx,
                 const lzma_stream_flags *footer, uint64_t *start)
{
    uint8_t header[XZ_HEADER_SIZE];
    lzma_stream_flags flags;
    uint64_t size = lzma_index_stream_size(idx);

    if (size > pos) {
        nbdkit_error("xz: corrupt file: a stream is larger than the file");
        return -1;
    }
    *start = pos - size;
    if (xz_read(next, header, sizeof header, *start) == -1) {
        nbdkit_error("xz: read: %m");
        return -1;
    }
    if (lzma_stream_header_decode(&flags, header) != LZMA_OK ||
        lzma_stream_flags_compare(&flags, footer) != LZMA_OK) {
        nbdkit_error("xz: corrupt file: bad stream header at offset %" PRIu64,
                     *start);
        return -1;
    }
    return 0;
}

/* Read one stream ending at pos (padding excluded), prepend its index to
 * *all, and move pos to its start.
 */
static int
xz_stream_read(nbdkit_next *next, uint64_t *pos, uint64_t padding,
               lzma_index **all)
{
    lzma_stream_flags flags;
    lzma_index *idx = NULL;
    uint64_t start;

    if (xz_stream_index(next, *pos, &flags, &idx) == -1 ||
        xz_stream_header(next, *pos, idx, &flags, &start) == -1 ||
        lzma_index_stream_flags(idx, &flags) != LZMA_OK ||
        lzma_index_stream_padding(idx, padding) != LZMA_OK) {
        lzma_index_end(idx, NULL);
        return -1;
    }
    if (*all != NULL && lzma_index_cat(idx, *all, NULL) != LZMA_OK) {
        nbdkit_error("xz: corrupt file: streams too large to combine");
        lzma_index_end(idx, NULL);
        return -1;
    }
    *all = idx; /* the old *all is now part of idx */
    *pos = start;
    return 0;
}

/* Check every block against xz-max-block and against a plausible
 * compressed size.
 */
static int
xz_index_check(lzma_index *idx)
{
    lzma_index_iter it;
    lzma_vli largest = 0, bound;

    lzma_index_iter_init(&it, idx);
    while (!lzma_index_iter_next(&it, LZMA_INDEX_ITER_BLOCK)) {
        if (it.block.uncompressed_size > largest)
            largest = it.block.uncompressed_size;
        bound = it.block.uncompressed_size + it.block.uncompressed_size / 16 +
                65536;
        if (it.block.total_size > bound) {
            nbdkit_error("xz: corrupt file: block %" PRIu64 " is %" PRIu64
                         " bytes compressed but %" PRIu64 " uncompressed",
                         (uint64_t)it.block.number_in_file,
                         (uint64_t)it.block.total_size,
                         (uint64_t)it.block.uncompressed_size);
            return -1;
        }
    }
    if (largest > max_block) {
        nbdkit_error("xz file largest block is bigger than maxblock: "
                     "%" PRIu64 " bytes, xz-max-block is %" PRIu64
                     " bytes; recompress the file with smaller blocks "
                     "(xz --block-size=SIZE) or raise xz-max-block",
                     (uint64_t)largest, max_block);
        return -1;
    }
    return 0;
}

/* Read the index of every stream of the xz file below, from the end;
 * *out (owned by the caller, lzma_index_end) covers the whole file.
 * -1 after nbdkit_error for a file that is not xz, is corrupt or has a
 * block larger than xz-max-block.
 */
static int
xz_index_read(nbdkit_next *next, lzma_index **out)
{
    int64_t size = next->get_size(next);
    uint64_t pos, padding;
    lzma_index *all = NULL;

    if (size == -1)
        return -1;
    pos = size;
    if (pos % 4 != 0 || pos < 2 * XZ_HEADER_SIZE) {
        nbdkit_error("xz: not an xz file");
        return -1;
    }
    do {
        if (xz_skip_padding(next, &pos, &padding) == -1 ||
            xz_stream_read(next, &pos, padding, &all) == -1) {
            lzma_index_end(all, NULL);
            return -1;
        }
    } while (pos > 0);
    if (xz_index_check(all) == -1) {
        lzma_index_end(all, NULL);
        return -1;
    }
    *out = all;
    return 0;
}

/* Free the filter options lzma_block_header_decode allocated. */
static void
xz_filters_free(lzma_filter *filters)
{
    size_t i;

    for (i = 0; i < LZMA_FILTERS_MAX && filters[i].id != LZMA_VLI_UNKNOWN; i++)
        free(filters[i].options);
}

/* Decode the compressed block in[0..it->block.total_size) into out,
 * which holds it->block.uncompressed_size bytes.
 */
static int
xz_block_decode(const lzma_index_iter *it, const uint8_t *in, uint8_t *out)
{
    lzma_filter filters[LZMA_FILTERS_MAX + 1];
    lzma_block block;
    size_t in_pos, out_pos = 0;
    lzma_ret r;

    memset(&block, 0, sizeof block);
    memset(filters, 0, sizeof filters);
    filters[0].id = LZMA_VLI_UNKNOWN;
    block.version = 1;
    block.check = it->stream.flags->check;
    block.filters = filters;
    block.header_size = lzma_block_header_size_decode(in[0]);
    if (block.header_size > it->block.total_size)
        return -1;
    r = lzma_block_header_decode(&block, NULL, in);
    if (r == LZMA_OK)
        r = lzma_block_compressed_size(&block, it->block.unpadded_size);
    if (r == LZMA_OK &&
        lzma_raw_decoder_memusage(filters) > max_block + (UINT64_C(64) << 20))
        r = LZMA_MEMLIMIT_ERROR;
    if (r == LZMA_OK) {
        if (block.uncompressed_size == LZMA_VLI_UNKNOWN)
            block.uncompressed_size = it->block.uncompressed_size;
        in_pos = block.header_size;
        r = lzma_block_buffer_decode(&block, NULL, in, &in_pos,
                                     it->block.total_size, out, &out_pos,
                                     it->block.uncompressed_size);
    }
    xz_filters_free(filters);
    if (r != LZMA_OK || out_pos != it->block.uncompressed_size) {
        nbdkit_error("xz: corrupt block %" PRIu64 " (liblzma error %d)",
                     (uint64_t)it->block.number_in_file, (int)r);
        return -1;
    }
    return 0;
}

/* Read and decode the block at it into a new buffer, owned by the
 * caller; NULL after nbdkit_error.
 */
static uint8_t *
xz_block_load(nbdkit_next *next, const lzma_index_iter *it)
{
    CLEANUP_FREE uint8_t *in = NULL;
    uint8_t *out;

    in = malloc(it->block.total_size);
    out = malloc(it->block.uncompressed_size ? it->block.uncompressed_size : 1);
    if (in == NULL || out == NULL) {
        nbdkit_error("malloc: %m");
        free(out);
        return NULL;
    }
    if (xz_read(next, in, it->block.total_size,
                it->block.compressed_file_offset) == -1) {
        nbdkit_error("xz: read: %m");
        free(out);
        return NULL;
    }
    if (xz_block_decode(it, in, out) == -1) {
        free(out);
        return NULL;
    }
    return out;
}

/* The cached block at it, decoding it into the least recently used slot
 * on a miss.  Called with h->lock held; the result lives until the lock
 * is released.  NULL after nbdkit_error.
 */
static struct xz_block *
xz_cache_get(nbdkit_next *next, struct handle *h, const lzma_index_iter *it)
{
    struct xz_block *b, *victim = &h->cache[0];
    unsigned i;
    uint8_t *data;

    for (i = 0; i < max_depth; i++) {
        b = &h->cache[i];
        if (b->data != NULL && b->start == it->block.uncompressed_file_offset) {
            b->used = ++h->tick;
            return b;
        }
        if (b->data == NULL || (victim->data != NULL && b->used < victim->used))
            victim = b;
    }
    data = xz_block_load(next, it);
    if (data == NULL)
        return NULL;
    free(victim->data);
    victim->data = data;
    victim->start = it->block.uncompressed_file_offset;
    victim->size = it->block.uncompressed_size;
    victim->used = ++h->tick;
    return victim;
}

static void *
xz_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
        const char *exportname, int is_tls)
{
    struct handle *h;

    if (next(context, 1, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->cache = calloc(max_depth, sizeof *h->cache);
    if (h->cache == NULL) {
        nbdkit_error("calloc: %m");
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

static void
xz_close(void *handle)
{
    struct handle *h = handle;
    unsigned i;

    for (i = 0; i < max_depth; i++)
        free(h->cache[i].data);
    free(h->cache);
    lzma_index_end(h->index, NULL);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static int
xz_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct handle *h = handle;

    return xz_index_read(next, &h->index);
}

static int64_t
xz_get_size(nbdkit_next *next, void *handle)
{
    struct handle *h = handle;

    return lzma_index_uncompressed_size(h->index);
}

static int
xz_can_write(nbdkit_next *next, void *handle)
{
    return 0;
}

/* Copy [offset, offset+count) out of the blocks that hold it; buf may
 * be NULL (cache requests: decode only).
 */
static int
xz_copy(nbdkit_next *next, struct handle *h, uint8_t *buf, uint32_t count,
        uint64_t offset, int *err)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&h->lock);
    lzma_index_iter it;
    struct xz_block *b;
    uint64_t skip, n;

    while (count > 0) {
        lzma_index_iter_init(&it, h->index);
        if (lzma_index_iter_locate(&it, offset)) {
            nbdkit_error("xz: offset %" PRIu64 " is past the end", offset);
            *err = EIO;
            return -1;
        }
        b = xz_cache_get(next, h, &it);
        if (b == NULL) {
            *err = EIO;
            return -1;
        }
        skip = offset - b->start;
        n = b->size - skip < count ? b->size - skip : count;
        if (buf != NULL)
            memcpy(buf, b->data + skip, n), buf += n;
        count -= n, offset += n;
    }
    return 0;
}

static int
xz_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
         uint64_t offset, uint32_t flags, int *err)
{
    return xz_copy(next, handle, buf, count, offset, err);
}

/* A cache request decodes the blocks into the connection's cache. */
static int
xz_can_cache(nbdkit_next *next, void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

static int
xz_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    return xz_copy(next, handle, NULL, count, offset, err);
}

/* The uncompressed data has no holes that the file below could show. */
static int
xz_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    if (nbdkit_add_extent(extents, offset, count, 0) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "xz",
    .longname = "nbdx xz filter",
    .config = xz_config,
    .config_help = xz_config_help,
    .open = xz_open,
    .close = xz_close,
    .prepare = xz_prepare,
    .get_size = xz_get_size,
    .can_write = xz_can_write,
    .pread = xz_pread,
    .can_cache = xz_can_cache,
    .cache = xz_cache,
    .extents = xz_extents,
};

NBDKIT_REGISTER_FILTER(filter)
