/* SPDX-License-Identifier: BSD-3-Clause */
/* xz.c: serve the uncompressed contents of an xz file, read-only.
 *
 * prepare reads the index of every stream in the file, from the end
 * backwards (xz_index_read, also the fuzz target's entry point), and
 * refuses a file with a block larger than xz-max-block.  A read finds
 * the blocks it covers in the index and decodes each with liblzma into
 * one of the connection's xz-max-depth cache slots (least recently used
 * out first), but only as far as the read needs: the slot keeps the
 * decoder, and a later read further into the block goes on from there.
 * Random access costs at most one block's decoding (half of one on
 * average), so files made with xz --block-size=SIZE read well.  Reads
 * of different blocks decode in parallel, each in its own slot.
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
#define XZ_PAD_CHUNK 4096          /* stream padding read per call */
#define XZ_DECODE_STEP (64 * 1024) /* least decoded past a read's end */

/* One cache slot: a block of the file, decoded from its start as far as
 * reads have needed.  The first group of fields is the slot table's,
 * under the handle's lock; the rest is the decoding, under the slot's
 * own lock, which only a reader that pinned the slot takes.  A slot is
 * given to another block only while nobody has it pinned.
 */
struct xz_block {
    uint64_t start; /* the block's first uncompressed byte, if valid */
    uint64_t used;  /* tick of the last use, for LRU */
    unsigned pins;  /* readers using the slot now */
    bool valid;     /* start names the block the slot is for */
    bool reset;     /* given to a new block: the next reader starts over */

    pthread_mutex_t lock;
    uint8_t *data; /* owned: size bytes, [0, done) decoded; or NULL */
    uint64_t size, done;
    uint8_t *in;   /* owned: the compressed block, while decoding */
    bool decoding; /* strm, block and filters are live */
    lzma_stream strm;
    lzma_block block;
    lzma_filter filters[LZMA_FILTERS_MAX + 1];
};

/* One connection.  Lock order: h->lock, then a slot's lock, never the
 * other way (xz_copy holds neither while taking the other).
 */
struct handle {
    lzma_index *index;       /* owned; set by prepare, then read-only */
    pthread_mutex_t lock;    /* guards the slot table fields and tick */
    pthread_cond_t unpinned; /* a slot's pins fell */
    struct xz_block *cache;  /* max_depth slots */
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

/* Free the decoder and the compressed block, keeping what was decoded.
 * Called with b->lock held.
 */
static void
xz_slot_end_decoder(struct xz_block *b)
{
    if (b->decoding) {
        lzma_end(&b->strm);
        xz_filters_free(b->filters);
        b->decoding = false;
    }
    free(b->in);
    b->in = NULL;
}

/* Drop what the slot holds.  Called with b->lock held. */
static void
xz_slot_clear(struct xz_block *b)
{
    xz_slot_end_decoder(b);
    free(b->data);
    b->data = NULL;
    b->size = b->done = 0;
}

/* Parse the block header at b->in and set up the decoder for the block
 * at it.  0, or -1 with the block's fields left for xz_slot_clear.
 */
static int
xz_slot_decoder(struct xz_block *b, const lzma_index_iter *it)
{
    lzma_ret r;

    memset(&b->block, 0, sizeof b->block);
    memset(b->filters, 0, sizeof b->filters);
    b->filters[0].id = LZMA_VLI_UNKNOWN;
    b->block.version = 1;
    b->block.check = it->stream.flags->check;
    b->block.filters = b->filters;
    b->block.header_size = lzma_block_header_size_decode(b->in[0]);
    if (b->block.header_size > it->block.total_size)
        return -1;
    r = lzma_block_header_decode(&b->block, NULL, b->in);
    if (r != LZMA_OK)
        return -1;
    if (lzma_block_compressed_size(&b->block, it->block.unpadded_size) !=
            LZMA_OK ||
        lzma_raw_decoder_memusage(b->filters) >
            max_block + (UINT64_C(64) << 20)) {
        xz_filters_free(b->filters);
        return -1;
    }
    if (b->block.uncompressed_size == LZMA_VLI_UNKNOWN)
        b->block.uncompressed_size = it->block.uncompressed_size;
    b->strm = (lzma_stream)LZMA_STREAM_INIT;
    if (lzma_block_decoder(&b->strm, &b->block) != LZMA_OK) {
        xz_filters_free(b->filters);
        return -1;
    }
    b->strm.next_in = b->in + b->block.header_size;
    b->strm.avail_in = it->block.total_size - b->block.header_size;
    b->decoding = true;
    return 0;
}

/* Start decoding the block at it into b from its first byte: read the
 * compressed block and set up the decoder.  Called with b->lock held.
 * -1 after nbdkit_error.
 */
static int
xz_slot_start(nbdkit_next *next, struct xz_block *b, const lzma_index_iter *it)
{
    xz_slot_clear(b);
    b->size = it->block.uncompressed_size;
    b->in = malloc(it->block.total_size);
    b->data = malloc(b->size ? b->size : 1);
    if (b->in == NULL || b->data == NULL) {
        nbdkit_error("malloc: %m");
        xz_slot_clear(b);
        return -1;
    }
    if (xz_read(next, b->in, it->block.total_size,
                it->block.compressed_file_offset) == -1) {
        nbdkit_error("xz: read: %m");
        xz_slot_clear(b);
        return -1;
    }
    if (xz_slot_decoder(b, it) == -1) {
        nbdkit_error("xz: corrupt block %" PRIu64 " (bad block header)",
                     (uint64_t)it->block.number_in_file);
        xz_slot_clear(b);
        return -1;
    }
    return 0;
}

/* Decode on until the first need bytes of the block are there; once
 * every byte is, also the block's check, and free the decoder.  Called
 * with b->lock held.  -1 after nbdkit_error (the slot is cleared).
 */
static int
xz_slot_decode(struct xz_block *b, const lzma_index_iter *it, uint64_t need)
{
    lzma_ret r = LZMA_OK;

    while (b->decoding && (b->done < need || b->done == b->size)) {
        b->strm.next_out = b->data + b->done;
        b->strm.avail_out = b->size - b->done;
        if (b->strm.avail_out > need - b->done + XZ_DECODE_STEP &&
            b->done < need)
            b->strm.avail_out = need - b->done + XZ_DECODE_STEP;
        r = lzma_code(&b->strm, LZMA_RUN);
        b->done = b->strm.next_out - b->data;
        if (r == LZMA_STREAM_END && b->done == b->size)
            xz_slot_end_decoder(b);
        else if (r != LZMA_OK)
            break;
    }
    if (b->done < need || (r != LZMA_OK && r != LZMA_STREAM_END) ||
        (r == LZMA_STREAM_END && b->decoding)) {
        nbdkit_error("xz: corrupt block %" PRIu64 " (liblzma error %d)",
                     (uint64_t)it->block.number_in_file, (int)r);
        xz_slot_clear(b);
        return -1;
    }
    return 0;
}

/* Have the first need bytes of the block at it decoded in b, which the
 * caller pinned.  Called with b->lock held.  -1 after nbdkit_error.
 */
static int
xz_slot_fill(nbdkit_next *next, struct xz_block *b, const lzma_index_iter *it,
             uint64_t need)
{
    if (b->reset || b->data == NULL) {
        b->reset = false;
        if (xz_slot_start(next, b, it) == -1)
            return -1;
    }
    return xz_slot_decode(b, it, need);
}

/* Whether slot b makes a better victim than slot v: a free slot first,
 * then the least recently used.
 */
static bool
xz_slot_older(const struct xz_block *b, const struct xz_block *v)
{
    if (!b->valid)
        return v->valid;
    return v->valid && b->used < v->used;
}

/* Pin the slot of the block starting at start, giving it the least
 * recently used unpinned slot if no slot has it; waits while every slot
 * is pinned.  Takes h->lock.
 */
static struct xz_block *
xz_slot_pin(struct handle *h, uint64_t start)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&h->lock);
    struct xz_block *b, *victim;
    unsigned i;

    for (;;) {
        victim = NULL;
        for (i = 0; i < max_depth; i++) {
            b = &h->cache[i];
            if (b->valid && b->start == start) {
                b->pins++;
                b->used = ++h->tick;
                return b;
            }
            if (b->pins == 0 && (victim == NULL || xz_slot_older(b, victim)))
                victim = b;
        }
        if (victim != NULL) {
            victim->valid = victim->reset = true;
            victim->start = start;
            victim->pins = 1;
            victim->used = ++h->tick;
            return victim;
        }
        pthread_cond_wait(&h->unpinned, &h->lock);
    }
}

/* Unpin b; a slot whose decoding failed no longer names its block. */
static void
xz_slot_unpin(struct handle *h, struct xz_block *b, bool failed)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&h->lock);

    b->pins--;
    if (failed)
        b->valid = false;
    pthread_cond_broadcast(&h->unpinned);
}

static void *
xz_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
        const char *exportname, int is_tls)
{
    struct handle *h;
    unsigned i;

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
    for (i = 0; i < max_depth; i++)
        pthread_mutex_init(&h->cache[i].lock, NULL);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->unpinned, NULL);
    return h;
}

static void
xz_close(void *handle)
{
    struct handle *h = handle;
    unsigned i;

    for (i = 0; i < max_depth; i++) {
        xz_slot_clear(&h->cache[i]);
        pthread_mutex_destroy(&h->cache[i].lock);
    }
    free(h->cache);
    lzma_index_end(h->index, NULL);
    pthread_cond_destroy(&h->unpinned);
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
    lzma_index_iter it;
    struct xz_block *b;
    uint64_t skip, n;
    int r;

    while (count > 0) {
        lzma_index_iter_init(&it, h->index);
        if (lzma_index_iter_locate(&it, offset)) {
            nbdkit_error("xz: offset %" PRIu64 " is past the end", offset);
            *err = EIO;
            return -1;
        }
        skip = offset - it.block.uncompressed_file_offset;
        n = it.block.uncompressed_size - skip;
        if (n > count)
            n = count;
        b = xz_slot_pin(h, it.block.uncompressed_file_offset);
        pthread_mutex_lock(&b->lock);
        r = xz_slot_fill(next, b, &it, skip + n);
        if (r == 0 && buf != NULL)
            memcpy(buf, b->data + skip, n);
        pthread_mutex_unlock(&b->lock);
        xz_slot_unpin(h, b, r == -1);
        if (r == -1) {
            *err = EIO;
            return -1;
        }
        if (buf != NULL)
            buf += n;
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
