/* SPDX-License-Identifier: BSD-3-Clause */
/* stats.c: count, time and size the requests of each kind, and write
 * the totals to statsfile= when the server unloads the filter.
 *
 * The layout of the file is nbdkit's: a total line, then one line per
 * kind of request seen, each followed (statsthreshold > 0) by the
 * request size and offset alignment breakdown.  The data is never
 * touched, so the zero-copy calls pass through, counted the same way.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

#define SIZE_BITS 32  /* a request's count is a uint32_t */
#define ALIGN_BITS 65 /* trailing zero bits of the offset, 64 for 0 */

/* The figures for one kind of request. */
struct stat_op {
    const char *name;
    bool in_total_ops;   /* counted in the total line's ops */
    bool in_total_bytes; /* counted in the total line's bytes */
    bool sized;          /* has a size breakdown (not flush) */
    uint64_t ops, bytes, ns;
    uint64_t size_ops[SIZE_BITS];   /* requests by floor(log2(count)) */
    uint64_t size_bytes[SIZE_BITS]; /* their bytes */
    uint64_t align_ops[SIZE_BITS][ALIGN_BITS]; /* and by alignment */
};

enum {
    OP_READ,
    OP_WRITE,
    OP_TRIM,
    OP_ZERO,
    OP_EXTENTS,
    OP_CACHE,
    OP_FLUSH,
    OP_COUNT
};

/* Every figure below is guarded by lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct stat_op stats[OP_COUNT] = {
    [OP_READ] = {"read", true, true, true},
    [OP_WRITE] = {"write", true, true, true},
    [OP_TRIM] = {"trim", true, true, true},
    [OP_ZERO] = {"zero", true, true, true},
    [OP_EXTENTS] = {"extents", true, false, true},
    [OP_CACHE] = {"cache", false, false, true},
    [OP_FLUSH] = {"flush", true, false, false},
};

static const char *statsfile = NULL; /* statsfile=FILE, required */
static bool statsappend = false;     /* statsappend=BOOL */
static double statsthreshold = 95;   /* statsthreshold=PERCENTILE */
static FILE *out = NULL;             /* opened at get_ready, closed at unload */
static struct timespec start;        /* when the server became ready */

static int
stats_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
             const char *value)
{
    int r;

    if (strcmp(key, "statsfile") == 0) {
        statsfile = nbdkit_absolute_path(value);
        return statsfile == NULL ? -1 : 0;
    }
    if (strcmp(key, "statsappend") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        statsappend = r;
        return 0;
    }
    if (strcmp(key, "statsthreshold") == 0) {
        if (nbdkit_parse_int("statsthreshold", value, &r) == -1)
            return -1;
        if (r < 0 || r > 100) {
            nbdkit_error("statsthreshold must be between 0 and 100 (percent)");
            return -1;
        }
        statsthreshold = r;
        return 0;
    }
    return next(nxdata, key, value);
}

#define stats_config_help                                                      \
    "statsfile=<FILE>    (required) The file to write the statistics to.\n"    \
    "statsappend=<BOOL>  True to append to the file (default false).\n"        \
    "statsthreshold=<PERCENTILE>\n"                                            \
    "                    Size and alignment breakdown cut off (default 95)."

static int
stats_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
    if (statsfile == NULL) {
        nbdkit_error("stats filter requires statsfile parameter");
        return -1;
    }
    return next(nxdata);
}

/* Open the file now, so that a bad path stops the server at start. */
static int
stats_get_ready(int thread_model)
{
    out = fopen(statsfile, statsappend ? "a" : "w");
    if (out == NULL) {
        nbdkit_error("open: %s: %m", statsfile);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    return 0;
}

static uint64_t
stats_now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000 + (uint64_t)t.tv_nsec;
}

/* Record one request of kind op, count bytes at offset, that took ns. */
static void
stats_record(int op, uint32_t count, uint64_t offset, uint64_t ns)
{
    struct stat_op *s = &stats[op];
    int bits = count ? 31 - __builtin_clz(count) : 0;
    int align = offset ? __builtin_ctzll(offset) : 64;

    pthread_mutex_lock(&lock);
    s->ops++;
    s->bytes += count;
    s->ns += ns;
    if (s->sized) {
        s->size_ops[bits]++;
        s->size_bytes[bits] += count;
        s->align_ops[bits][align]++;
    }
    pthread_mutex_unlock(&lock);
}

/* ---- the report ---- */

/* v bytes as nbdkit writes them: "512 bytes", "1.50 KiB" ... "GiB". */
static void
stats_human(double v, char *buf, size_t len)
{
    static const char *units[] = {"KiB", "MiB", "GiB"};
    int u = -1;

    if (v < 1024) {
        snprintf(buf, len, "%.0f bytes", v);
        return;
    }
    while (u < 2 && v >= 1024) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.2f %s", v, units[u]);
}

/* The alignment lines of the requests in size bucket b of s: each
 * level where fewer requests are aligned than at the level before,
 * while more than 100-threshold percent of them still are.
 */
static void
stats_print_align(const struct stat_op *s, int b)
{
    uint64_t n = s->size_ops[b], at_least = n, prev = n;
    int k, first = -1;

    for (k = 0; k < ALIGN_BITS && first == -1; k++)
        if (s->align_ops[b][k])
            first = k;
    fprintf(out, "         %2d bit aligned: %5.1f%% (%" PRIu64 ")\n", first,
            100.0, n);
    for (k = first + 1; k < 64; k++) {
        at_least -= s->align_ops[b][k - 1];
        if (at_least == prev)
            continue;
        prev = at_least;
        if (at_least * 100.0 / n <= 100 - statsthreshold)
            break;
        fprintf(out, "         %2d bit aligned: %5.1f%% (%" PRIu64 ")\n", k,
                at_least * 100.0 / n, at_least);
    }
}

/* The size buckets of s, most requests first, until threshold percent
 * of the requests are shown; the rest as "other sizes".
 */
static void
stats_print_sizes(const struct stat_op *s)
{
    bool shown[SIZE_BITS] = {false};
    uint64_t done = 0, done_bytes = 0;
    char h[64];
    int i, b, best;

    fprintf(out, "  Request size and alignment breakdown:\n");
    for (i = 0; i < SIZE_BITS && done * 100.0 < statsthreshold * s->ops; i++) {
        best = -1;
        for (b = 0; b < SIZE_BITS; b++)
            if (!shown[b] && s->size_ops[b] &&
                (best == -1 || s->size_ops[b] > s->size_ops[best]))
                best = b;
        if (best == -1)
            break;
        shown[best] = true;
        done += s->size_ops[best];
        done_bytes += s->size_bytes[best];
        stats_human(s->size_bytes[best], h, sizeof h);
        fprintf(out, "    %2d bits: %4.1f%% (%" PRIu64 " reqs, %s total)\n",
                best, s->size_ops[best] * 100.0 / s->ops, s->size_ops[best], h);
        stats_print_align(s, best);
    }
    if (done < s->ops) {
        stats_human(s->bytes - done_bytes, h, sizeof h);
        fprintf(out, "    other sizes: %4.1f%% (%" PRIu64 " reqs, %s total)\n",
                (s->ops - done) * 100.0 / s->ops, s->ops - done, h);
    }
    fprintf(out, "\n");
}

static void
stats_print_op(const struct stat_op *s, double wall)
{
    char b[64], r[64], t[64];
    double secs = s->ns / 1e9;

    stats_human(s->bytes, b, sizeof b);
    if (s->ns)
        stats_human(s->bytes / secs, r, sizeof r);
    else
        snprintf(r, sizeof r, "(n/a)");
    stats_human(wall > 0 ? s->bytes / wall : 0, t, sizeof t);
    fprintf(out, "%s: %" PRIu64 " ops, %.6f s, %s, %s/s op, %s/s total\n",
            s->name, s->ops, secs, b, r, t);
    if (statsthreshold > 0 && s->sized)
        stats_print_sizes(s);
}

static void
stats_unload(void)
{
    struct timespec end;
    uint64_t ops = 0, bytes = 0;
    double wall;
    char b[64], r[64];
    int i;

    if (out == NULL)
        return;
    clock_gettime(CLOCK_MONOTONIC, &end);
    wall = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    for (i = 0; i < OP_COUNT; i++) {
        if (stats[i].in_total_ops)
            ops += stats[i].ops;
        if (stats[i].in_total_bytes)
            bytes += stats[i].bytes;
    }
    stats_human(bytes, b, sizeof b);
    stats_human(wall > 0 ? bytes / wall : 0, r, sizeof r);
    fprintf(out, "total: %" PRIu64 " ops, %.6f s, %s, %s/s\n", ops, wall, b, r);
    for (i = 0; i < OP_COUNT; i++)
        if (stats[i].ops)
            stats_print_op(&stats[i], wall);
    if (fclose(out) == EOF)
        nbdkit_error("%s: %m", statsfile);
    out = NULL;
}

/* ---- the requests ---- */

static int
stats_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
            uint64_t offs, uint32_t flags, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next->pread(next, buf, count, offs, flags, err);

    if (r == 0)
        stats_record(OP_READ, count, offs, stats_now_ns() - t);
    return r;
}

static int
stats_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
             uint64_t offs, uint32_t flags, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next->pwrite(next, buf, count, offs, flags, err);

    if (r == 0)
        stats_record(OP_WRITE, count, offs, stats_now_ns() - t);
    return r;
}

static int
stats_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
           uint32_t flags, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next->trim(next, count, offs, flags, err);

    if (r == 0)
        stats_record(OP_TRIM, count, offs, stats_now_ns() - t);
    return r;
}

static int
stats_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
           uint32_t flags, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next->zero(next, count, offs, flags, err);

    if (r == 0)
        stats_record(OP_ZERO, count, offs, stats_now_ns() - t);
    return r;
}

static int
stats_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
              uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next->extents(next, count, offs, flags, extents, err);

    if (r == 0)
        stats_record(OP_EXTENTS, count, offs, stats_now_ns() - t);
    return r;
}

static int
stats_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
            uint32_t flags, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next->cache(next, count, offs, flags, err);

    if (r == 0)
        stats_record(OP_CACHE, count, offs, stats_now_ns() - t);
    return r;
}

static int
stats_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next->flush(next, flags, err);

    if (r == 0)
        stats_record(OP_FLUSH, 0, 0, stats_now_ns() - t);
    return r;
}

static struct nbdkit_filter filter = {
    .name = "stats",
    .longname = "nbdx stats filter",
    .unload = stats_unload,
    .config = stats_config,
    .config_complete = stats_config_complete,
    .config_help = stats_config_help,
    .get_ready = stats_get_ready,
    .pread = stats_pread,
    .pwrite = stats_pwrite,
    .trim = stats_trim,
    .zero = stats_zero,
    .extents = stats_extents,
    .cache = stats_cache,
    .flush = stats_flush,
};

NBDKIT_REGISTER_FILTER(filter)

/* ---- nbdx only: the zero-copy calls, counted as pread and pwrite ---- */

static const struct nbdx_next_zc *next_zc; /* set at load, then read-only */

/* The server may describe one READ in several read_iov calls, each for
 * the rest of the request (or as much of it as its pipe holds): the
 * bytes of each call are counted, and one request for the call that
 * covers all it was asked for.
 */
static int64_t
stats_read_iov(void *next, void *handle, uint32_t count, uint64_t offs,
               uint32_t flags, struct nbdx_iovec *iov, size_t max, size_t *n,
               void **cookie, int *err)
{
    uint64_t t = stats_now_ns();
    int64_t got =
        next_zc->read_iov(next, count, offs, flags, iov, max, n, cookie, err);
    uint64_t ns = stats_now_ns() - t;

    if (got == -1)
        return -1;
    if (got == count) {
        stats_record(OP_READ, count, offs, ns);
        return got;
    }
    pthread_mutex_lock(&lock);
    stats[OP_READ].bytes += got; /* the request is counted by a later call */
    stats[OP_READ].ns += ns;
    pthread_mutex_unlock(&lock);
    return got;
}

static void
stats_read_iov_end(void *next, void *handle, void *cookie)
{
    next_zc->read_iov_end(next, cookie);
}

/* Only a read_fd that works is counted: on failure the server reads
 * again through .pread, which counts.
 */
static int
stats_read_fd(void *next, void *handle, uint32_t count, uint64_t offs,
              uint32_t flags, int *fd, uint64_t *fd_offset, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next_zc->read_fd(next, count, offs, flags, fd, fd_offset, err);

    if (r == 0)
        stats_record(OP_READ, count, offs, stats_now_ns() - t);
    return r;
}

/* A staged write, from write_iov to its commit.  Owned by the request;
 * freed by write_iov_end.
 */
struct stats_staged {
    void *cookie; /* the layer below's */
    uint32_t count;
    uint64_t offset;
    uint64_t t; /* stats_now_ns() at the commit */
};

static int
stats_write_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                uint32_t flags, struct nbdx_wiovec *iov, size_t max, size_t *n,
                void **cookie, int *err)
{
    struct stats_staged *s = malloc(sizeof *s);

    if (s == NULL) {
        *err = errno;
        return -1;
    }
    if (next_zc->write_iov(next, count, offs, flags, iov, max, n, &s->cookie,
                           err) == -1) {
        free(s);
        return -1;
    }
    s->count = count;
    s->offset = offs;
    *cookie = s;
    return 0;
}

static int
stats_write_iov_end(void *next, void *handle, void *cookie, int commit,
                    uint32_t flags, int *err)
{
    struct stats_staged *s = cookie;
    uint64_t t = stats_now_ns();
    int r = next_zc->write_iov_end(next, s->cookie, commit, flags, err);

    if (commit && r == 0)
        stats_record(OP_WRITE, s->count, s->offset, stats_now_ns() - t);
    free(s);
    return r;
}

static int
stats_write_pipe(void *next, void *handle, uint32_t count, uint64_t offs,
                 uint32_t flags, int pipe, int *err)
{
    uint64_t t = stats_now_ns();
    int r = next_zc->write_pipe(next, count, offs, flags, pipe, err);

    if (r == 0)
        stats_record(OP_WRITE, count, offs, stats_now_ns() - t);
    return r;
}

static const struct nbdx_filter_extension extension = {
    ._struct_size = sizeof extension,
    ._version = NBDX_FILTER_EXTENSION_VERSION,
    .read_iov = stats_read_iov,
    .read_iov_end = stats_read_iov_end,
    .read_fd = stats_read_fd,
    .write_iov = stats_write_iov,
    .write_iov_end = stats_write_iov_end,
    .write_pipe = stats_write_pipe,
};

NBDX_REGISTER_FILTER_EXTENSION(extension, next_zc)
