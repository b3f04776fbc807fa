/* SPDX-License-Identifier: BSD-3-Clause */
/* ddrescue.c: serve an image rescued by GNU ddrescue, failing reads of
 * the blocks its mapfile does not mark as finished.
 *
 * ddrescue-mapfile=FILE is read once, at config_complete: comment lines
 * ('#'), the status line ("current_pos current_status [current_pass]"),
 * then one "pos size status" line per block, in ascending order, not
 * overlapping.  Only blocks with status '+' (finished) are kept, merged
 * when adjacent.  A read (or a zero-copy read) that is not wholly inside
 * finished bytes fails with EIO, so a client sees a bad sector rather
 * than the zeroes ddrescue left in the image.  The export is read-only,
 * and cache requests are not offered (they would read bad blocks).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

#include "vector.h"

#define LINE_MAX_LEN 1024 /* longer mapfile lines are refused */

/* Finished bytes [start, end). */
struct range {
    uint64_t start, end;
};
DEFINE_VECTOR_TYPE(range_vector, struct range);

/* Set by config, parsed at config_complete, then only read, by every
 * thread: no lock.
 */
static char *mapfile;                    /* ddrescue-mapfile=, owned */
static range_vector good = empty_vector; /* sorted, merged, disjoint */

/* The parser's state while reading the mapfile. */
struct parse {
    const char *file;
    unsigned line;     /* current line number, from 1 */
    bool seen_status;  /* the status line has been read */
    uint64_t next_pos; /* the lowest position the next block may start at */
};

static void
ddrescue_unload(void)
{
    free(mapfile);
    range_vector_reset(&good);
}

static int
ddrescue_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                const char *key, const char *value)
{
    if (strcmp(key, "ddrescue-mapfile") != 0)
        return next(nxdata, key, value);
    if (mapfile != NULL) {
        nbdkit_error("ddrescue-mapfile given more than once");
        return -1;
    }
    mapfile = strdup(value);
    if (mapfile == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    return 0;
}

#define ddrescue_config_help                                                   \
    "ddrescue-mapfile=<FILE>    (required) The GNU ddrescue mapfile."

/* Parse an unsigned number (decimal, 0octal or 0xhex), all of TOK. */
static int
ddrescue_parse_number(const char *tok, uint64_t *out)
{
    char *end;

    if (tok[0] < '0' || tok[0] > '9')
        return -1;
    errno = 0;
    *out = strtoull(tok, &end, 0);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/* A status token: one character of ALLOWED. */
static bool
ddrescue_is_status(const char *tok, const char *allowed)
{
    return tok[0] != '\0' && tok[1] == '\0' && strchr(allowed, tok[0]) != NULL;
}

/* Split LINE (modified) into at most max tokens at blanks; returns how
 * many, or max + 1 if there are more.
 */
static size_t
ddrescue_split(char *line, char **tok, size_t max)
{
    size_t n = 0;
    char *save = NULL, *t;

    for (t = strtok_r(line, " \t\r\n", &save); t != NULL;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max)
            return max + 1;
        tok[n++] = t;
    }
    return n;
}

/* Add finished bytes [start, end), merging with the last range. */
static int
ddrescue_add_good(uint64_t start, uint64_t end)
{
    if (good.len > 0 && good.ptr[good.len - 1].end == start) {
        good.ptr[good.len - 1].end = end;
        return 0;
    }
    if (range_vector_append(&good, (struct range){start, end}) == -1) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    return 0;
}

static int
ddrescue_parse_status(struct parse *p, char **tok, size_t n)
{
    uint64_t v;

    if (n < 2 || n > 3 || ddrescue_parse_number(tok[0], &v) == -1 ||
        !ddrescue_is_status(tok[1], "?*/-FGR+") ||
        (n == 3 && ddrescue_parse_number(tok[2], &v) == -1)) {
        nbdkit_error("%s:%u: not a ddrescue status line "
                     "(current_pos current_status [current_pass])",
                     p->file, p->line);
        return -1;
    }
    p->seen_status = true;
    return 0;
}

static int
ddrescue_parse_block(struct parse *p, char **tok, size_t n)
{
    uint64_t pos, size;

    if (n != 3 || ddrescue_parse_number(tok[0], &pos) == -1 ||
        ddrescue_parse_number(tok[1], &size) == -1 ||
        !ddrescue_is_status(tok[2], "?*/-+")) {
        nbdkit_error("%s:%u: not a ddrescue block line (pos size status, "
                     "status one of + - * / ?)",
                     p->file, p->line);
        return -1;
    }
    if (size > UINT64_MAX - pos) {
        nbdkit_error("%s:%u: block %s + %s overflows", p->file, p->line, tok[0],
                     tok[1]);
        return -1;
    }
    if (pos < p->next_pos) {
        nbdkit_error("%s:%u: block at %s overlaps or precedes the block "
                     "before it",
                     p->file, p->line, tok[0]);
        return -1;
    }
    p->next_pos = pos + size;
    if (tok[2][0] != '+' || size == 0)
        return 0;
    return ddrescue_add_good(pos, pos + size);
}

/* One line of the mapfile, without its newline. */
static int
ddrescue_parse_line(struct parse *p, char *line)
{
    char *tok[4];
    size_t n;

    line += strspn(line, " \t\r");
    if (line[0] == '#' || line[0] == '\0')
        return 0;
    n = ddrescue_split(line, tok, 3);
    if (!p->seen_status)
        return ddrescue_parse_status(p, tok, n);
    return ddrescue_parse_block(p, tok, n);
}

/* Read one line into buf (at most LINE_MAX_LEN bytes, without its
 * newline).  Returns 1, 0 at the end of the file, -1 after nbdkit_error.
 */
static int
ddrescue_read_line(struct parse *p, FILE *fp, char *buf)
{
    size_t len = 0;
    int c;

    while ((c = getc(fp)) != EOF && c != '\n') {
        if (c == '\0') {
            nbdkit_error("%s:%u: NUL byte in the mapfile", p->file,
                         p->line + 1);
            return -1;
        }
        if (len == LINE_MAX_LEN) {
            nbdkit_error("%s:%u: line too long", p->file, p->line + 1);
            return -1;
        }
        buf[len++] = c;
    }
    if (c == EOF && ferror(fp)) {
        nbdkit_error("%s: read: %m", p->file);
        return -1;
    }
    if (c == EOF && len == 0)
        return 0;
    buf[len] = '\0';
    p->line++;
    return 1;
}

static int
ddrescue_parse_stream(struct parse *p, FILE *fp)
{
    char buf[LINE_MAX_LEN + 1];
    int r;

    while ((r = ddrescue_read_line(p, fp, buf)) == 1)
        if (ddrescue_parse_line(p, buf) == -1)
            return -1;
    if (r == -1)
        return -1;
    if (!p->seen_status) {
        nbdkit_error("%s: not a ddrescue mapfile: no status line", p->file);
        return -1;
    }
    return 0;
}

static int
ddrescue_parse_mapfile(const char *file)
{
    struct parse p = {.file = file};
    FILE *fp;
    int r;

    fp = fopen(file, "r");
    if (fp == NULL) {
        nbdkit_error("%s: %m", file);
        return -1;
    }
    r = ddrescue_parse_stream(&p, fp);
    fclose(fp);
    if (r == 0)
        nbdkit_debug("ddrescue: %s: %zu finished ranges", file, good.len);
    return r;
}

static int
ddrescue_config_complete(nbdkit_next_config_complete *next,
                         nbdkit_backend *nxdata)
{
    if (mapfile == NULL) {
        nbdkit_error("you must supply the ddrescue-mapfile parameter");
        return -1;
    }
    if (ddrescue_parse_mapfile(mapfile) == -1)
        return -1;
    return next(nxdata);
}

/* Whether [offs, offs + count) lies wholly inside one finished range. */
static bool
ddrescue_is_good(uint32_t count, uint64_t offs)
{
    size_t lo = 0, hi = good.len, mid;

    /* The last range starting at or before offs. */
    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;
        if (good.ptr[mid].start <= offs)
            lo = mid;
        else
            hi = mid;
    }
    if (good.len == 0 || good.ptr[lo].start > offs)
        return false;
    return offs < good.ptr[lo].end && count <= good.ptr[lo].end - offs;
}

/* 0 if the read may go ahead, else -1 with *err = EIO. */
static int
ddrescue_check(uint32_t count, uint64_t offs, int *err)
{
    if (ddrescue_is_good(count, offs))
        return 0;
    nbdkit_debug("ddrescue: read of %" PRIu32 " bytes at %" PRIu64
                 " touches unrescued blocks",
                 count, offs);
    *err = EIO;
    return -1;
}

static int
ddrescue_can_write(nbdkit_next *next, void *handle)
{
    return 0;
}

static int
ddrescue_can_cache(nbdkit_next *next, void *handle)
{
    return NBDKIT_CACHE_NONE;
}

static int
ddrescue_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
               uint64_t offs, uint32_t flags, int *err)
{
    if (ddrescue_check(count, offs, err) == -1)
        return -1;
    return next->pread(next, buf, count, offs, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "ddrescue",
    .longname = "nbdx ddrescue filter",
    .unload = ddrescue_unload,
    .config = ddrescue_config,
    .config_complete = ddrescue_config_complete,
    .config_help = ddrescue_config_help,
    .can_write = ddrescue_can_write,
    .can_cache = ddrescue_can_cache,
    .pread = ddrescue_pread,
};

NBDKIT_REGISTER_FILTER(filter)

/* nbdx only: zero-copy reads, after the same check. */
static const struct nbdx_next_zc *next_zc; /* set at load, then read-only */

static int64_t
ddrescue_read_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                  uint32_t flags, struct nbdx_iovec *iov, size_t max, size_t *n,
                  void **cookie, int *err)
{
    if (ddrescue_check(count, offs, err) == -1)
        return -1;
    return next_zc->read_iov(next, count, offs, flags, iov, max, n, cookie,
                             err);
}

static void
ddrescue_read_iov_end(void *next, void *handle, void *cookie)
{
    next_zc->read_iov_end(next, cookie);
}

static int
ddrescue_read_fd(void *next, void *handle, uint32_t count, uint64_t offs,
                 uint32_t flags, int *fd, uint64_t *fd_offset, int *err)
{
    if (ddrescue_check(count, offs, err) == -1)
        return -1;
    return next_zc->read_fd(next, count, offs, flags, fd, fd_offset, err);
}

static const struct nbdx_filter_extension extension = {
    ._struct_size = sizeof extension,
    ._version = NBDX_FILTER_EXTENSION_VERSION,
    .read_iov = ddrescue_read_iov,
    .read_iov_end = ddrescue_read_iov_end,
    .read_fd = ddrescue_read_fd,
};

NBDX_REGISTER_FILTER_EXTENSION(extension, next_zc)
