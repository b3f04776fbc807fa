/* SPDX-License-Identifier: BSD-3-Clause */
/* extentlist.c: answer block status from a fixed list of extents read
 * from extentlist=FILE at startup, instead of asking the plugin.
 *
 * Each line of the file is "OFFSET LENGTH [TYPE]", the sizes in
 * nbdkit_parse_size's format, TYPE an integer or a comma-separated list
 * of the words "hole" and "zero" (none means 0, allocated data).  The
 * lines may come in any order but must not overlap; blank lines are
 * skipped, and '#' at the start of a field starts a comment.  Whatever
 * no line covers is a hole that reads as zeroes.  A bad line stops the
 * server with an error naming the file and the line.
 *
 * The list is sorted by offset once, in .config_complete, and only read
 * after that: requests of any thread search it without a lock.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "cleanup.h"
#include "vector.h"

#define HOLE_ZERO (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO)

/* Extents added to one reply at most; the client asks again for the
 * rest.  Bounds the work of a request over a huge list.
 */
#define REPLY_EXTENTS_MAX 65536

struct extent {
    uint64_t offset;
    uint64_t end; /* offset + length, > offset */
    uint32_t type;
    size_t line; /* in the file, for errors */
};
DEFINE_VECTOR_TYPE(extent_vector, struct extent)

/* Written by config and config_complete only, then read by every
 * thread.  filename is owned (nbdkit_absolute_path).
 */
static char *filename;
static extent_vector extents = empty_vector; /* by offset, no overlaps */

static void
extentlist_unload(void)
{
    free(filename);
    free(extents.ptr);
}

static int
extentlist_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                  const char *key, const char *value)
{
    if (strcmp(key, "extentlist") == 0) {
        free(filename);
        filename = nbdkit_absolute_path(value);
        return filename == NULL ? -1 : 0;
    }
    return next(nxdata, key, value);
}

#define extentlist_config_help                                                 \
    "extentlist=<FILENAME>  (required) File of extents: offset length type."

/* One word of a type list, of length len, into *type. */
static int
type_word(const char *w, size_t len, uint32_t *type)
{
    if (len == 0)
        return 0;
    if (len == 4 && strncmp(w, "hole", 4) == 0)
        *type |= NBDKIT_EXTENT_HOLE;
    else if (len == 4 && strncmp(w, "zero", 4) == 0)
        *type |= NBDKIT_EXTENT_ZERO;
    else
        return -1;
    return 0;
}

/* The TYPE field: an integer (only the hole and zero bits count, as in
 * the protocol) or words; -1 if it is neither.
 */
static int
type_parse(const char *s, uint32_t *type)
{
    const char *comma;
    char *end;
    unsigned long v;

    *type = 0;
    if (isdigit((unsigned char)s[0])) {
        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno != 0 || *end != '\0' || v > UINT32_MAX)
            return -1;
        *type = v & HOLE_ZERO;
        return 0;
    }
    for (; (comma = strchr(s, ',')) != NULL; s = comma + 1)
        if (type_word(s, comma - s, type) == -1)
            return -1;
    return type_word(s, strlen(s), type);
}

/* A size field of line lineno, which nbdkit_parse_size has explained
 * if it fails.
 */
static int
size_parse(const char *s, const char *what, size_t lineno, uint64_t *out)
{
    int64_t v = nbdkit_parse_size(s);

    if (v == -1) {
        nbdkit_error("%s:%zu: cannot parse the %s", filename, lineno, what);
        return -1;
    }
    *out = v;
    return 0;
}

/* The next field of a line being cut by strtok_r, or NULL at its end or
 * at a '#' that starts a comment.
 */
static char *
field_next(char **save)
{
    char *f = strtok_r(NULL, " \t\r\n\v\f", save);

    return f && f[0] == '#' ? NULL : f;
}

/* Parse one line (NUL-terminated, modified in place) and append its
 * extent, if it has one.
 */
static int
line_parse(char *line, size_t lineno)
{
    char *save, *off, *len, *typ;
    struct extent e = {.line = lineno};
    uint64_t length;

    off = strtok_r(line, " \t\r\n\v\f", &save);
    if (off == NULL || off[0] == '#')
        return 0;
    len = field_next(&save);
    typ = len ? field_next(&save) : NULL;
    if (len == NULL || (typ && field_next(&save) != NULL)) {
        nbdkit_error("%s:%zu: expected \"offset length [type]\"", filename,
                     lineno);
        return -1;
    }
    if (size_parse(off, "offset", lineno, &e.offset) == -1 ||
        size_parse(len, "length", lineno, &length) == -1)
        return -1;
    if (typ && type_parse(typ, &e.type) == -1) {
        nbdkit_error("%s:%zu: type \"%s\" is not a number nor a list of "
                     "\"hole\" and \"zero\"",
                     filename, lineno, typ);
        return -1;
    }
    if (__builtin_add_overflow(e.offset, length, &e.end) || e.end > INT64_MAX) {
        nbdkit_error("%s:%zu: the extent ends beyond 2^63-1", filename, lineno);
        return -1;
    }
    if (length == 0)
        return 0;
    if (extent_vector_append(&extents, e) == -1) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    return 0;
}

static int
file_parse(FILE *fp)
{
    CLEANUP_FREE char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, fp)) != -1) {
        lineno++;
        if (strlen(line) != (size_t)n) {
            nbdkit_error("%s:%zu: NUL byte in the line", filename, lineno);
            return -1;
        }
        if (line_parse(line, lineno) == -1)
            return -1;
    }
    if (ferror(fp)) {
        nbdkit_error("%s: read: %m", filename);
        return -1;
    }
    return 0;
}

static int
extent_compare(const void *a, const void *b)
{
    const struct extent *x = a, *y = b;

    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sort the list and refuse overlapping extents, naming both lines. */
static int
extents_sort(void)
{
    size_t i;

    if (extents.len == 0)
        return 0; /* an empty list: ptr is NULL, which qsort may not get */
    qsort(extents.ptr, extents.len, sizeof *extents.ptr, extent_compare);
    for (i = 1; i < extents.len; i++) {
        if (extents.ptr[i].offset < extents.ptr[i - 1].end) {
            nbdkit_error("%s:%zu: the extent overlaps the one at line %zu",
                         filename, extents.ptr[i].line,
                         extents.ptr[i - 1].line);
            return -1;
        }
    }
    return 0;
}

static int
extentlist_config_complete(nbdkit_next_config_complete *next,
                           nbdkit_backend *nxdata)
{
    FILE *fp;
    int r;

    if (filename == NULL) {
        nbdkit_error("you must supply the extentlist parameter on the "
                     "command line");
        return -1;
    }
    fp = fopen(filename, "r");
    if (fp == NULL) {
        nbdkit_error("%s: %m", filename);
        return -1;
    }
    r = file_parse(fp);
    fclose(fp);
    if (r == -1 || extents_sort() == -1)
        return -1;
    nbdkit_debug("extentlist: %zu extents from %s", extents.len, filename);
    return next(nxdata);
}

static int
extentlist_can_extents(nbdkit_next *next, void *handle)
{
    return 1;
}

/* The index of the first extent ending after offset (extents.len if
 * none): ends ascend because extents are sorted and do not overlap.
 */
static size_t
extents_search(uint64_t offset)
{
    size_t lo = 0, hi = extents.len, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (extents.ptr[mid].end <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Describe [offset, offset+count) from the list, gaps as holes.  With
 * NBDKIT_FLAG_REQ_ONE too: the server merges neighbours of one type and
 * keeps the first run, so a hole made of a gap and a listed hole comes
 * out whole.
 */
static int
extentlist_extents(nbdkit_next *next, void *handle, uint32_t count,
                   uint64_t offset, uint32_t flags, struct nbdkit_extents *out,
                   int *err)
{
    uint64_t pos = offset, end = offset + count, stop;
    size_t i = extents_search(offset), added;
    const struct extent *e;
    uint32_t type;

    for (added = 0; pos < end && added < REPLY_EXTENTS_MAX; added++) {
        e = i < extents.len ? &extents.ptr[i] : NULL;
        if (e && e->offset <= pos) {
            stop = e->end;
            type = e->type;
            i++;
        } else {
            stop = e ? e->offset : end;
            type = HOLE_ZERO;
        }
        if (nbdkit_add_extent(out, pos, stop - pos, type) == -1) {
            *err = errno;
            return -1;
        }
        pos = stop;
    }
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "extentlist",
    .longname = "nbdx extentlist filter",
    .unload = extentlist_unload,
    .config = extentlist_config,
    .config_complete = extentlist_config_complete,
    .config_help = extentlist_config_help,
    .can_extents = extentlist_can_extents,
    .extents = extentlist_extents,
};

NBDKIT_REGISTER_FILTER(filter)
