/* SPDX-License-Identifier: BSD-3-Clause */
/* blocksize.c: let clients send any request size while the layer below
 * sees only requests aligned to minblock and no longer than maxdata
 * (reads, writes, caches) or maxlen (trims, zeroes, extents).
 *
 * A request is walked piece by piece (blocksize_piece): an unaligned
 * head or tail inside one minblock block, and aligned runs between.  A
 * partial block is read whole into the bounce buffer; for a write or a
 * zero it is then changed and written back whole (read-modify-write),
 * and a partial trim is dropped.  The size below is rounded down to
 * minblock.  The filter advertises the widest block sizes to clients.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "cleanup.h"
#include "minmax.h"

#define BLOCKSIZE_MINBLOCK_LIMIT (64 * 1024)
#define BLOCKSIZE_DEFAULT_MAXDATA (64 * 1024 * 1024)

/* The parameters, 0 when not given; then the layer below decides. */
static uint32_t config_minblock; /* minblock=SIZE */
static uint32_t config_maxdata;  /* maxdata=SIZE */
static uint32_t config_maxlen;   /* maxlen=SIZE */

/* Taken for writing by every read-modify-write (and partial read), which
 * uses the one bounce buffer; taken for reading by aligned writes, zeroes
 * and trims, so that none lands between the read and the write of a
 * read-modify-write of the same block.  Aligned reads take no lock.
 */
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static char bounce[BLOCKSIZE_MINBLOCK_LIMIT]; /* guarded by lock (write) */

/* The limits of one connection, set in .prepare, then read-only. */
struct blocksize_handle {
    uint32_t minblock; /* a power of 2, at most BLOCKSIZE_MINBLOCK_LIMIT */
    uint32_t maxdata;  /* a multiple of minblock */
    uint32_t maxlen;   /* a multiple of minblock */
};

/* Parse a size into *out: 0 and more than 32 bits are refused. */
static int
blocksize_parse(const char *key, const char *value, uint32_t *out)
{
    int64_t r;

    r = nbdkit_parse_size(value);
    if (r == -1)
        return -1;
    if (r == 0) {
        nbdkit_error("parameter '%s' must be non-zero if specified", key);
        return -1;
    }
    if (r > UINT32_MAX) {
        nbdkit_error("parameter '%s' too large", key);
        return -1;
    }
    *out = r;
    return 0;
}

static int
blocksize_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                 const char *key, const char *value)
{
    if (strcmp(key, "minblock") == 0)
        return blocksize_parse(key, value, &config_minblock);
    if (strcmp(key, "maxdata") == 0)
        return blocksize_parse(key, value, &config_maxdata);
    if (strcmp(key, "maxlen") == 0)
        return blocksize_parse(key, value, &config_maxlen);
    return next(nxdata, key, value);
}

/* A limit given with minblock must be a multiple of it. */
static int
blocksize_check_multiple(const char *key, uint32_t value)
{
    if (config_minblock == 0 || value % config_minblock == 0)
        return 0;
    nbdkit_error("%s must be a multiple of %" PRIu32, key, config_minblock);
    return -1;
}

static int
blocksize_config_complete(nbdkit_next_config_complete *next,
                          nbdkit_backend *nxdata)
{
    if (config_minblock != 0 && !IS_POWER_OF_2(config_minblock)) {
        nbdkit_error("minblock must be a power of 2");
        return -1;
    }
    if (config_minblock > BLOCKSIZE_MINBLOCK_LIMIT) {
        nbdkit_error("minblock must not exceed %d", BLOCKSIZE_MINBLOCK_LIMIT);
        return -1;
    }
    if (blocksize_check_multiple("maxdata", config_maxdata) == -1 ||
        blocksize_check_multiple("maxlen", config_maxlen) == -1)
        return -1;
    return next(nxdata);
}

#define blocksize_config_help                                                  \
    "minblock=<SIZE>      Minimum block size, power of 2 <= 64k (default "     \
    "1).\n"                                                                    \
    "maxdata=<SIZE>       Maximum size of a read or write (default 64M).\n"    \
    "maxlen=<SIZE>        Maximum size of a trim or zero (default "            \
    "4G-minblock)."

static void *
blocksize_open(nbdkit_next_open *next, nbdkit_context *nxdata, int readonly,
               const char *exportname, int is_tls)
{
    struct blocksize_handle *h;

    if (next(nxdata, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    return h;
}

static void
blocksize_close(void *handle)
{
    free(handle);
}

/* Settle the limits: the parameters, raised to the minimum of the layer
 * below and lowered to its maximum.
 */
static int
blocksize_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct blocksize_handle *h = handle;
    uint32_t minimum, preferred, maximum;

    if (next->block_size(next, &minimum, &preferred, &maximum) == -1)
        return -1;
    h->minblock = MAX(config_minblock ? config_minblock : 1u, minimum);
    h->maxdata = config_maxdata;
    if (h->maxdata == 0)
        h->maxdata = MIN(config_maxlen ? config_maxlen : UINT32_MAX,
                         (uint32_t)BLOCKSIZE_DEFAULT_MAXDATA);
    if (maximum != 0)
        h->maxdata = MIN(h->maxdata, maximum);
    h->maxdata = MAX(ROUND_DOWN(h->maxdata, h->minblock), h->minblock);
    h->maxlen = config_maxlen ? config_maxlen : UINT32_MAX;
    h->maxlen = MAX(ROUND_DOWN(h->maxlen, h->minblock), h->minblock);
    nbdkit_debug("blocksize: minblock=%" PRIu32 " maxdata=%" PRIu32
                 " maxlen=%" PRIu32,
                 h->minblock, h->maxdata, h->maxlen);
    return 0;
}

/* The unaligned tail of the disk cannot be reached safely: drop it. */
static int64_t
blocksize_get_size(nbdkit_next *next, void *handle)
{
    struct blocksize_handle *h = handle;
    int64_t size;

    size = next->get_size(next);
    if (size == -1)
        return -1;
    return ROUND_DOWN(size, (int64_t)h->minblock);
}

/* Clients may send anything, so advertise minimum 1 and the largest
 * maximum; preferred is at least a block and at least 4k.
 */
static int
blocksize_block_size(nbdkit_next *next, void *handle, uint32_t *minimum,
                     uint32_t *preferred, uint32_t *maximum)
{
    struct blocksize_handle *h = handle;
    uint32_t floor = MAX(h->minblock, 4096u);

    if (next->block_size(next, minimum, preferred, maximum) == -1)
        return -1;
    *preferred = MAX(*preferred, floor);
    *minimum = 1;
    *maximum = UINT32_MAX;
    return 0;
}

/* The length of the next piece of [offs, offs+count): the rest of an
 * unaligned block, or an aligned run of at most max bytes.
 */
static uint32_t
blocksize_piece(const struct blocksize_handle *h, uint64_t offs, uint32_t count,
                uint32_t max)
{
    uint32_t skip = offs & (h->minblock - 1);

    if (skip != 0 || count < h->minblock)
        return MIN(h->minblock - skip, count);
    return MIN(max, ROUND_DOWN(count, h->minblock));
}

static bool
blocksize_is_partial(const struct blocksize_handle *h, uint64_t offs,
                     uint32_t len)
{
    return ((offs | len) & (h->minblock - 1)) != 0;
}

/* Read the block holding [offs, offs+len) into bounce and copy the piece
 * to buf.  The caller holds lock for writing.
 */
static int
blocksize_read_partial(nbdkit_next *next, const struct blocksize_handle *h,
                       char *buf, uint32_t len, uint64_t offs, uint32_t flags,
                       int *err)
{
    uint32_t skip = offs & (h->minblock - 1);

    if (next->pread(next, bounce, h->minblock, offs - skip, flags, err) == -1)
        return -1;
    memcpy(buf, bounce + skip, len);
    return 0;
}

/* Read-modify-write the block holding [offs, offs+len): put buf there,
 * or zeroes when buf is NULL.  Takes lock for writing.
 */
static int
blocksize_rmw(nbdkit_next *next, const struct blocksize_handle *h,
              const char *buf, uint32_t len, uint64_t offs, uint32_t flags,
              int *err)
{
    uint32_t skip = offs & (h->minblock - 1);
    ACQUIRE_WRLOCK_FOR_CURRENT_SCOPE(&lock);

    if (next->pread(next, bounce, h->minblock, offs - skip, 0, err) == -1)
        return -1;
    if (buf != NULL)
        memcpy(bounce + skip, buf, len);
    else
        memset(bounce + skip, 0, len);
    return next->pwrite(next, bounce, h->minblock, offs - skip, flags, err);
}

static int
blocksize_pread(nbdkit_next *next, void *handle, void *b, uint32_t count,
                uint64_t offs, uint32_t flags, int *err)
{
    struct blocksize_handle *h = handle;
    char *buf = b;
    uint32_t len;
    int r;

    while (count > 0) {
        len = blocksize_piece(h, offs, count, h->maxdata);
        if (blocksize_is_partial(h, offs, len)) {
            ACQUIRE_WRLOCK_FOR_CURRENT_SCOPE(&lock);
            r = blocksize_read_partial(next, h, buf, len, offs, flags, err);
        } else
            r = next->pread(next, buf, len, offs, flags, err);
        if (r == -1)
            return -1;
        buf += len;
        offs += len;
        count -= len;
    }
    return 0;
}

/* When the layer below emulates FUA with a flush, one flush at the end
 * of a split request does for all of its pieces: clear FUA in *flags
 * and return true if the caller must flush.
 */
static bool
blocksize_defer_fua(nbdkit_next *next, uint32_t *flags)
{
    if ((*flags & NBDKIT_FLAG_FUA) == 0 ||
        next->can_fua(next) != NBDKIT_FUA_EMULATE)
        return false;
    *flags &= ~NBDKIT_FLAG_FUA;
    return true;
}

static int
blocksize_finish(nbdkit_next *next, bool flush, int *err)
{
    return flush ? next->flush(next, 0, err) : 0;
}

static int
blocksize_pwrite(nbdkit_next *next, void *handle, const void *b, uint32_t count,
                 uint64_t offs, uint32_t flags, int *err)
{
    struct blocksize_handle *h = handle;
    const char *buf = b;
    bool flush = blocksize_defer_fua(next, &flags);
    uint32_t len;
    int r;

    while (count > 0) {
        len = blocksize_piece(h, offs, count, h->maxdata);
        if (blocksize_is_partial(h, offs, len))
            r = blocksize_rmw(next, h, buf, len, offs, flags, err);
        else {
            ACQUIRE_RDLOCK_FOR_CURRENT_SCOPE(&lock);
            r = next->pwrite(next, buf, len, offs, flags, err);
        }
        if (r == -1)
            return -1;
        buf += len;
        offs += len;
        count -= len;
    }
    return blocksize_finish(next, flush, err);
}

/* Partial blocks of a trim are left as they are. */
static int
blocksize_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
               uint32_t flags, int *err)
{
    struct blocksize_handle *h = handle;
    bool flush = blocksize_defer_fua(next, &flags);
    uint32_t len;

    while (count > 0) {
        len = blocksize_piece(h, offs, count, h->maxlen);
        if (!blocksize_is_partial(h, offs, len)) {
            ACQUIRE_RDLOCK_FOR_CURRENT_SCOPE(&lock);
            if (next->trim(next, len, offs, flags, err) == -1)
                return -1;
        }
        offs += len;
        count -= len;
    }
    return blocksize_finish(next, flush, err);
}

/* A fast zero that cannot go down as one aligned request would not be
 * fast: it fails at once with ENOTSUP.  Partial blocks are written.
 */
static int
blocksize_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
               uint32_t flags, int *err)
{
    struct blocksize_handle *h = handle;
    bool flush;
    uint32_t len;
    int r;

    if ((flags & NBDKIT_FLAG_FAST_ZERO) &&
        (blocksize_is_partial(h, offs, count) || count > h->maxlen)) {
        *err = ENOTSUP;
        return -1;
    }
    flush = blocksize_defer_fua(next, &flags);
    while (count > 0) {
        len = blocksize_piece(h, offs, count, h->maxlen);
        if (blocksize_is_partial(h, offs, len))
            r = blocksize_rmw(next, h, NULL, len, offs, flags & NBDKIT_FLAG_FUA,
                              err);
        else {
            ACQUIRE_RDLOCK_FOR_CURRENT_SCOPE(&lock);
            r = next->zero(next, len, offs, flags, err);
        }
        if (r == -1)
            return -1;
        offs += len;
        count -= len;
    }
    return blocksize_finish(next, flush, err);
}

/* Cache the range rounded out to whole blocks, maxdata at a time. */
static int
blocksize_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
                uint32_t flags, int *err)
{
    struct blocksize_handle *h = handle;
    uint64_t start = ROUND_DOWN(offs, (uint64_t)h->minblock);
    uint64_t end = ROUND_UP(offs + count, (uint64_t)h->minblock);
    uint32_t len;

    while (start < end) {
        len = MIN(end - start, (uint64_t)h->maxdata);
        if (next->cache(next, len, start, flags, err) == -1)
            return -1;
        start += len;
    }
    return 0;
}

/* Ask below about whole blocks, at most maxlen bytes (a shorter answer
 * is allowed), and copy what comes back; the server clips it to the
 * client's range.
 */
static int
blocksize_extents(nbdkit_next *next, void *handle, uint32_t count,
                  uint64_t offs, uint32_t flags, struct nbdkit_extents *extents,
                  int *err)
{
    struct blocksize_handle *h = handle;
    uint64_t start = ROUND_DOWN(offs, (uint64_t)h->minblock);
    uint64_t end = ROUND_UP(offs + count, (uint64_t)h->minblock);
    struct nbdkit_extents *below; /* owned; freed before returning */
    struct nbdkit_extent e;
    size_t i;
    int r;

    below = nbdkit_extents_new(start, end);
    if (below == NULL) {
        *err = errno;
        return -1;
    }
    r = nbdkit_extents_aligned(next, MIN(end - start, (uint64_t)h->maxlen),
                               start, flags, h->minblock, below, err);
    for (i = 0; r == 0 && i < nbdkit_extents_count(below); i++) {
        e = nbdkit_get_extent(below, i);
        r = nbdkit_add_extent(extents, e.offset, e.length, e.type);
        if (r == -1)
            *err = errno;
    }
    nbdkit_extents_free(below);
    return r;
}

static struct nbdkit_filter filter = {
    .name = "blocksize",
    .longname = "nbdx blocksize filter",
    .config = blocksize_config,
    .config_complete = blocksize_config_complete,
    .config_help = blocksize_config_help,
    .open = blocksize_open,
    .prepare = blocksize_prepare,
    .close = blocksize_close,
    .get_size = blocksize_get_size,
    .block_size = blocksize_block_size,
    .pread = blocksize_pread,
    .pwrite = blocksize_pwrite,
    .trim = blocksize_trim,
    .zero = blocksize_zero,
    .extents = blocksize_extents,
    .cache = blocksize_cache,
};

NBDKIT_REGISTER_FILTER(filter)
