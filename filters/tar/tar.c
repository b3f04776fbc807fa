/* SPDX-License-Identifier: BSD-3-Clause */
/* tar.c: serve one file inside an uncompressed tar archive.
 *
 * prepare walks the archive's headers through the layer below, once per
 * connection, until it finds the regular file named tar-entry=, and
 * places the connection's window on that file's bytes; after that every
 * call is common/window's (shifted, bounded by the file's size,
 * zero-copy included), so reads and writes stay inside the file.
 *
 * Formats: v7, ustar (prefix + name), GNU (long names in 'L' records,
 * base-256 sizes) and POSIX pax ('x' records with path= and size=).
 * Every field is checked: a header with a bad checksum, a number that
 * does not parse, a record or a file running past the end of the
 * archive, or an archive ending without its end block fail the
 * connection with a message saying where, never more.  Metadata records
 * ('L', 'x') are read into memory up to TAR_META_MAX bytes.  With
 * tar-limit=SIZE only headers inside the first SIZE bytes are looked at.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

#include "window.h"

#define BLOCK 512
#define TAR_META_MAX (1 << 20) /* longest 'L' or 'x' record read */

/* Set by config, then only read, by every thread: no lock. */
static char *entry;        /* tar-entry=, owned; required */
static uint64_t tar_limit; /* tar-limit=, 0 = the whole archive */

/* nbdx only: the zero-copy calls of the layer below, which the window's
 * callbacks use.
 */
static const struct nbdx_next_zc *next_zc; /* set at load, then read-only */

/* What the metadata records before a header say about it. */
struct pending {
    char *name;    /* from 'L' or pax path=, owned; NULL if none */
    bool has_size; /* pax size= was given */
    uint64_t size;
    bool sparse; /* pax GNU.sparse.* keys: the data is a sparse map */
};

/* One header, decoded. */
struct member {
    uint64_t pos;  /* where the header starts in the archive */
    char type;     /* the typeflag, '0' for '\0' */
    uint64_t size; /* bytes of data following the header */
    char *name;    /* owned */
};

static void
tar_unload(void)
{
    free(entry);
}

static int
tar_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
           const char *value)
{
    int64_t r;

    if (strcmp(key, "tar-entry") == 0) {
        free(entry);
        entry = strdup(value);
        if (entry == NULL) {
            nbdkit_error("strdup: %m");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "tar-limit") == 0) {
        r = nbdkit_parse_size(value);
        if (r == -1)
            return -1;
        tar_limit = r;
        return 0;
    }
    if (strcmp(key, "tar") == 0) /* nbdkit's tar program: not needed */
        return 0;
    return next(nxdata, key, value);
}

static int
tar_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
    if (entry == NULL || entry[0] == '\0') {
        nbdkit_error("you must supply the tar-entry parameter");
        return -1;
    }
    return next(nxdata);
}

#define tar_config_help                                                        \
    "tar-entry=<PATH>     (required) The file inside the tarball to serve.\n"  \
    "tar-limit=<SIZE>     Look for it in the first SIZE bytes only "           \
    "(default 0, no limit).\n"                                                 \
    "tar=<PROGRAM>        Accepted for nbdkit; nbdx does not run tar."

/* Read count bytes at offs of the archive; -1 after nbdkit_error. */
static int
tar_read(nbdkit_next *next, void *buf, uint32_t count, uint64_t offs)
{
    int err;

    if (next->pread(next, buf, count, offs, 0, &err) == -1) {
        nbdkit_error("reading the tarball at %" PRIu64 ": %s", offs,
                     strerror(err));
        return -1;
    }
    return 0;
}

/* An octal field of len bytes: optional leading blanks, digits, then
 * blanks or NULs to the end.  -1 if it is anything else.
 */
static int
tar_parse_octal(const unsigned char *f, size_t len, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    bool digits = false;

    while (i < len && f[i] == ' ')
        i++;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v > (UINT64_MAX >> 3))
            return -1;
        v = v << 3 | (f[i] - '0');
        digits = true;
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return -1;
    if (!digits)
        return -1;
    *out = v;
    return 0;
}

/* A number field: octal, or GNU base-256 (first byte 0x80, then a
 * big-endian number; 0xff, negative, is refused).  The result is below
 * 2^63.
 */
static int
tar_parse_number(const unsigned char *f, size_t len, uint64_t *out)
{
    uint64_t v;
    size_t i;

    if (f[0] == 0x80) {
        for (i = 1, v = 0; i < len; i++) {
            if (v > (UINT64_MAX >> 8))
                return -1;
            v = v << 8 | f[i];
        }
    } else if (tar_parse_octal(f, len, &v) == -1)
        return -1;
    if (v > INT64_MAX)
        return -1;
    *out = v;
    return 0;
}

/* The checksum: the sum of the header's bytes with the checksum field
 * counted as blanks.  Old tars summed signed chars; both are accepted.
 */
static bool
tar_checksum_ok(const unsigned char *h)
{
    uint64_t stored, usum = 0;
    int64_t ssum = 0;
    size_t i;

    if (tar_parse_octal(h + 148, 8, &stored) == -1)
        return false;
    for (i = 0; i < BLOCK; i++) {
        unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c;
    }
    return stored == usum || (int64_t)stored == ssum;
}

static bool
tar_is_zero(const unsigned char *h)
{
    size_t i;

    for (i = 0; i < BLOCK; i++)
        if (h[i] != 0)
            return false;
    return true;
}

/* A string field of at most len bytes, NUL-terminated if shorter. */
static size_t
tar_field_len(const unsigned char *f, size_t len)
{
    const unsigned char *nul = memchr(f, '\0', len);

    return nul ? (size_t)(nul - f) : len;
}

/* The name in the header itself: ustar's prefix/name, or just name. */
static char *
tar_header_name(const unsigned char *h)
{
    bool ustar = memcmp(h + 257, "ustar\0", 6) == 0;
    size_t nlen = tar_field_len(h, 100);
    size_t plen = ustar ? tar_field_len(h + 345, 155) : 0;
    char *s = malloc(plen + 1 + nlen + 1), *p = s;

    if (s == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    if (plen > 0) {
        memcpy(p, h + 345, plen);
        p += plen;
        *p++ = '/';
    }
    memcpy(p, h, nlen);
    p[nlen] = '\0';
    return s;
}

/* The offset of the block after a member of size bytes whose header is
 * at pos; -1 if it would overflow.
 */
static int
tar_next_pos(uint64_t pos, uint64_t size, uint64_t *out)
{
    uint64_t data = (size + BLOCK - 1) / BLOCK * BLOCK;

    if (size > INT64_MAX || pos > INT64_MAX - BLOCK - data)
        return -1;
    *out = pos + BLOCK + data;
    return 0;
}

/* Read the data of a metadata record (m) into a new NUL-terminated
 * buffer; NULL after nbdkit_error.
 */
static char *
tar_read_meta(nbdkit_next *next, const struct member *m, uint64_t end)
{
    char *buf;

    if (m->size > TAR_META_MAX) {
        nbdkit_error("tar header at %" PRIu64 ": a '%c' record of %" PRIu64
                     " bytes is larger than %d bytes",
                     m->pos, m->type, m->size, TAR_META_MAX);
        return NULL;
    }
    if (m->size > end - m->pos - BLOCK) {
        nbdkit_error("truncated tarball: the '%c' record at %" PRIu64
                     " runs past the end",
                     m->type, m->pos);
        return NULL;
    }
    buf = malloc(m->size + 1);
    if (buf == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    if (m->size > 0 && tar_read(next, buf, m->size, m->pos + BLOCK) == -1) {
        free(buf);
        return NULL;
    }
    buf[m->size] = '\0';
    return buf;
}

/* One pax record's key=value (value has vlen bytes, may hold NULs). */
static int
tar_pax_keyword(struct pending *p, const struct member *m, const char *key,
                const char *value, size_t vlen)
{
    char *end;

    if (strncmp(key, "GNU.sparse.", 11) == 0)
        p->sparse = true;
    /* GNU.sparse.name: the real name of a sparse file, refused later. */
    if (strcmp(key, "path") == 0 || strcmp(key, "GNU.sparse.name") == 0) {
        free(p->name);
        p->name = strndup(value, vlen);
        if (p->name == NULL) {
            nbdkit_error("strndup: %m");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "size") == 0) {
        errno = 0;
        p->size = strtoull(value, &end, 10);
        if (vlen == 0 || value[0] < '0' || value[0] > '9' || errno != 0 ||
            end != value + vlen || p->size > INT64_MAX) {
            nbdkit_error("pax header at %" PRIu64 ": bad size=%.*s", m->pos,
                         (int)(vlen > 40 ? 40 : vlen), value);
            return -1;
        }
        p->has_size = true;
        return 0;
    }
    return 0;
}

/* Parse the records "LEN key=value\n" of a pax 'x' header (len bytes at
 * buf, NUL-terminated).
 */
static int
tar_parse_pax(struct pending *p, const struct member *m, char *buf, size_t len)
{
    size_t at = 0, rlen;
    char *rec, *sp, *eq, *end;

    while (at < len) {
        rec = buf + at;
        errno = 0;
        rlen = strtoul(rec, &end, 10);
        if (rec[0] < '1' || rec[0] > '9' || errno != 0 || *end != ' ' ||
            rlen > len - at || rlen <= (size_t)(end + 1 - rec) ||
            rec[rlen - 1] != '\n') {
            nbdkit_error("pax header at %" PRIu64 ": malformed record at "
                         "byte %zu",
                         m->pos, at);
            return -1;
        }
        sp = end + 1;
        eq = memchr(sp, '=', rec + rlen - 1 - sp);
        if (eq == NULL || eq == sp) {
            nbdkit_error("pax header at %" PRIu64 ": record at byte %zu "
                         "has no key=value",
                         m->pos, at);
            return -1;
        }
        *eq = '\0';
        if (tar_pax_keyword(p, m, sp, eq + 1, rec + rlen - 1 - (eq + 1)) == -1)
            return -1;
        at += rlen;
    }
    return 0;
}

/* Fold a metadata record into p; types other than 'L' and 'x' are
 * skipped.
 */
static int
tar_metadata(nbdkit_next *next, struct pending *p, const struct member *m,
             uint64_t end)
{
    char *buf;
    int r = 0;

    if (m->type != 'L' && m->type != 'x')
        return 0;
    buf = tar_read_meta(next, m, end);
    if (buf == NULL)
        return -1;
    if (m->type == 'L') {
        free(p->name);
        p->name = buf; /* up to the first NUL */
        return 0;
    }
    r = tar_parse_pax(p, m, buf, m->size);
    free(buf);
    return r;
}

static bool
tar_is_metadata(char type)
{
    /* GNU long name and link name, pax local and global headers. */
    return type == 'L' || type == 'K' || type == 'x' || type == 'g';
}

/* Decode the header h at pos into m, applying p.  -1 after
 * nbdkit_error.
 */
static int
tar_decode(const unsigned char *h, uint64_t pos, struct pending *p,
           struct member *m)
{
    m->pos = pos;
    m->type = h[156] == '\0' ? '0' : (char)h[156];
    if (!tar_checksum_ok(h)) {
        nbdkit_error("corrupt tarball: bad checksum in the header at %" PRIu64,
                     pos);
        return -1;
    }
    if (tar_parse_number(h + 124, 12, &m->size) == -1) {
        nbdkit_error("corrupt tarball: bad size field in the header at "
                     "%" PRIu64,
                     pos);
        return -1;
    }
    if (tar_is_metadata(m->type)) {
        m->name = NULL;
        return 0;
    }
    if (p->has_size)
        m->size = p->size;
    if (p->name != NULL) {
        m->name = p->name;
        p->name = NULL;
    } else if ((m->name = tar_header_name(h)) == NULL)
        return -1;
    return 0;
}

/* The member found is the entry: check it can be served and place the
 * window on its data.
 */
static int
tar_place(struct window *w, const struct member *m, const struct pending *p,
          uint64_t end)
{
    if (m->type != '0' && m->type != '7' && m->type != 'S') {
        nbdkit_error("tar entry %s (header at %" PRIu64 ") is not a regular "
                     "file (type 0x%02x)",
                     entry, m->pos, (unsigned char)m->type);
        return -1;
    }
    if (p->sparse || m->type == 'S') {
        nbdkit_error("tar entry %s is a GNU sparse file, which cannot be "
                     "served in place",
                     entry);
        return -1;
    }
    if (window_place(w, m->pos + BLOCK, m->size, end) == -1) {
        nbdkit_error("truncated tarball: tar entry %s (%" PRIu64 " bytes "
                     "from %" PRIu64 ") runs past the end of the tarball "
                     "(%" PRIu64 " bytes)",
                     entry, m->size, m->pos + BLOCK, end);
        return -1;
    }
    nbdkit_debug("tar: entry %s: %" PRIu64 " bytes at offset %" PRIu64, entry,
                 m->size, m->pos + BLOCK);
    return 0;
}

/* Step over one member at pos: 1 and *pos moved on, 0 if it was the
 * entry (the window placed), -1 after nbdkit_error.
 */
static int
tar_step(nbdkit_next *next, struct window *w, struct pending *p, uint64_t *pos,
         uint64_t end)
{
    unsigned char h[BLOCK];
    struct member m;
    bool found;

    if (tar_read(next, h, BLOCK, *pos) == -1)
        return -1;
    if (tar_is_zero(h)) {
        nbdkit_error("tar entry %s not found in the tarball", entry);
        return -1;
    }
    if (tar_decode(h, *pos, p, &m) == -1)
        return -1;
    if (tar_is_metadata(m.type)) {
        if (tar_metadata(next, p, &m, end) == -1)
            return -1;
    } else {
        found = strcmp(m.name, entry) == 0;
        free(m.name);
        if (found)
            return tar_place(w, &m, p, end);
        p->has_size = p->sparse = false;
    }
    if (tar_next_pos(*pos, m.size, pos) == -1 || *pos > end) {
        nbdkit_error("truncated tarball: the member at %" PRIu64
                     " runs past the end",
                     m.pos);
        return -1;
    }
    return 1;
}

/* Find the entry in an archive of end bytes. */
static int
tar_find(nbdkit_next *next, struct window *w, uint64_t end)
{
    struct pending p = {.name = NULL};
    uint64_t pos = 0;
    int r;

    for (;;) {
        if (tar_limit > 0 && (pos > tar_limit || tar_limit - pos < BLOCK)) {
            nbdkit_error("tar entry %s not found in the first %" PRIu64
                         " bytes of the tarball (tar-limit)",
                         entry, tar_limit);
            r = -1;
            break;
        }
        if (end - pos < BLOCK) {
            nbdkit_error("tar entry %s not found: the tarball ends at %" PRIu64
                         " without an end-of-archive block (truncated?)",
                         entry, end);
            r = -1;
            break;
        }
        r = tar_step(next, w, &p, &pos, end);
        if (r != 1)
            break;
    }
    free(p.name);
    return r;
}

static void *
tar_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
         const char *exportname, int is_tls)
{
    void *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = window_new(sizeof(struct window), next_zc);
    if (h == NULL)
        nbdkit_error("calloc: %m");
    return h;
}

static int
tar_prepare(nbdkit_next *next, void *handle, int readonly)
{
    int64_t size = next->get_size(next);

    if (size == -1)
        return -1;
    return tar_find(next, handle, size);
}

static struct nbdkit_filter filter = {
    .name = "tar",
    .longname = "nbdx tar filter",
    .unload = tar_unload,
    .config = tar_config,
    .config_complete = tar_config_complete,
    .config_help = tar_config_help,
    .open = tar_open,
    .close = window_free,
    .prepare = tar_prepare,
    WINDOW_FILTER_CALLBACKS,
};

NBDKIT_REGISTER_FILTER(filter)

/* nbdx only: the zero-copy calls pass through with the same shift. */
WINDOW_REGISTER_EXTENSION(next_zc)
