/* SPDX-License-Identifier: BSD-3-Clause */
/* methods.c: the callbacks of the sh and eval plugins (methods.h).  Each
 * runs the script of one method through common/call and reads its exit
 * status and output as nbdx-sh-plugin(1) describes.
 */

#include <config.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "methods.h"

char sh_tmpdir[64]; /* set once at load, read-only afterwards */
bool sh_via_shell;  /* likewise */

int
sh_tmpdir_make(void)
{
    snprintf(sh_tmpdir, sizeof sh_tmpdir, "/tmp/nbdxshXXXXXX");
    if (mkdtemp(sh_tmpdir) == NULL) {
        nbdkit_error("mkdtemp: /tmp: %m");
        sh_tmpdir[0] = '\0';
        return -1;
    }
    if (setenv("tmpdir", sh_tmpdir, 1) == -1) {
        nbdkit_error("setenv: tmpdir=%s: %m", sh_tmpdir);
        return -1;
    }
    nbdkit_debug("sh: tmpdir: %s", sh_tmpdir);
    return 0;
}

/* nftw callback: remove one entry, children before their directory. */
static int
sh_tmpdir_remove_one(const char *path, const struct stat *st, int type,
                     struct FTW *ftw)
{
    if (remove(path) == -1)
        nbdkit_debug("sh: remove: %s: %m", path);
    return 0;
}

void
sh_tmpdir_remove(void)
{
    if (sh_tmpdir[0] != '\0')
        nftw(sh_tmpdir, sh_tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
    sh_tmpdir[0] = '\0';
}

/* The script of METHOD for messages, which eval may not have. */
static const char *
sh_who(const char *method)
{
    const char *script = sh_script(method);

    return script ? script : "script";
}

/* Remove one final newline from the LEN bytes of S. */
static void
sh_chomp(char *s, size_t *len)
{
    if (*len > 0 && s[*len - 1] == '\n')
        s[--*len] = '\0';
}

/* Report a failed run of SCRIPT's METHOD from what it left in O, and set
 * errno from the errno name its stderr starts with.
 */
static void
sh_report(const char *script, const char *method, struct call_output *o)
{
    size_t msg, len = o->errlen;
    int err = call_errno_parse(o->err, o->errlen, &msg);

    while (len > msg && (o->err[len - 1] == '\n' || o->err[len - 1] == '\r'))
        len--;
    if (WIFSIGNALED(o->wstatus))
        nbdkit_error("%s: %s: killed by signal %d", script, method,
                     WTERMSIG(o->wstatus));
    else if (len > msg)
        nbdkit_error("%s: %.*s", script, (int)(len - msg), o->err + msg);
    else
        nbdkit_error("%s: %s method failed (exit %d) with no message on stderr",
                     script, method, WEXITSTATUS(o->wstatus));
    errno = err;
}

enum call_status
sh_run(const char *method, const char *const *args, const void *in,
       size_t inlen, char **out, size_t *outlen)
{
    const char *script = sh_script(method);
    const char *argv[9];
    struct call_output o;
    enum call_status st;
    size_t i, n = 0;

    if (script == NULL)
        return CALL_MISSING;
    if (sh_via_shell)
        argv[n++] = "/bin/sh";
    argv[n++] = script;
    argv[n++] = method;
    for (i = 0; i < 5 && args[i] != NULL; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    if (call_run(argv, in, inlen, &o) == -1) {
        int err = errno;
        nbdkit_error("%s: %s: %m", script, method);
        errno = err;
        return CALL_ERROR;
    }
    st = call_status_of(o.wstatus);
    if (st == CALL_ERROR)
        sh_report(script, method, &o);
    else if (st == CALL_OK && out) {
        *out = o.out;
        *outlen = o.outlen;
        o.out = NULL;
    }
    call_output_free(&o);
    return st;
}

int
sh_unexpected_false(const char *method)
{
    nbdkit_error("%s: %s method returned unexpected code (3/false)",
                 sh_who(method), method);
    errno = EIO;
    return -1;
}

int
sh_expect_ok(const char *method, enum call_status st, bool missing_ok)
{
    switch (st) {
    case CALL_OK:
        return 0;
    case CALL_MISSING:
        if (missing_ok)
            return 0;
        nbdkit_error("%s: the %s method is required", sh_who(method), method);
        errno = EIO;
        return -1;
    case CALL_FALSE:
        return sh_unexpected_false(method);
    default:
        return -1;
    }
}

/* Run a method with no output wanted: 0 or -1 as sh_expect_ok. */
static int
sh_simple(const char *method, const char *const *args, bool missing_ok)
{
    return sh_expect_ok(method, sh_run(method, args, NULL, 0, NULL, NULL),
                        missing_ok);
}

static const char *const sh_noargs[] = {NULL};

void
sh_dump_plugin(void)
{
    CLEANUP_FREE char *out = NULL;
    size_t len;

    if (sh_script("dump_plugin") == NULL)
        return;
    if (sh_run("dump_plugin", sh_noargs, NULL, 0, &out, &len) == CALL_OK)
        fwrite(out, 1, len, stdout);
}

/* The thread model names a script may print, '_' or '-' between words. */
static int
sh_thread_model_parse(const char *s)
{
    static const char *const names[] = {
        [NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS] = "serialize_connections",
        [NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS] = "serialize_all_requests",
        [NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS] = "serialize_requests",
        [NBDKIT_THREAD_MODEL_PARALLEL] = "parallel",
    };
    char name[32];
    size_t i;

    snprintf(name, sizeof name, "%s", s);
    for (i = 0; name[i]; i++)
        if (name[i] == '-')
            name[i] = '_';
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    nbdkit_debug("sh: ignoring unknown thread model: %s", s);
    return NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS;
}

/* Without a script there is nothing to serialize; a script that does not
 * say gets the safe serialize_all_requests.
 */
int
sh_thread_model(void)
{
    CLEANUP_FREE char *out = NULL;
    size_t len;

    if (sh_script("thread_model") == NULL)
        return NBDKIT_THREAD_MODEL_PARALLEL;
    switch (sh_run("thread_model", sh_noargs, NULL, 0, &out, &len)) {
    case CALL_OK:
        sh_chomp(out, &len);
        return sh_thread_model_parse(out);
    case CALL_MISSING:
        return NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS;
    case CALL_FALSE:
        return sh_unexpected_false("thread_model");
    default:
        return -1;
    }
}

int
sh_get_ready(void)
{
    return sh_simple("get_ready", sh_noargs, true);
}

int
sh_after_fork(void)
{
    return sh_simple("after_fork", sh_noargs, true);
}

const char *
sh_bool(int b)
{
    return b ? "true" : "false";
}

int
sh_preconnect(int readonly)
{
    const char *args[] = {sh_bool(readonly), NULL};

    return sh_simple("preconnect", args, true);
}

/* One connection.  The can_flush and can_zero answers are kept because
 * can_fua and can_fast_zero depend on them; they are asked during the
 * handshake, from one thread.
 */
struct sh_handle {
    char *h;       /* the handle string printed by open, owned */
    int can_flush; /* -1 until asked */
    int can_zero;  /* -1 until asked */
};

void *
sh_open(int readonly)
{
    const char *name = nbdkit_export_name();
    const char *args[] = {sh_bool(readonly), name ? name : "",
                          sh_bool(nbdkit_is_tls() == 1), NULL};
    struct sh_handle *h = calloc(1, sizeof *h);
    size_t len;

    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->can_flush = h->can_zero = -1;
    switch (sh_run("open", args, NULL, 0, &h->h, &len)) {
    case CALL_OK:
        sh_chomp(h->h, &len);
        nbdkit_debug("sh: handle: %s", h->h);
        return h;
    case CALL_MISSING: /* no open method: the handle is "" */
        h->h = strdup("");
        if (h->h != NULL)
            return h;
        nbdkit_error("strdup: %m");
        break;
    case CALL_FALSE:
        sh_unexpected_false("open");
        break;
    default:
        break;
    }
    free(h);
    return NULL;
}

/* Errors of close are reported and otherwise ignored. */
void
sh_close(void *handle)
{
    struct sh_handle *h = handle;
    const char *args[] = {h->h, NULL};

    sh_run("close", args, NULL, 0, NULL, NULL);
    free(h->h);
    free(h);
}

const char *
sh_handle_string(void *handle)
{
    return ((struct sh_handle *)handle)->h;
}

const char *
sh_export_description(void *handle)
{
    struct sh_handle *h = handle;
    const char *args[] = {h->h, NULL};
    CLEANUP_FREE char *out = NULL;
    size_t len;

    switch (sh_run("export_description", args, NULL, 0, &out, &len)) {
    case CALL_OK:
        sh_chomp(out, &len);
        return nbdkit_strdup_intern(out);
    case CALL_MISSING:
        return NULL;
    case CALL_FALSE:
        sh_unexpected_false("export_description");
        return NULL;
    default:
        return NULL;
    }
}

int64_t
sh_get_size(void *handle)
{
    struct sh_handle *h = handle;
    const char *args[] = {h->h, NULL};
    CLEANUP_FREE char *out = NULL;
    size_t len;
    int64_t size;

    if (sh_expect_ok("get_size", sh_run("get_size", args, NULL, 0, &out, &len),
                     false) == -1)
        return -1;
    sh_chomp(out, &len);
    size = nbdkit_parse_size(out);
    if (size == -1)
        nbdkit_error("%s: cannot parse the output of get_size: %s",
                     sh_who("get_size"), out);
    return size;
}

/* A method answering yes (exit 0) or no (exit 3): 1 or 0, DEF if it is
 * missing, -1 on error.
 */
static int
sh_boolean(const char *method, struct sh_handle *h, int def)
{
    const char *args[] = {h->h, NULL};

    switch (sh_run(method, args, NULL, 0, NULL, NULL)) {
    case CALL_OK:
        return 1;
    case CALL_FALSE:
        return 0;
    case CALL_MISSING:
        return def;
    default:
        return -1;
    }
}

/* The sh plugin cannot tell which methods a script has, so a missing
 * can_* is false: a script with pwrite must also say can_write.
 */
int
sh_can_write(void *handle)
{
    return sh_boolean("can_write", handle, 0);
}

int
sh_can_flush(void *handle)
{
    struct sh_handle *h = handle;

    if (h->can_flush == -1)
        h->can_flush = sh_boolean("can_flush", h, 0);
    return h->can_flush;
}

int
sh_is_rotational(void *handle)
{
    return sh_boolean("is_rotational", handle, 0);
}

int
sh_can_trim(void *handle)
{
    return sh_boolean("can_trim", handle, 0);
}

int
sh_can_zero(void *handle)
{
    struct sh_handle *h = handle;

    if (h->can_zero == -1)
        h->can_zero = sh_boolean("can_zero", h, 0);
    return h->can_zero;
}

int
sh_can_extents(void *handle)
{
    return sh_boolean("can_extents", handle, 0);
}

int
sh_can_multi_conn(void *handle)
{
    return sh_boolean("can_multi_conn", handle, 0);
}

/* can_fua and can_cache print none, emulate or native (the values of
 * NBDKIT_FUA_* and NBDKIT_CACHE_* agree).  MISSING is returned as is
 * when the method is missing, -1 on error.
 */
static int
sh_level(const char *method, struct sh_handle *h, int missing)
{
    static const char *const levels[] = {"none", "emulate", "native"};
    const char *args[] = {h->h, NULL};
    CLEANUP_FREE char *out = NULL;
    size_t len;
    int i;

    switch (sh_run(method, args, NULL, 0, &out, &len)) {
    case CALL_OK:
        sh_chomp(out, &len);
        for (i = 0; i < 3; i++)
            if (strcasecmp(out, levels[i]) == 0)
                return i;
        nbdkit_error("%s: %s: expected none, emulate or native, not: %s",
                     sh_who(method), method, out);
        errno = EIO;
        return -1;
    case CALL_MISSING:
        return missing;
    case CALL_FALSE:
        return sh_unexpected_false(method);
    default:
        return -1;
    }
}

/* Without can_fua, FUA is emulated by flush if the script can flush. */
int
sh_can_fua(void *handle)
{
    int r = sh_level("can_fua", handle, -2);

    if (r != -2)
        return r;
    r = sh_can_flush(handle);
    if (r == -1)
        return -1;
    return r ? NBDKIT_FUA_EMULATE : NBDKIT_FUA_NONE;
}

/* Without can_cache there is no cache: emulating it by reads would run
 * the script for nothing.
 */
int
sh_can_cache(void *handle)
{
    return sh_level("can_cache", handle, NBDKIT_CACHE_NONE);
}

/* Without can_fast_zero, fast zeroes are refused at once (which is fast)
 * when the script cannot zero at all, as the server does for C plugins.
 */
int
sh_can_fast_zero(void *handle)
{
    int r = sh_boolean("can_fast_zero", handle, 2);

    if (r != 2)
        return r;
    r = sh_can_zero(handle);
    return r == -1 ? -1 : !r;
}

/* The flags of a request as the words a script sees, comma-separated. */
static void
sh_flags(uint32_t flags, char *buf, size_t size)
{
    static const struct {
        uint32_t flag;
        const char *word;
    } words[] = {
        {NBDKIT_FLAG_FUA, "fua"},
        {NBDKIT_FLAG_MAY_TRIM, "may_trim"},
        {NBDKIT_FLAG_REQ_ONE, "req_one"},
        {NBDKIT_FLAG_FAST_ZERO, "fast"},
    };
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (flags & words[i].flag)
            used += snprintf(buf + used, size - used, "%s%s", used ? "," : "",
                             words[i].word);
    }
}

/* The arguments of a request: count, offset and flags as strings. */
struct sh_req {
    char count[16], offset[32], flags[40];
};

static void
sh_req_init(struct sh_req *r, uint32_t count, uint64_t offset, uint32_t flags)
{
    snprintf(r->count, sizeof r->count, "%" PRIu32, count);
    snprintf(r->offset, sizeof r->offset, "%" PRIu64, offset);
    sh_flags(flags, r->flags, sizeof r->flags);
}

int
sh_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
         uint32_t flags)
{
    struct sh_handle *h = handle;
    struct sh_req r;
    const char *args[] = {h->h, r.count, r.offset, NULL};
    CLEANUP_FREE char *out = NULL;
    size_t len;

    sh_req_init(&r, count, offset, 0);
    if (sh_expect_ok("pread", sh_run("pread", args, NULL, 0, &out, &len),
                     false) == -1)
        return -1;
    if (len != count) {
        nbdkit_error("%s: pread: expected %" PRIu32 " bytes, the script "
                     "printed %zu",
                     sh_who("pread"), count, len);
        errno = EIO;
        return -1;
    }
    memcpy(buf, out, count);
    return 0;
}

int
sh_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
          uint32_t flags)
{
    struct sh_handle *h = handle;
    struct sh_req r;
    const char *args[] = {h->h, r.count, r.offset, r.flags, NULL};

    sh_req_init(&r, count, offset, flags);
    return sh_expect_ok("pwrite",
                        sh_run("pwrite", args, buf, count, NULL, NULL), false);
}

int
sh_flush(void *handle, uint32_t flags)
{
    struct sh_handle *h = handle;
    const char *args[] = {h->h, NULL};

    return sh_simple("flush", args, true);
}

int
sh_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct sh_handle *h = handle;
    struct sh_req r;
    const char *args[] = {h->h, r.count, r.offset, r.flags, NULL};

    sh_req_init(&r, count, offset, flags);
    return sh_simple("trim", args, true);
}

/* A missing zero method, like one failing with ENOTSUP or EOPNOTSUPP,
 * makes the server fall back to writing zeroes.
 */
int
sh_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct sh_handle *h = handle;
    struct sh_req r;
    const char *args[] = {h->h, r.count, r.offset, r.flags, NULL};
    enum call_status st;

    sh_req_init(&r, count, offset, flags);
    st = sh_run("zero", args, NULL, 0, NULL, NULL);
    if (st == CALL_MISSING) {
        nbdkit_debug("sh: no zero method, falling back to pwrite");
        errno = EOPNOTSUPP;
        return -1;
    }
    return sh_expect_ok("zero", st, false);
}

/* The type field of an extent: a number, or words hole, zero, data
 * separated by commas; empty is data.  -1 if it is none of these.
 */
static int64_t
sh_extent_type(char *s)
{
    char *word, *save;
    uint32_t type = 0;

    if (s == NULL)
        return 0;
    if (s[0] >= '0' && s[0] <= '9') {
        if (nbdkit_parse_uint32_t("extent type", s, &type) == -1)
            return -1;
        return type;
    }
    for (word = strtok_r(s, ",", &save); word;
         word = strtok_r(NULL, ",", &save)) {
        if (strcasecmp(word, "hole") == 0)
            type |= NBDKIT_EXTENT_HOLE;
        else if (strcasecmp(word, "zero") == 0)
            type |= NBDKIT_EXTENT_ZERO;
        else if (strcasecmp(word, "data") != 0) {
            nbdkit_error("extent type: unknown word: %s", word);
            return -1;
        }
    }
    return type;
}

/* One line "OFFSET LENGTH [TYPE]" of the output of extents, modified in
 * place; blank lines are skipped.  0, or -1 after nbdkit_error.
 */
static int
sh_extent_line(char *line, struct nbdkit_extents *extents)
{
    const char *blanks = " \t\r";
    char *save, *o = strtok_r(line, blanks, &save);
    char *l = o ? strtok_r(NULL, blanks, &save) : NULL;
    char *t = l ? strtok_r(NULL, blanks, &save) : NULL;
    int64_t offset, length, type;

    if (o == NULL)
        return 0;
    if (l == NULL) {
        nbdkit_error("%s: extents: no length after offset %s",
                     sh_who("extents"), o);
        return -1;
    }
    offset = nbdkit_parse_size(o);
    length = nbdkit_parse_size(l);
    type = sh_extent_type(t);
    if (offset == -1 || length == -1 || type == -1)
        return -1;
    return nbdkit_add_extent(extents, offset, length, type);
}

int
sh_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
           struct nbdkit_extents *extents)
{
    struct sh_handle *h = handle;
    struct sh_req r;
    const char *args[] = {h->h, r.count, r.offset, r.flags, NULL};
    CLEANUP_FREE char *out = NULL;
    char *line, *save;
    size_t len;

    sh_req_init(&r, count, offset, flags);
    if (sh_expect_ok("extents", sh_run("extents", args, NULL, 0, &out, &len),
                     false) == -1)
        return -1;
    for (line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (sh_extent_line(line, extents) == -1) {
            errno = EIO;
            return -1;
        }
    }
    return 0;
}

int
sh_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct sh_handle *h = handle;
    struct sh_req r;
    const char *args[] = {h->h, r.count, r.offset, NULL};

    sh_req_init(&r, count, offset, 0);
    return sh_simple("cache", args, true);
}
