/* SPDX-License-Identifier: BSD-3-Clause */
/* exports.c: the sh and eval plugins' list_exports, default_export and
 * block_size methods, whose scripts print lists and numbers that are
 * parsed here (the formats are in nbdx-sh-plugin(1)).
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "methods.h"

/* The lines of a script's output, cut in place: the newlines of the
 * buffer become NULs.  A final newline ends the last line, it does not
 * start an empty one.  As nbdkit does, list_exports ignores a last line
 * without its newline, default_export takes it.  LINES is owned; the
 * strings point into the buffer.
 */
struct sh_lines {
    char **lines;
    size_t n;
};

static int
sh_lines_split(char *out, size_t len, bool unterminated, struct sh_lines *l)
{
    size_t i, max = 1;

    for (i = 0; i < len; i++)
        max += out[i] == '\n';
    l->n = 0;
    l->lines = malloc(max * sizeof *l->lines);
    if (l->lines == NULL) {
        nbdkit_error("malloc: %m");
        return -1;
    }
    for (i = 0; i < len;) {
        char *nl = memchr(out + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - out) : len;

        if (nl == NULL && !unterminated)
            break;
        out[end] = '\0'; /* out[len] is the NUL sh_run adds */
        l->lines[l->n++] = out + i;
        i = end + 1;
    }
    return 0;
}

/* Give each name of the list L and its description (NULL if none) to
 * ADD, by the parse mode of L's first line; stop at the first nonzero
 * return of ADD and return it.
 */
static int
sh_lines_exports(const struct sh_lines *l,
                 int (*add)(const char *name, const char *desc, void *opaque),
                 void *opaque)
{
    size_t i, half, n = l->n;
    char *const *v = l->lines;
    int r = 0;

    if (n > 0 && strcmp(v[0], "INTERLEAVED") == 0) {
        for (i = 1; i < n && r == 0; i += 2)
            r = add(v[i], i + 1 < n ? v[i + 1] : NULL, opaque);
    } else if (n > 0 && strcmp(v[0], "NAMES+DESCRIPTIONS") == 0) {
        half = (n - 1 + 1) / 2; /* an odd count: the last name has none */
        for (i = 0; i < half && r == 0; i++)
            r = add(v[1 + i], 1 + half + i < n ? v[1 + half + i] : NULL,
                    opaque);
    } else {
        i = n > 0 && strcmp(v[0], "NAMES") == 0 ? 1 : 0;
        for (; i < n && r == 0; i++)
            r = add(v[i], NULL, opaque);
    }
    return r;
}

/* Run METHOD (list_exports or default_export) with its arguments and
 * cut its output into lines.  On CALL_OK *OUT (owned by the caller) holds
 * the text L points into.
 */
static enum call_status
sh_run_list(const char *method, int readonly, int is_tls, char **out,
            struct sh_lines *l)
{
    const char *args[] = {sh_bool(readonly), sh_bool(is_tls), NULL};
    size_t len;
    bool last = strcmp(method, "default_export") == 0;
    enum call_status st = sh_run(method, args, NULL, 0, out, &len);

    if (st == CALL_FALSE) {
        sh_unexpected_false(method);
        return CALL_ERROR;
    }
    if (st == CALL_OK && sh_lines_split(*out, len, last, l) == -1) {
        free(*out);
        *out = NULL;
        return CALL_ERROR;
    }
    return st;
}

static int
sh_add_export(const char *name, const char *desc, void *opaque)
{
    return nbdkit_add_export(opaque, name, desc);
}

int
sh_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    CLEANUP_FREE char *out = NULL;
    struct sh_lines l = {NULL, 0};
    int r;

    switch (sh_run_list("list_exports", readonly, is_tls, &out, &l)) {
    case CALL_OK:
        r = sh_lines_exports(&l, sh_add_export, exports);
        free(l.lines);
        return r;
    case CALL_MISSING: /* the list is the default export alone */
        return nbdkit_use_default_export(exports);
    default:
        return -1;
    }
}

static int
sh_first_name(const char *name, const char *desc, void *opaque)
{
    (void)desc;
    *(const char **)opaque = name;
    return 1;
}

const char *
sh_default_export(int readonly, int is_tls)
{
    CLEANUP_FREE char *out = NULL;
    struct sh_lines l = {NULL, 0};
    const char *name = "";

    switch (sh_run_list("default_export", readonly, is_tls, &out, &l)) {
    case CALL_OK:
        sh_lines_exports(&l, sh_first_name, &name);
        name = nbdkit_strdup_intern(name);
        free(l.lines);
        return name;
    case CALL_MISSING:
        return "";
    default:
        return NULL;
    }
}

/* The words of block_size's output, cut by strtok_r. */
struct sh_words {
    char *first; /* the text until the first word is taken, then NULL */
    char *save;
};

/* The next size of block_size's output; -1 after nbdkit_error if there is
 * none or it is no size.
 */
static int64_t
sh_next_size(struct sh_words *w, const char *what)
{
    char *word = strtok_r(w->first, " \t\r\n", &w->save);
    int64_t v;

    w->first = NULL;
    if (word == NULL) {
        nbdkit_error("%s: block_size: no %s block size in the output",
                     sh_script("block_size"), what);
        return -1;
    }
    v = nbdkit_parse_size(word);
    if (v == -1)
        nbdkit_error("%s: block_size: the %s block size cannot be parsed",
                     sh_script("block_size"), what);
    if (v > UINT32_MAX) {
        nbdkit_error("%s: block_size: %s block size too large: %s",
                     sh_script("block_size"), what, word);
        return -1;
    }
    return v;
}

int
sh_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
              uint32_t *maximum)
{
    const char *args[] = {sh_handle_string(handle), NULL};
    CLEANUP_FREE char *out = NULL;
    struct sh_words w;
    int64_t min, pref, max;
    size_t len;

    switch (sh_run("block_size", args, NULL, 0, &out, &len)) {
    case CALL_OK:
        break;
    case CALL_MISSING: /* no constraints */
        *minimum = *preferred = *maximum = 0;
        return 0;
    case CALL_FALSE:
        return sh_unexpected_false("block_size");
    default:
        return -1;
    }
    w.first = out;
    if ((min = sh_next_size(&w, "minimum")) == -1 ||
        (pref = sh_next_size(&w, "preferred")) == -1 ||
        (max = sh_next_size(&w, "maximum")) == -1)
        return -1;
    *minimum = min;
    *preferred = pref;
    *maximum = max;
    return 0;
}
