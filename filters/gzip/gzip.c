/* SPDX-License-Identifier: BSD-3-Clause */
/* gzip.c: serve the uncompressed contents of a gzip file, read-only.
 *
 * gzip cannot be read at random, so the first connection's prepare
 * inflates the whole file below into an unlinked temporary file in
 * $TMPDIR (default /var/tmp); every connection then reads that file.
 * If inflating fails, the connection is refused and the next one tries
 * again.  Members concatenated after the first (as gzip writes with
 * cat a.gz b.gz) are inflated too; other trailing bytes are ignored.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include <nbdkit-filter.h>

#include "cleanup.h"

#define GZIP_CHUNK (1 << 20) /* bytes read or written per call */

/* The inflated file, shared by every connection; set once under lock by
 * the first prepare that succeeds, then read-only.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fd = -1;       /* the temporary file, unlinked; -1 until set */
static int64_t size = -1; /* its size */

static void
gzip_unload(void)
{
    if (fd >= 0)
        close(fd);
}

/* Write all of buf to tmp at offset; -1 after nbdkit_error. */
static int
gzip_write(int tmp, const uint8_t *buf, size_t count, uint64_t offset)
{
    ssize_t r;

    while (count > 0) {
        r = pwrite(tmp, buf, count, offset);
        if (r == -1) {
            nbdkit_error("gzip: writing the temporary file: %m");
            return -1;
        }
        buf += r, count -= r, offset += r;
    }
    return 0;
}

/* A temporary file in $TMPDIR or /var/tmp, already unlinked; -1 after
 * nbdkit_error.
 */
static int
gzip_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    CLEANUP_FREE char *path = NULL;
    int tmp;

    if (dir == NULL || *dir == '\0')
        dir = "/var/tmp";
    if (asprintf(&path, "%s/gzipXXXXXX", dir) == -1) {
        nbdkit_error("asprintf: %m");
        return -1;
    }
    tmp = mkostemp(path, O_CLOEXEC);
    if (tmp == -1) {
        nbdkit_error("gzip: creating a temporary file in %s: %m", dir);
        return -1;
    }
    unlink(path);
    return tmp;
}

/* The state of one inflation: input read so far from below, output
 * written so far to the temporary file.
 */
struct gzip_job {
    nbdkit_next *next;
    int64_t in_size;
    uint64_t in_off, out_off;
    int tmp;
    z_stream strm;
    uint8_t *in, *out; /* GZIP_CHUNK each */
};

/* Refill the input buffer from below if it is empty; 0 at the end. */
static int
gzip_refill(struct gzip_job *j)
{
    uint32_t n;
    int err;

    if (j->strm.avail_in > 0 || j->in_off >= (uint64_t)j->in_size)
        return 0;
    n = j->in_size - j->in_off < GZIP_CHUNK ? j->in_size - j->in_off
                                            : GZIP_CHUNK;
    if (j->next->pread(j->next, j->in, n, j->in_off, 0, &err) == -1) {
        errno = err;
        nbdkit_error("gzip: read: %m");
        return -1;
    }
    j->strm.next_in = j->in;
    j->strm.avail_in = n;
    j->in_off += n;
    return 0;
}

/* Whether another gzip member follows the one that just ended. */
static bool
gzip_another_member(struct gzip_job *j)
{
    if (gzip_refill(j) == -1 || j->strm.avail_in == 0)
        return false;
    return j->strm.next_in[0] == 0x1f &&
           (j->strm.avail_in < 2 || j->strm.next_in[1] == 0x8b);
}

/* Inflate everything below into j->tmp; -1 after nbdkit_error. */
static int
gzip_inflate_all(struct gzip_job *j)
{
    bool full = false; /* the last inflate filled the output: more may come */
    int r;

    for (;;) {
        if (gzip_refill(j) == -1)
            return -1;
        if (j->strm.avail_in == 0 && !full) {
            nbdkit_error("gzip: inflate: the compressed data ends early "
                         "(truncated file?)");
            return -1;
        }
        j->strm.next_out = j->out;
        j->strm.avail_out = GZIP_CHUNK;
        r = inflate(&j->strm, Z_NO_FLUSH);
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
            nbdkit_error("gzip: inflate: %s",
                         j->strm.msg ? j->strm.msg : zError(r));
            return -1;
        }
        if (gzip_write(j->tmp, j->out, GZIP_CHUNK - j->strm.avail_out,
                       j->out_off) == -1)
            return -1;
        j->out_off += GZIP_CHUNK - j->strm.avail_out;
        full = j->strm.avail_out == 0;
        if (r == Z_STREAM_END) {
            if (!gzip_another_member(j))
                return 0;
            inflateReset(&j->strm);
        }
    }
}

/* Inflate the file below into a new temporary file; sets fd and size. */
static int
gzip_decompress(nbdkit_next *next)
{
    struct gzip_job j = {.next = next, .tmp = -1};
    int r = -1;

    j.in_size = next->get_size(next);
    if (j.in_size == -1)
        return -1;
    j.in = malloc(GZIP_CHUNK);
    j.out = malloc(GZIP_CHUNK);
    if (j.in == NULL || j.out == NULL) {
        nbdkit_error("malloc: %m");
        goto out;
    }
    if (inflateInit2(&j.strm, 16 + MAX_WBITS) != Z_OK) {
        nbdkit_error("gzip: inflateInit2 failed");
        goto out;
    }
    j.tmp = gzip_tmpfile();
    if (j.tmp != -1 && gzip_inflate_all(&j) == 0) {
        nbdkit_debug("gzip: %" PRIu64 " bytes inflated to %" PRIu64, j.in_off,
                     j.out_off);
        fd = j.tmp, size = j.out_off, j.tmp = -1, r = 0;
    }
    inflateEnd(&j.strm);
out:
    if (j.tmp != -1)
        close(j.tmp);
    free(j.in);
    free(j.out);
    return r;
}

static void *
gzip_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
          const char *exportname, int is_tls)
{
    if (next(context, 1, exportname) == -1)
        return NULL;
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int
gzip_prepare(nbdkit_next *next, void *handle, int readonly)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&lock);

    if (fd != -1)
        return 0;
    return gzip_decompress(next);
}

static int64_t
gzip_get_size(nbdkit_next *next, void *handle)
{
    return size;
}

static int
gzip_can_write(nbdkit_next *next, void *handle)
{
    return 0;
}

static int
gzip_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    ssize_t r;

    while (count > 0) {
        r = pread(fd, buf, count, offset);
        if (r == -1) {
            *err = errno;
            nbdkit_error("gzip: pread: %m");
            return -1;
        }
        if (r == 0) {
            *err = EIO;
            nbdkit_error("gzip: pread: unexpected end of temporary file");
            return -1;
        }
        buf = (uint8_t *)buf + r, count -= r, offset += r;
    }
    return 0;
}

/* A cache request asks the kernel to read the temporary file ahead. */
static int
gzip_can_cache(nbdkit_next *next, void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

static int
gzip_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    posix_fadvise(fd, offset, count, POSIX_FADV_WILLNEED);
    return 0;
}

/* The inflated data has no holes that the file below could show. */
static int
gzip_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    if (nbdkit_add_extent(extents, offset, count, 0) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "gzip",
    .longname = "nbdx gzip filter",
    .unload = gzip_unload,
    .open = gzip_open,
    .prepare = gzip_prepare,
    .get_size = gzip_get_size,
    .can_write = gzip_can_write,
    .pread = gzip_pread,
    .can_cache = gzip_can_cache,
    .cache = gzip_cache,
    .extents = gzip_extents,
};

NBDKIT_REGISTER_FILTER(filter)
