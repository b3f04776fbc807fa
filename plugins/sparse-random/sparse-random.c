/* SPDX-License-Identifier: BSD-3-Clause */
/* sparse-random: a disk of runs of data and runs of holes, laid out and
 * filled as nbdkit's sparse-random plugin does for the same parameters
 * (see nbdx-sparse-random-plugin(1)).  Writes are accepted only when
 * they match what is already there.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "bitmap.h"
#include "genwrite.h"
#include "minmax.h"
#include "prng.h"

/* The disk is laid out in blocks of this size, each all data or all
 * hole: one bit per block in bm, 32 MiB of bitmap per TiB of disk.
 */
#define BLOCKSIZE 4096
_Static_assert(BLOCKSIZE == GENWRITE_PIECE,
               "writes are compared in the pieces reads are made in");

static int64_t size = -1;                       /* size=SIZE, required */
static uint32_t seed;                           /* seed=, or load time */
static double percent = 10;                     /* percent=N */
static uint64_t runlength = UINT64_C(16) << 20; /* runlength=N */
static bool random_content;                     /* random-content=BOOL */

/* Bit set = data block.  Written only by get_ready, before any client
 * connects, and read-only afterwards, so it needs no lock.
 */
static struct bitmap bm;

static void
sparse_random_load(void)
{
    seed = (uint32_t)time(NULL);
}

static void
sparse_random_unload(void)
{
    bitmap_free(&bm);
}

static int
sparse_random_config_percent(const char *value)
{
    if (sscanf(value, "%lg", &percent) != 1 ||
        !(percent >= 0 && percent <= 100)) {
        nbdkit_error("cannot parse percent parameter: %s", value);
        return -1;
    }
    return 0;
}

static int
sparse_random_config_runlength(const char *value)
{
    if (nbdkit_parse_uint64_t("runlength", value, &runlength) == -1)
        return -1;
    if (runlength == 0) {
        nbdkit_error("runlength parameter must be > 0");
        return -1;
    }
    return 0;
}

static int
sparse_random_config(const char *key, const char *value)
{
    int r;

    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(key, "seed") == 0)
        return nbdkit_parse_uint32_t("seed", value, &seed);
    if (strcmp(key, "percent") == 0)
        return sparse_random_config_percent(value);
    if (strcmp(key, "runlength") == 0)
        return sparse_random_config_runlength(value);
    if (strcmp(key, "random-content") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        random_content = r;
        return 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
sparse_random_config_complete(void)
{
    if (size == -1) {
        nbdkit_error("you must specify size=<SIZE> on the command line");
        return -1;
    }
    return 0;
}

/* The layout is a two-state Markov chain over the blocks, starting in a
 * hole: after each block, one number from the generator seeded with
 * seed decides whether the next block changes state.  A data run ends
 * with probability p_dh = BLOCKSIZE / runlength, so data runs are
 * runlength bytes long on average; a hole run ends with probability
 * p_hd, chosen so that data makes up percent of the disk.
 */
static void
sparse_random_layout(void)
{
    double p_dh = 1. / ((double)runlength / BLOCKSIZE);
    double p_hd = p_dh * (percent / 100.) / (1. - percent / 100.);
    double p_next;
    struct prng st;
    bool data = false;
    uint64_t blk, ndata = 0;

    nbdkit_debug("percent=%g runlength=%" PRIu64
                 ": P(data->hole)=%g P(hole->data)=%g",
                 percent, runlength, p_dh, p_hd);
    prng_seed(&st, seed);
    for (blk = 0; blk < bm.nblocks; blk++) {
        bitmap_set(&bm, blk, data);
        ndata += data;
        p_next = data ? p_dh : p_hd;
        if ((double)prng_next(&st) <= p_next * (double)UINT64_MAX)
            data = !data;
    }
    nbdkit_debug("%" PRIu64 " of %" PRIu64 " blocks are data", ndata,
                 bm.nblocks);
}

static int
sparse_random_get_ready(void)
{
    uint64_t blk;

    if (bitmap_init(&bm, BLOCKSIZE, 1) == -1 ||
        bitmap_resize(&bm, size) == -1) {
        nbdkit_error("bitmap for %" PRIi64 " bytes: %m", size);
        return -1;
    }
    if (percent == 0)
        return 0;
    if (percent == 100) {
        for (blk = 0; blk < bm.nblocks; blk++)
            bitmap_set(&bm, blk, 1);
        return 0;
    }
    sparse_random_layout();
    return 0;
}

static void *
sparse_random_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
sparse_random_get_size(void *handle)
{
    return size;
}

static int
sparse_random_can_multi_conn(void *handle)
{
    return 1;
}

static int
sparse_random_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* Fill buf with the n bytes at offset, which all lie in one block.
 * A hole is zeroes.  A data block is made by a generator seeded with
 * seed + start, where start is where the piece of the request in this
 * block begins: the block's start for every block but the first piece
 * of a request that begins inside a block, where it is the request's
 * offset.  (That is nbdkit 1.32's behaviour, kept so that every read
 * gives the same bytes as there.)  By default the block is one byte, the
 * low 8 bits of the first number or 1 if they are 0, repeated; with
 * random-content=true byte i of the block is the low 8 bits of number
 * i + 1, and the piece takes bytes offset % BLOCKSIZE onwards.
 */
static void
sparse_random_piece(unsigned char *buf, uint32_t n, uint64_t offset)
{
    struct prng st;
    uint32_t skip = offset % BLOCKSIZE, i;
    unsigned char b;

    if (!bitmap_get(&bm, offset / BLOCKSIZE)) {
        memset(buf, 0, n);
        return;
    }
    prng_seed(&st, seed + offset);
    if (!random_content) {
        b = prng_next(&st) & 0xff;
        memset(buf, b ? b : 1, n);
        return;
    }
    for (i = 0; i < skip; i++)
        prng_next(&st);
    for (i = 0; i < n; i++)
        buf[i] = prng_next(&st) & 0xff;
}

/* The length of the piece at offset: up to the end of its block. */
static uint32_t
sparse_random_piece_len(uint32_t count, uint64_t offset)
{
    return MIN(count, (uint32_t)(BLOCKSIZE - offset % BLOCKSIZE));
}

static int
sparse_random_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
                    uint32_t flags)
{
    unsigned char *out = buf;
    uint32_t n;

    while (count > 0) {
        n = sparse_random_piece_len(count, offset);
        sparse_random_piece(out, n, offset);
        out += n;
        offset += n;
        count -= n;
    }
    return 0;
}

/* A write succeeds if it changes nothing, so that a copy from this disk
 * to itself can be checked; anything else fails with EIO.  genwrite
 * compares it in the same pieces as sparse_random_pread makes.
 */
static int
sparse_random_pwrite(void *handle, const void *buf, uint32_t count,
                     uint64_t offset, uint32_t flags)
{
    int64_t bad = genwrite_mismatch(buf, count, offset, sparse_random_piece);

    if (bad != -1) {
        nbdkit_error("write at offset %" PRId64 " differs from the disk's data",
                     bad);
        nbdkit_set_error(EIO);
        return -1;
    }
    return 0;
}

/* Trimming or zeroing succeeds only where every block touched is a
 * hole, even partly touched; otherwise EIO.
 */
static int
sparse_random_zero(void *handle, uint32_t count, uint64_t offset,
                   uint32_t flags)
{
    int64_t next;

    if (count == 0)
        return 0;
    next = bitmap_next_set(&bm, offset / BLOCKSIZE);
    if (next != -1 && (uint64_t)next <= (offset + count - 1) / BLOCKSIZE) {
        nbdkit_error("trim or zero of data at offset %" PRIu64,
                     (uint64_t)next * BLOCKSIZE);
        nbdkit_set_error(EIO);
        return -1;
    }
    return 0;
}

/* Nothing is ever stored, so there is nothing to flush. */
static int
sparse_random_flush(void *handle, uint32_t flags)
{
    return 0;
}

static int
sparse_random_cache(void *handle, uint32_t count, uint64_t offset,
                    uint32_t flags)
{
    return 0;
}

/* One extent per run of blocks in the same state, from offset's block
 * to the run that reaches offset + count (only the first with REQ_ONE).
 */
static int
sparse_random_extents(void *handle, uint32_t count, uint64_t offset,
                      uint32_t flags, struct nbdkit_extents *extents)
{
    uint64_t blk = offset / BLOCKSIZE, end = offset + count, start, stop;
    int64_t next;
    uint32_t type;

    while (blk < bm.nblocks && blk * BLOCKSIZE < end) {
        if (bitmap_get(&bm, blk)) {
            next = bitmap_next_clear(&bm, blk);
            type = 0;
        } else {
            next = bitmap_next_set(&bm, blk);
            type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
        }
        if (next == -1)
            next = bm.nblocks;
        start = blk * BLOCKSIZE;
        stop = MIN((uint64_t)next * BLOCKSIZE, (uint64_t)size);
        if (nbdkit_add_extent(extents, start, stop - start, type) == -1)
            return -1;
        if (flags & NBDKIT_FLAG_REQ_ONE)
            break;
        blk = next;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "sparse-random",
    .longname = "nbdx sparse-random plugin",
    .version = PACKAGE_VERSION,
    .description = "Runs of pseudo-random data and holes, like a VM disk.",
    .load = sparse_random_load,
    .unload = sparse_random_unload,
    .magic_config_key = "size",
    .config = sparse_random_config,
    .config_complete = sparse_random_config_complete,
    .config_help =
        "size=<SIZE>          (required) Size of the disk.\n"
        "seed=<SEED>          Seed of the generator (default: the time).\n"
        "percent=<PERCENT>    Percentage of the disk that is data (10).\n"
        "runlength=<BYTES>    Average length of a run of data (16M).\n"
        "random-content=true  Every byte of data random, not each block.",
    .get_ready = sparse_random_get_ready,
    .open = sparse_random_open,
    .get_size = sparse_random_get_size,
    .can_multi_conn = sparse_random_can_multi_conn,
    .can_cache = sparse_random_can_cache,
    .pread = sparse_random_pread,
    .pwrite = sparse_random_pwrite,
    .flush = sparse_random_flush,
    .trim = sparse_random_zero,
    .zero = sparse_random_zero,
    .cache = sparse_random_cache,
    .extents = sparse_random_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
