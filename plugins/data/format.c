/* SPDX-License-Identifier: BSD-3-Clause */
/* format.c: the data format of nbdx-data-plugin(1), evaluated in one
 * recursive-descent pass.
 *
 * A list ("the whole string", "( ... )" or a $VAR) is composed into a
 * blob as it is read.  The value read last stays pending until the next
 * token that is not a postfix operator (*N, [N:M], -> \NAME), which
 * applies to it; then it is placed at the current offset.  A placed
 * value overwrites all of its range, zeroes included.  Files and
 * scripts are read only when needed, so that a slice can read just the
 * bytes it keeps (an endless script sliced with [:N] terminates).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "blob.h"
#include "format.h"
#include "hexdigit.h"

#define MAX_DEPTH 200 /* nested ( ... ) and $VAR */
#define WHITESPACE " \t\n\f\r\v"

struct binding {
    struct binding *next;
    char *name;
    struct data_blob val;
};

/* The names defined in one list; up is the enclosing list's scope. */
struct scope {
    struct scope *up;
    struct binding *names;
};

struct parser {
    const char *s;     /* the text, NUL-terminated */
    size_t i;          /* current position */
    const char *where; /* the $VAR being read, or NULL: data= */
    int depth;
    data_var_fn var;
    void *opaque;
};

enum lazy { LAZY_NONE, LAZY_FILE, LAZY_SCRIPT };

/* A value read but not yet placed. */
struct value {
    struct data_blob b;
    enum lazy lazy;
    char *arg; /* file name or script, owned, if lazy */
};

enum last { LAST_NONE, LAST_OFFSET, LAST_VALUE };

/* A list being composed. */
struct list {
    struct data_blob out;
    uint64_t offset;
    uint64_t hi; /* the end of the highest segment placed */
    enum last last;
    struct value pend; /* valid if last == LAST_VALUE */
    struct scope scope;
};

static int parse_list(struct parser *p, struct scope *up, bool nested,
                      struct data_blob *out);

/* Errors. */

static int
perr(const struct parser *p, size_t at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nbdkit_error("%s (at offset %zu of %s%s)", msg, at,
                 p->where == NULL ? "data=" : "$", p->where ? p->where : "");
    return -1;
}

/* Lists. */

/* Appends s shifted by delta to list l, growing the previous segment's
 * private buffer instead when s continues it (runs of bytes and strings).
 */
static int
list_push(struct list *l, struct data_seg s, uint64_t delta)
{
    struct data_seg *last = l->out.nsegs ? &l->out.segs[l->out.nsegs - 1] : 0;

    s.off += delta;
    if (last && last->buf && s.buf && last->buf->ref == 1 &&
        last->boff + last->len == last->buf->len &&
        last->off + last->len == s.off && s.len <= 4096) {
        struct data_buf *b = last->buf;

        if (b->len + s.len > b->cap) {
            size_t cap = (b->len + s.len) * 2;
            unsigned char *n = realloc(b->data, cap);

            if (n == NULL)
                return -1;
            b->data = n;
            b->cap = cap;
        }
        memcpy(b->data + b->len, s.buf->data + s.boff, s.len);
        b->len += s.len;
        last->len += s.len;
        return 0;
    }
    return blob_push(&l->out, s);
}

/* Numbers. */

/* Reads an integer as scanf's %i does (leading space, a sign, 0x for
 * hex, 0 for octal) into *v; -1 if there is none or it overflows.
 */
static int
parse_int(struct parser *p, int64_t *v)
{
    const char *start = p->s + p->i, *digits = start, *end;
    long long r;

    digits += strspn(digits, WHITESPACE);
    if (*digits == '+' || *digits == '-')
        digits++;
    if (*digits < '0' || *digits > '9')
        return -1;
    errno = 0;
    r = strtoll(start, (char **)&end, 0);
    if (errno == ERANGE)
        return -1;
    /* "0x" with no hex digit after it is 0, as in scanf. */
    if (end == digits + 1 && (*end == 'x' || *end == 'X'))
        end++;
    *v = r;
    p->i = end - p->s;
    return 0;
}

/* A non-negative number for the operator op; -1 after saying why. */
static int
parse_count(struct parser *p, const char *op, uint64_t *v)
{
    size_t at = p->i;
    int64_t n;

    if (parse_int(p, &n) == -1)
        return perr(p, at, "%s needs a number", op);
    if (n < 0)
        return perr(p, at, "%s must not be negative", op);
    *v = n;
    return 0;
}

/* Values: placing, repeating, slicing. */

static void
value_clear(struct value *v)
{
    data_blob_clear(&v->b);
    free(v->arg);
    v->arg = NULL;
    v->lazy = LAZY_NONE;
}

/* Reads up to limit bytes of a file or a script's output into v->b. */
static int
value_load(struct parser *p, size_t at, struct value *v, uint64_t limit)
{
    bool script = v->lazy == LAZY_SCRIPT, cut = false;
    FILE *fp = script ? popen(v->arg, "r") : fopen(v->arg, "r");
    unsigned char *mem = NULL;
    size_t len = 0, cap = 0, n;
    int r = -1, status;

    if (fp == NULL) {
        nbdkit_error("%s: %m", v->arg);
        return -1;
    }
    for (;;) {
        if (len == limit) {
            cut = true;
            break;
        }
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            unsigned char *nmem = realloc(mem, ncap);

            if (nmem == NULL) {
                nbdkit_error("realloc: %m");
                goto out;
            }
            mem = nmem;
            cap = ncap;
        }
        n = cap - len < limit - len ? cap - len : limit - len;
        n = fread(mem + len, 1, n, fp);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(fp)) {
        nbdkit_error("read: %s: %m", v->arg);
        goto out;
    }
    if (blob_take(&v->b, mem, len) == -1) {
        nbdkit_error("malloc: %m");
        goto out;
    }
    mem = NULL;
    r = 0;
out:
    status = script ? pclose(fp) : fclose(fp);
    /* A script cut short by a slice may die of the closed pipe. */
    if (r == 0 && script && !cut && status != 0) {
        if (status > 0 && WIFEXITED(status))
            perr(p, at, "<(SCRIPT) exited with status %d", WEXITSTATUS(status));
        else
            perr(p, at, "<(SCRIPT) failed");
        r = -1;
    }
    free(mem);
    if (r == 0) {
        free(v->arg);
        v->arg = NULL;
        v->lazy = LAZY_NONE;
    }
    return r;
}

static int
value_force(struct parser *p, struct value *v)
{
    if (v->lazy == LAZY_NONE)
        return 0;
    return value_load(p, p->i, v, UINT64_MAX);
}

/* Places the pending value at the list's offset. */
static int
list_flush(struct parser *p, struct list *l)
{
    struct data_blob *b = &l->pend.b;
    uint64_t end;
    int r = 0;

    if (l->last != LAST_VALUE)
        return 0;
    l->last = LAST_NONE;
    if (value_force(p, &l->pend) == -1)
        return -1;
    if (b->size > DATA_MAX_SIZE - l->offset) {
        value_clear(&l->pend);
        return perr(p, p->i, "the data is larger than 2^63-1 bytes");
    }
    if (b->nsegs >= DATA_MAX_SEGS - l->out.nsegs) {
        value_clear(&l->pend);
        return perr(p, p->i, "the data has too many pieces");
    }
    end = l->offset + b->size;
    /* Bytes it covers that were written before become its zeroes. */
    if (b->size && l->offset < l->hi && !blob_dense(b)) {
        uint64_t zend = end < l->hi ? end : l->hi;

        r = blob_push(&l->out, (struct data_seg){l->offset, zend - l->offset,
                                                 NULL, 0, 0});
    }
    for (size_t k = 0; r == 0 && k < b->nsegs; k++)
        r = list_push(l, b->segs[k], l->offset);
    if (b->size) {
        l->offset = end;
        if (l->hi < end)
            l->hi = end;
        if (l->out.size < end)
            l->out.size = end;
    }
    value_clear(&l->pend);
    if (r == -1)
        nbdkit_error("malloc: %m");
    return r;
}

/* Makes the pending value n copies of itself. */
static int
value_repeat(struct parser *p, size_t at, struct value *v, uint64_t n)
{
    struct data_blob *b = &v->b, nb = {0};

    if (n == 0 || b->size == 0) {
        data_blob_clear(b);
        return 0;
    }
    if (b->size > DATA_MAX_SIZE / n)
        return perr(p, at, "*%" PRIu64 " makes more than 2^63-1 bytes", n);
    errno = ENOMEM;
    if (blob_repeat(b, n, &nb) == -1) {
        data_blob_clear(&nb);
        return perr(p, at, "*%" PRIu64 ": %s", n,
                    errno == E2BIG ? "too many pieces" : "out of memory");
    }
    data_blob_clear(b);
    *b = nb;
    return 0;
}

/* Tokens. */

/* [N:M] after a value; either number may be left out. */
static int
parse_slice(struct parser *p, struct value *v)
{
    size_t at = p->i++;
    uint64_t start = 0, end = UINT64_MAX;

    if (p->s[p->i] != ':' && parse_count(p, "[N:M]", &start) == -1)
        return -1;
    if (p->s[p->i] != ':')
        return perr(p, p->i, "expected ':' in [N:M]");
    p->i++;
    if (p->s[p->i] != ']' && parse_count(p, "[N:M]", &end) == -1)
        return -1;
    if (p->s[p->i] != ']')
        return perr(p, p->i, "expected ']' in [N:M]");
    p->i++;
    if (v->lazy != LAZY_NONE && value_load(p, at, v, end) == -1)
        return -1;
    if (end == UINT64_MAX)
        end = v->b.size;
    if (start > end || end > v->b.size)
        return perr(p, at,
                    "[%" PRIu64 ":%" PRIu64 "] is not a slice of "
                    "%" PRIu64 " bytes",
                    start, end, v->b.size);
    if (blob_slice(&v->b, start, end) == -1)
        return perr(p, at, "out of memory");
    return 0;
}

/* @N, @+N, @-N, @^N. */
static int
parse_offset(struct parser *p, struct list *l)
{
    size_t at = p->i++;
    char op = p->s[p->i];
    uint64_t n;

    if (op == '+' || op == '-' || op == '^')
        p->i++;
    else if (op >= '0' && op <= '9')
        op = '=';
    else
        return perr(p, at, "expected @N, @+N, @-N or @^N");
    if (parse_count(p, "@", &n) == -1)
        return -1;
    switch (op) {
    case '=':
        if (n > DATA_MAX_SIZE)
            return perr(p, at, "@%" PRIu64 " is too large", n);
        l->offset = n;
        break;
    case '+':
        if (n > DATA_MAX_SIZE - l->offset)
            return perr(p, at, "@+%" PRIu64 " goes past 2^63-1", n);
        l->offset += n;
        break;
    case '-':
        if (n > l->offset)
            return perr(p, at,
                        "@-%" PRIu64 " is before the start (the offset is "
                        "%" PRIu64 ")",
                        n, l->offset);
        l->offset -= n;
        break;
    case '^':
        if (n == 0 || (n & (n - 1)) != 0)
            return perr(p, at, "@^%" PRIu64 " is not a power of 2", n);
        if (l->offset % n && n - l->offset % n > DATA_MAX_SIZE - l->offset)
            return perr(p, at, "@^%" PRIu64 " goes past 2^63-1", n);
        if (l->offset % n)
            l->offset += n - l->offset % n;
        break;
    }
    if (l->out.size < l->offset)
        l->out.size = l->offset;
    l->last = LAST_OFFSET;
    return 0;
}

static int
parse_byte(struct parser *p, struct value *v)
{
    size_t at = p->i;
    int64_t n;
    unsigned char c;

    if (parse_int(p, &n) == -1 || n < 0 || n > 255)
        return perr(p, at, "a BYTE must be in the range 0..255");
    c = n;
    if (blob_bytes(&v->b, &c, 1) == -1)
        return perr(p, at, "out of memory");
    return 0;
}

/* le16:N .. be64:N; N runs to the next whitespace. */
static int
parse_word(struct parser *p, struct value *v)
{
    const char *t = p->s + p->i;
    size_t at = p->i, len;
    unsigned bits, k;
    bool le;
    char num[64], what[5];
    unsigned char out[8];
    uint64_t w;

    if ((strncmp(t, "le", 2) != 0 && strncmp(t, "be", 2) != 0) ||
        (strncmp(t + 2, "16:", 3) != 0 && strncmp(t + 2, "32:", 3) != 0 &&
         strncmp(t + 2, "64:", 3) != 0))
        return perr(p, at,
                    "expected le16:, le32:, le64:, be16:, be32: or "
                    "be64:");
    memcpy(what, t, 4);
    what[4] = '\0';
    le = t[0] == 'l';
    bits = (t[2] - '0') * 10 + (t[3] - '0');
    t += 5;
    len = strcspn(t, WHITESPACE);
    if (len >= sizeof num)
        return perr(p, at, "the word is too long");
    memcpy(num, t, len);
    num[len] = '\0';
    if (bits == 16) {
        uint16_t x;

        if (nbdkit_parse_uint16_t(what, num, &x) == -1)
            return perr(p, at, "bad 16 bit word");
        w = x;
    } else if (bits == 32) {
        uint32_t x;

        if (nbdkit_parse_uint32_t(what, num, &x) == -1)
            return perr(p, at, "bad 32 bit word");
        w = x;
    } else if (nbdkit_parse_uint64_t(what, num, &w) == -1)
        return perr(p, at, "bad 64 bit word");
    for (k = 0; k < bits / 8; k++)
        out[le ? k : bits / 8 - 1 - k] = w >> (8 * k);
    p->i += 5 + len;
    if (blob_bytes(&v->b, out, bits / 8) == -1)
        return perr(p, at, "out of memory");
    return 0;
}

/* The escape after a backslash in a string. */
static int
string_escape(struct parser *p, unsigned char *c)
{
    static const char from[] = "abfnrtv\\\"", to[] = "\a\b\f\n\r\t\v\\\"";
    const char *e = p->s + p->i;
    int h0, h1;

    if (*e == '\0')
        return perr(p, p->i, "unterminated string");
    if (strchr(from, *e)) {
        *c = to[strchr(from, *e) - from];
    } else if (*e == 'x') {
        h0 = hex_digit(e[1]);
        h1 = h0 == -1 ? -1 : hex_digit(e[2]);
        if (h1 == -1)
            return perr(p, p->i - 1, "\\x must be followed by two hex digits");
        *c = h0 * 16 + h1;
        p->i += 2;
    } else if ((*e >= '0' && *e <= '9') || *e == 'u') {
        return perr(p, p->i - 1,
                    "\\%c: numeric and unicode escapes are not supported", *e);
    } else {
        *c = *e;
    }
    p->i++;
    return 0;
}

/* "STRING" with C escapes. */
static int
parse_string(struct parser *p, struct value *v)
{
    size_t at = p->i++, len = 0, max = 0;
    unsigned char *mem;
    int r = -1;

    /* Each character or escape makes at most one byte. */
    for (const char *q = p->s + p->i; *q && *q != '"'; q++, max++)
        if (*q == '\\' && q[1])
            q++;
    mem = malloc(max + 1);
    if (mem == NULL)
        return perr(p, at, "out of memory");
    for (;;) {
        unsigned char c = p->s[p->i];

        if (c == '\0') {
            perr(p, at, "unterminated string");
            goto out;
        }
        p->i++;
        if (c == '"')
            break;
        if (c == '\\' && string_escape(p, &c) == -1)
            goto out;
        mem[len++] = c;
    }
    if (blob_bytes(&v->b, mem, len) == -1) {
        perr(p, at, "out of memory");
        goto out;
    }
    r = 0;
out:
    free(mem);
    return r;
}

/* <FILE or <(SCRIPT), read later (see value_load). */
static int
parse_input(struct parser *p, struct value *v)
{
    size_t at = p->i++, start, len;

    if (p->s[p->i] == '(') {
        int open = 1;

        start = ++p->i;
        for (; p->s[p->i] && open; p->i++)
            open += (p->s[p->i] == '(') - (p->s[p->i] == ')');
        if (open)
            return perr(p, at, "<(SCRIPT) has no closing ')'");
        len = p->i - 1 - start;
        v->lazy = LAZY_SCRIPT;
    } else {
        start = p->i;
        len = strcspn(p->s + start, WHITESPACE "*[)");
        if (len == 0)
            return perr(p, at, "<FILE needs a file name");
        p->i += len;
        v->lazy = LAZY_FILE;
    }
    v->arg = strndup(p->s + start, len);
    if (v->arg == NULL) {
        v->lazy = LAZY_NONE;
        return perr(p, at, "out of memory");
    }
    return 0;
}

/* The length of the name at p->i made of alphanumerics and extra. */
static size_t
name_len(const struct parser *p, const char *extra)
{
    size_t n = 0;
    char c;

    while ((c = p->s[p->i + n]) != '\0' &&
           ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr(extra, c)))
        n++;
    return n;
}

/* \NAME: a copy of what the nearest enclosing definition holds. */
static int
parse_name(struct parser *p, struct scope *sc, struct value *v)
{
    size_t at = p->i++, len = name_len(p, "-_");

    if (len == 0)
        return perr(p, at, "expected \\NAME");
    p->i += len;
    for (; sc; sc = sc->up)
        for (struct binding *b = sc->names; b; b = b->next)
            if (strlen(b->name) == len &&
                memcmp(b->name, p->s + at + 1, len) == 0) {
                if (blob_dup(&v->b, &b->val) == -1)
                    return perr(p, at, "out of memory");
                return 0;
            }
    return perr(p, at, "\\%.*s is not defined", (int)len, p->s + at + 1);
}

/* -> \NAME: binds the pending value in this list's scope. */
static int
parse_assign(struct parser *p, struct list *l)
{
    size_t at = p->i, len;
    struct binding *b, **pp;

    p->i += 2;
    p->i += strspn(p->s + p->i, WHITESPACE);
    if (p->s[p->i] != '\\')
        return perr(p, at, "-> must be followed by \\NAME");
    p->i++;
    len = name_len(p, "-_");
    if (len == 0)
        return perr(p, at, "-> must be followed by \\NAME");
    if (value_force(p, &l->pend) == -1)
        return -1;
    for (pp = &l->scope.names; *pp; pp = &(*pp)->next)
        if (strlen((*pp)->name) == len &&
            memcmp((*pp)->name, p->s + p->i, len) == 0)
            break;
    if (*pp == NULL) {
        *pp = calloc(1, sizeof **pp);
        if (*pp == NULL || ((*pp)->name = strndup(p->s + p->i, len)) == NULL)
            return perr(p, at, "out of memory");
    }
    b = *pp;
    data_blob_clear(&b->val);
    b->val = l->pend.b;
    memset(&l->pend.b, 0, sizeof l->pend.b);
    p->i += len;
    return 0;
}

/* $VAR: its value read as a nested list. */
static int
parse_var(struct parser *p, struct scope *sc, struct value *v)
{
    size_t at = p->i++, len = name_len(p, "_");
    char name[256];
    const char *text = NULL;
    struct parser sub;

    if (len == 0 || len >= sizeof name)
        return perr(p, at, "expected $VAR");
    memcpy(name, p->s + p->i, len);
    name[len] = '\0';
    p->i += len;
    if (p->var)
        text = p->var(p->opaque, name);
    if (text == NULL)
        text = getenv(name);
    if (text == NULL)
        return perr(p, at, "$%s: variable not found", name);
    sub = *p;
    sub.s = text;
    sub.i = 0;
    sub.where = name;
    return parse_list(&sub, sc, false, &v->b);
}

/* *N, [N:M] or -> \NAME after the pending value. */
static int
parse_postfix(struct parser *p, struct list *l, const char *op)
{
    size_t at = p->i;
    uint64_t n;

    if (l->last == LAST_NONE)
        return perr(p, at, "%s must follow an expression", op);
    if (l->last == LAST_OFFSET)
        return perr(p, at, "%s cannot follow an offset", op);
    if (*op == '[')
        return parse_slice(p, &l->pend);
    if (*op == '-')
        return parse_assign(p, l);
    p->i++;
    if (parse_count(p, "*N", &n) == -1)
        return -1;
    if (value_force(p, &l->pend) == -1)
        return -1;
    return value_repeat(p, at, &l->pend, n);
}

/* A value; the previous pending one has been placed. */
static int
parse_value(struct parser *p, struct list *l)
{
    struct value *v = &l->pend;
    char c = p->s[p->i];
    int r;

    if (c >= '0' && c <= '9')
        r = parse_byte(p, v);
    else if (c == 'l' || c == 'b')
        r = parse_word(p, v);
    else if (c == '"')
        r = parse_string(p, v);
    else if (c == '<')
        r = parse_input(p, v);
    else if (c == '\\')
        r = parse_name(p, &l->scope, v);
    else if (c == '$')
        r = parse_var(p, &l->scope, v);
    else if (c == '(') {
        p->i++;
        r = parse_list(p, &l->scope, true, &v->b);
    } else if (c > ' ' && c < 0x7f)
        return perr(p, p->i, "unexpected '%c'", c);
    else
        return perr(p, p->i, "unexpected byte 0x%02x", (unsigned char)c);
    l->last = LAST_VALUE;
    return r;
}

static void
scope_free(struct scope *sc)
{
    while (sc->names) {
        struct binding *b = sc->names;

        sc->names = b->next;
        data_blob_clear(&b->val);
        free(b->name);
        free(b);
    }
}

/* One token of a list; 1 at the end of the list (a ')' if nested). */
static int
parse_token(struct parser *p, struct list *l, bool nested, size_t open)
{
    char c;

    p->i += strspn(p->s + p->i, WHITESPACE);
    c = p->s[p->i];
    if (c == '#') {
        p->i += strcspn(p->s + p->i, "\n");
        return 0;
    }
    if (c == '\0' && nested)
        return perr(p, open, "unmatched '('");
    if (c == ')' && !nested)
        return perr(p, p->i, "unmatched ')'");
    if (c == '*')
        return parse_postfix(p, l, "*N");
    if (c == '[')
        return parse_postfix(p, l, "[N:M]");
    if (c == '-' && p->s[p->i + 1] == '>')
        return parse_postfix(p, l, "->");
    if (list_flush(p, l) == -1)
        return -1;
    if (c == '\0')
        return 1;
    if (c == ')') {
        p->i++;
        return 1;
    }
    if (c == '@')
        return parse_offset(p, l);
    return parse_value(p, l);
}

/* A list up to the end of the text, or to its ')' if nested, in a new
 * scope under up.  On success *out owns the result.
 */
static int
parse_list(struct parser *p, struct scope *up, bool nested,
           struct data_blob *out)
{
    struct list l = {.scope.up = up};
    size_t open = p->i ? p->i - 1 : 0;
    int r;

    if (++p->depth > MAX_DEPTH) {
        p->depth--;
        return perr(p, p->i, "nested too deeply");
    }
    while ((r = parse_token(p, &l, nested, open)) == 0)
        ;
    p->depth--;
    value_clear(&l.pend);
    scope_free(&l.scope);
    if (r == -1) {
        data_blob_clear(&l.out);
        return -1;
    }
    *out = l.out;
    return 0;
}

int
data_format_parse(const char *text, data_var_fn var, void *opaque,
                  struct data_blob *out)
{
    struct parser p = {.s = text, .var = var, .opaque = opaque};

    memset(out, 0, sizeof *out);
    return parse_list(&p, NULL, false, out);
}
