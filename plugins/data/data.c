/* SPDX-License-Identifier: BSD-3-Clause */
/* data: a RAM disk that starts out holding the bytes given on the
 * command line (see nbdx-data-plugin(1)).
 *
 * The data (data=, raw= or base64=) is evaluated once, in get_ready,
 * into the memory plugin's sparse array; from then on this is a RAM
 * disk like the memory plugin: the array does its own locking, so
 * requests run in parallel.
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "format.h"
#include "sparse.h"

enum source { SRC_NONE, SRC_DATA, SRC_RAW, SRC_BASE64 };

static enum source source;        /* which of data=, raw=, base64= */
static const char *source_value;  /* its value, owned by the server */
static int sources;               /* how many were given */
static int64_t size = -1;         /* size=SIZE, or -1: the data's size */
static struct sparse_array *disk; /* created by config_complete */

/* Every other KEY=VALUE, for $KEY in the data; the strings are the
 * server's, valid until unload.
 */
struct var {
    const char *key, *value;
};
static struct var *vars;
static size_t nvars;

static int
data_add_var(const char *key, const char *value)
{
    struct var *n = realloc(vars, (nvars + 1) * sizeof *n);

    if (n == NULL) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    vars = n;
    vars[nvars++] = (struct var){key, value};
    return 0;
}

/* The last definition of name wins, as for the server's own keys. */
static const char *
data_lookup_var(void *opaque, const char *name)
{
    for (size_t k = nvars; k > 0; k--)
        if (strcmp(vars[k - 1].key, name) == 0)
            return vars[k - 1].value;
    return NULL;
}

static int
data_config(const char *key, const char *value)
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
    if (strcmp(key, "data") == 0 || strcmp(key, "raw") == 0 ||
        strcmp(key, "base64") == 0) {
        source = key[0] == 'd'   ? SRC_DATA
                 : key[0] == 'r' ? SRC_RAW
                                 : SRC_BASE64;
        source_value = value;
        sources++;
        return 0;
    }
    return data_add_var(key, value);
}

/* Base64 (RFC 4648, padding optional, no whitespace). */

static int
base64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;

    return p ? (int)(p - alphabet) : -1;
}

/* Decodes s into a new buffer *out of *len bytes; -1 if s is not base64. */
static int
base64_decode(const char *s, unsigned char **out, size_t *len)
{
    size_t n = strlen(s), k, bits = 0;
    uint32_t acc = 0;
    unsigned char *mem;

    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1 || strlen(s) - n > 2)
        return -1;
    mem = malloc(n * 3 / 4 + 1);
    if (mem == NULL)
        return -1;
    *len = 0;
    for (k = 0; k < n; k++) {
        int v = base64_value(s[k]);

        if (v == -1) {
            free(mem);
            return -1;
        }
        acc = acc << 6 | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            mem[(*len)++] = acc >> bits;
        }
    }
    *out = mem;
    return 0;
}

/* Writes [off, off + len) of seg into the disk; -1 on ENOMEM. */
static int
data_write_seg(const struct data_seg *s, uint64_t off, uint64_t len)
{
    static unsigned char fill[1 << 20];
    uint32_t n;

    if (s->buf == NULL && s->fill != 0)
        memset(fill, s->fill, sizeof fill);
    for (; len > 0; off += n, len -= n) {
        const unsigned char *src = fill;

        n = len < sizeof fill ? len : sizeof fill;
        if (s->buf)
            src = s->buf->data + s->boff + (off - s->off);
        if (s->buf == NULL && s->fill == 0)
            sparse_array_zero(disk, n, off);
        else if (sparse_array_write(disk, src, n, off) == -1)
            return -1;
    }
    return 0;
}

/* Writes the blob's segments that lie below end into the disk. */
static int
data_store(const struct data_blob *b, uint64_t end)
{
    for (size_t k = 0; k < b->nsegs; k++) {
        const struct data_seg *s = &b->segs[k];
        uint64_t len = s->len;

        if (s->off >= end)
            continue;
        if (len > end - s->off)
            len = end - s->off;
        if (data_write_seg(s, s->off, len) == -1) {
            nbdkit_error("writing the disk: %m");
            return -1;
        }
    }
    return 0;
}

/* Stores the bytes of raw= or base64= in the disk; their count in *len. */
static int
data_store_bytes(uint64_t *len)
{
    struct data_buf buf = {.ref = 1};
    struct data_seg seg = {.buf = &buf};
    struct data_blob b = {.segs = &seg, .nsegs = 1};
    unsigned char *mem;
    int r;

    if (source == SRC_RAW) {
        mem = (unsigned char *)strdup(source_value);
        buf.len = strlen(source_value);
        if (mem == NULL) {
            nbdkit_error("strdup: %m");
            return -1;
        }
    } else if (base64_decode(source_value, &mem, &buf.len) == -1) {
        nbdkit_error("base64: Base64 decoding error.");
        return -1;
    }
    buf.data = mem;
    seg.len = b.size = *len = buf.len;
    r = data_store(&b, size == -1 ? buf.len : (uint64_t)size);
    free(mem);
    return r;
}

/* Stores the data= expression in the disk; its size in *len. */
static int
data_store_format(uint64_t *len)
{
    struct data_blob b;
    int r;

    if (data_format_parse(source_value, data_lookup_var, NULL, &b) == -1)
        return -1;
    *len = b.size;
    r = data_store(&b, size == -1 ? b.size : (uint64_t)size);
    data_blob_clear(&b);
    return r;
}

static int
data_config_complete(void)
{
    if (sources != 1) {
        nbdkit_error("exactly one of data=, raw= or base64= must be given "
                     "(%d were)",
                     sources);
        return -1;
    }
    return 0;
}

/* The data is evaluated (scripts run, files read) once the server is
 * configured, as nbdkit does it.
 */
static int
data_get_ready(void)
{
    uint64_t len;

    disk = sparse_array_new();
    if (disk == NULL) {
        nbdkit_error("sparse_array_new: %m");
        return -1;
    }
    if ((source == SRC_DATA ? data_store_format(&len)
                            : data_store_bytes(&len)) == -1)
        return -1;
    if (size == -1)
        size = len;
    return 0;
}

static void
data_unload(void)
{
    sparse_array_free(disk);
    free(vars);
}

static void
data_dump_plugin(void)
{
    printf("data_base64=yes\n");
}

static void *
data_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
data_get_size(void *handle)
{
    return size;
}

/* Every connection sees the same array at once. */
static int
data_can_multi_conn(void *handle)
{
    return 1;
}

/* Nothing is ever volatile: FUA, flush and cache have nothing to do. */
static int
data_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
data_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

static int
data_can_fast_zero(void *handle)
{
    return 1;
}

static int
data_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    sparse_array_read(disk, buf, count, offset);
    return 0;
}

static int
data_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    if (sparse_array_write(disk, buf, count, offset) == -1) {
        nbdkit_error("pwrite: %m");
        return -1;
    }
    return 0;
}

static int
data_flush(void *handle, uint32_t flags)
{
    return 0;
}

/* Zeroing frees whole pages, so trim and (fast) zero are the same. */
static int
data_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    sparse_array_zero(disk, count, offset);
    return 0;
}

static int
data_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    sparse_array_zero(disk, count, offset);
    return 0;
}

static int
data_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

static int
data_add_extent(void *extents, uint64_t offset, uint64_t length, int state)
{
    uint32_t type = 0;

    if (state == SPARSE_HOLE)
        type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
    else if (state == SPARSE_ZERO)
        type = NBDKIT_EXTENT_ZERO;
    return nbdkit_add_extent(extents, offset, length, type);
}

static int
data_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents)
{
    return sparse_array_extents(disk, count, offset, data_add_extent, extents);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "data",
    .longname = "nbdx data plugin",
    .version = PACKAGE_VERSION,
    .description = "A RAM disk initialised with data given on the command "
                   "line.",
    .magic_config_key = "data",
    .config = data_config,
    .config_complete = data_config_complete,
    .config_help =
        "data=<DATA>  The disk data, in the data format (see the man page).\n"
        "raw=<BINARY>  The disk data, as the bytes of the string.\n"
        "base64=<BASE64>  The disk data, base64-encoded.\n"
        "size=<SIZE>  Truncate or extend the data to this size.\n"
        "allocator=sparse  The sparse page allocator (the only one).\n"
        "KEY=VALUE  Defines $KEY for the data format.",
    .get_ready = data_get_ready,
    .unload = data_unload,
    .dump_plugin = data_dump_plugin,
    .open = data_open,
    .get_size = data_get_size,
    .can_multi_conn = data_can_multi_conn,
    .can_fua = data_can_fua,
    .can_cache = data_can_cache,
    .can_fast_zero = data_can_fast_zero,
    .pread = data_pread,
    .pwrite = data_pwrite,
    .flush = data_flush,
    .trim = data_trim,
    .zero = data_zero,
    .cache = data_cache,
    .extents = data_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
