/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-handshake-newstyle.c: fixed newstyle option haggling.
 *
 * Every option is read whole (up to MAX_OPTION_LENGTH) before it is
 * parsed, so a bad option never leaves the stream out of step.  The
 * backend is opened only when the client picks an export with INFO, GO
 * or EXPORT_NAME; INFO closes it again.
 */

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "internal.h"
#include "minmax.h"
#include "nbd-protocol.h"

/* Shared by the protocol-handshake*.c files. */

/* Options longer than this are a DoS: disconnect.  The largest sensible
 * option, SET_META_CONTEXT with many queries, fits easily.
 */
#define MAX_OPTION_LENGTH (1024 * 1024)
/* Options allowed before an export is chosen; each export listed by
 * NBD_OPT_LIST earns the client this many more.
 */
#define OPTION_BUDGET 32

static const char base_allocation[] = "base:allocation";

/* Option replies wait in the handshake's output buffer until the server
 * is about to read (or the handshake ends), so the INFO, INFO, ACK that
 * answer a GO leave in one system call and wake the client once.
 * MSG_MORE would not do it: unix sockets ignore it.
 */
#define REPLY_BUFFER 4096

/* The state of one negotiation. */
struct handshake {
    uint32_t cflags;    /* client flags */
    unsigned budget;    /* options left */
    bool meta_selected; /* SET_META_CONTEXT chose base:allocation */
    char *meta_export;  /* owned: the export name of that SET */
    size_t out_len;     /* bytes waiting in out */
    char out[REPLY_BUFFER];
};

/* One option, read whole.  data[len] is a NUL added for convenience. */
struct option {
    uint32_t code;
    uint32_t len;
    char *data; /* owned */
};

/* Send what the output buffer holds. */
static int
newstyle_flush(struct connection *conn, struct handshake *hs)
{
    size_t len = hs->out_len;

    hs->out_len = 0;
    if (len > 0 && conn->send(conn, hs->out, len, 0) == -1) {
        nbdkit_error("option reply: write: %m");
        return -1;
    }
    return 0;
}

/* Append len bytes to the output buffer, making room first; what cannot
 * fit even then is sent at once.
 */
static int
newstyle_put(struct connection *conn, struct handshake *hs, const void *data,
             size_t len)
{
    if (len == 0)
        return 0;
    if (len > sizeof hs->out - hs->out_len && newstyle_flush(conn, hs) == -1)
        return -1;
    if (len > sizeof hs->out) {
        if (conn->send(conn, data, len, 0) == -1) {
            nbdkit_error("option reply: write: %m");
            return -1;
        }
        return 0;
    }
    memcpy(hs->out + hs->out_len, data, len);
    hs->out_len += len;
    return 0;
}

static int
newstyle_send_reply(struct connection *conn, struct handshake *hs,
                    uint32_t option, uint32_t reply, const void *data,
                    size_t len)
{
    struct nbd_option_reply h = {
        .magic = htobe64(NBD_REP_MAGIC),
        .option = htobe32(option),
        .reply = htobe32(reply),
        .replylen = htobe32(len),
    };

    if (newstyle_put(conn, hs, &h, sizeof h) == -1)
        return -1;
    return newstyle_put(conn, hs, data, len);
}

/* Send an error reply whose message is the thread's last error, or msg. */
static int
newstyle_send_error(struct connection *conn, struct handshake *hs,
                    uint32_t option, uint32_t reply, const char *msg)
{
    const char *last = threadlocal_get_last_error();

    if (last != NULL && *last)
        msg = last;
    debug("option %" PRIu32 ": error reply %#" PRIx32 ": %s", option, reply,
          msg);
    return newstyle_send_reply(conn, hs, option, reply, msg,
                               strnlen(msg, NBD_MAX_STRING));
}

static int
newstyle_send_ack(struct connection *conn, struct handshake *hs,
                  uint32_t option)
{
    return newstyle_send_reply(conn, hs, option, NBD_REP_ACK, NULL, 0);
}

/* NBD_REP_SERVER or NBD_REP_META_CONTEXT style: a 32-bit word, a
 * string, then an optional trailing string.  Strings are cut to 4096.
 */
static int
newstyle_send_word_strings(struct connection *conn, struct handshake *hs,
                           uint32_t option, uint32_t reply, uint32_t word,
                           const char *s1, const char *s2)
{
    size_t len1 = strnlen(s1, NBD_MAX_STRING);
    size_t len2 = s2 ? strnlen(s2, NBD_MAX_STRING) : 0;
    char buf[4 + 2 * NBD_MAX_STRING];
    uint32_t w = htobe32(word);

    memcpy(buf, &w, 4);
    memcpy(buf + 4, s1, len1);
    memcpy(buf + 4 + len1, s2 ? s2 : "", len2);
    return newstyle_send_reply(conn, hs, option, reply, buf, 4 + len1 + len2);
}

/* True if the len bytes at s are a valid NBD string. */
static bool
newstyle_valid_string(const char *s, uint32_t len)
{
    return len <= NBD_MAX_STRING && memchr(s, '\0', len) == NULL;
}

/* ---- NBD_OPT_LIST ---- */

static int
newstyle_send_exports(struct connection *conn, struct handshake *hs,
                      uint32_t option, struct nbdkit_exports *exports)
{
    size_t i, n = nbdkit_exports_count(exports);
    const char *def;

    for (i = 0; i < n; i++) {
        struct nbdkit_export e = nbdkit_get_export(exports, i);

        if (newstyle_send_word_strings(conn, hs, option, NBD_REP_SERVER,
                                       strnlen(e.name, NBD_MAX_STRING), e.name,
                                       e.description) == -1)
            return -1;
    }
    if (exports_get_use_default(exports)) {
        def = backend_default_export(top, opts->read_only, conn->using_tls);
        if (def != NULL && newstyle_send_word_strings(
                               conn, hs, option, NBD_REP_SERVER,
                               strnlen(def, NBD_MAX_STRING), def, NULL) == -1)
            return -1;
        n++;
    }
    hs->budget += MIN(n, (size_t)1024) * OPTION_BUDGET;
    return newstyle_send_ack(conn, hs, option);
}

static int
newstyle_opt_list(struct connection *conn, struct handshake *hs,
                  const struct option *opt)
{
    struct nbdkit_exports *exports;
    int r;

    if (opt->len != 0)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "NBD_OPT_LIST takes no data");
    exports = exports_new();
    if (exports == NULL)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_PLATFORM,
                                   "out of memory");
    if (backend_list_exports(top, opts->read_only, conn->using_tls, exports) ==
        -1) {
        nbdkit_exports_free(exports);
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_PLATFORM,
                                   "listing exports failed");
    }
    r = newstyle_send_exports(conn, hs, opt->code, exports);
    nbdkit_exports_free(exports);
    return r;
}

/* ---- NBD_OPT_INFO and NBD_OPT_GO ---- */

/* Info requests of an INFO/GO option. */
struct info_wants {
    bool name, description, block_size;
};

/* The "u32 namelen, name" that INFO, GO and the META_CONTEXT options
 * start with, followed by at least trailer bytes.  -1 if malformed.
 */
static int
newstyle_parse_name(const struct option *opt, uint32_t trailer,
                    uint32_t *namelen)
{
    if (opt->len < 4 + trailer)
        return -1;
    memcpy(namelen, opt->data, 4);
    *namelen = be32toh(*namelen);
    if (*namelen > opt->len - 4 - trailer ||
        !newstyle_valid_string(opt->data + 4, *namelen))
        return -1;
    return 0;
}

/* Parse "u32 namelen, name, u16 n, n x u16".  Returns the name (owned)
 * or NULL if the option is malformed.
 */
static char *
newstyle_parse_info(const struct option *opt, struct info_wants *w)
{
    uint32_t namelen;
    uint16_t n, type, i;
    const char *p;

    if (newstyle_parse_name(opt, 2, &namelen) == -1)
        return NULL;
    p = opt->data + 4 + namelen;
    memcpy(&n, p, 2);
    n = be16toh(n);
    if (opt->len - 6 - namelen != 2 * (uint32_t)n)
        return NULL;
    for (i = 0; i < n; i++) {
        memcpy(&type, p + 2 + 2 * i, 2);
        type = be16toh(type);
        w->name |= type == NBD_INFO_NAME;
        w->description |= type == NBD_INFO_DESCRIPTION;
        w->block_size |= type == NBD_INFO_BLOCK_SIZE;
    }
    return strndup(opt->data + 4, namelen);
}

static int
newstyle_send_info_export(struct connection *conn, struct handshake *hs,
                          uint32_t option)
{
    struct nbd_info_export info = {
        .info = htobe16(NBD_INFO_EXPORT),
        .exportsize = htobe64(conn->exportsize),
        .eflags = htobe16(conn->eflags),
    };

    return newstyle_send_reply(conn, hs, option, NBD_REP_INFO, &info,
                               sizeof info);
}

static int
newstyle_send_info_string(struct connection *conn, struct handshake *hs,
                          uint32_t option, uint16_t type, const char *s)
{
    char buf[2 + NBD_MAX_STRING];
    size_t len = strnlen(s, NBD_MAX_STRING);
    uint16_t t = htobe16(type);

    memcpy(buf, &t, 2);
    memcpy(buf + 2, s, len);
    return newstyle_send_reply(conn, hs, option, NBD_REP_INFO, buf, 2 + len);
}

static int
newstyle_send_info_block_size(struct connection *conn, struct handshake *hs,
                              uint32_t option)
{
    struct nbd_info_block_size info = {
        .info = htobe16(NBD_INFO_BLOCK_SIZE),
        .minimum = htobe32(conn->block_minimum),
        .preferred = htobe32(conn->block_preferred),
        .maximum = htobe32(conn->block_maximum),
    };

    return newstyle_send_reply(conn, hs, option, NBD_REP_INFO, &info,
                               sizeof info);
}

/* The NBD_REP_INFO replies for the open export. */
static int
newstyle_send_infos(struct connection *conn, struct handshake *hs,
                    uint32_t option, const struct info_wants *w)
{
    const char *name = conn->exportname, *desc;

    if (newstyle_send_info_export(conn, hs, option) == -1)
        return -1;
    if (w->name) {
        if (*name == '\0')
            name =
                backend_default_export(top, opts->read_only, conn->using_tls);
        if (newstyle_send_info_string(conn, hs, option, NBD_INFO_NAME,
                                      name ? name : "") == -1)
            return -1;
    }
    if (w->description) {
        desc = backend_export_description(conn->top_context);
        if (desc != NULL &&
            newstyle_send_info_string(conn, hs, option, NBD_INFO_DESCRIPTION,
                                      desc) == -1)
            return -1;
    }
    if (w->block_size && newstyle_send_info_block_size(conn, hs, option) == -1)
        return -1;
    return 0;
}

/* Leaving the handshake: the meta context selection holds only if it
 * was made for the export being served.
 */
static void
newstyle_finish(struct connection *conn, const struct handshake *hs)
{
    const char *meta_export = hs->meta_selected ? hs->meta_export : NULL;

    /* conn->exportname is canonical: "" became the default export. */
    if (meta_export && *meta_export == '\0')
        meta_export =
            backend_default_export(top, opts->read_only, conn->using_tls);
    conn->meta_context_base_allocation =
        meta_export && conn->structured_replies &&
        strcmp(meta_export, conn->exportname) == 0;
}

static int
newstyle_opt_info_go(struct connection *conn, struct handshake *hs,
                     const struct option *opt)
{
    struct info_wants w = {false, false, false};
    CLEANUP_FREE char *name = newstyle_parse_info(opt, &w);

    if (name == NULL)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "malformed NBD_OPT_INFO/GO");
    if (protocol_open_export(conn, name) == -1)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_UNKNOWN,
                                   "export not available");
    if (newstyle_send_infos(conn, hs, opt->code, &w) == -1)
        return -1;
    if (opt->code == NBD_OPT_INFO) {
        protocol_close_export(conn);
        return newstyle_send_ack(conn, hs, opt->code);
    }
    newstyle_finish(conn, hs);
    if (newstyle_send_ack(conn, hs, opt->code) == -1)
        return -1;
    return 1;
}

/* ---- NBD_OPT_EXPORT_NAME: no reply possible, so errors disconnect ---- */

static int
newstyle_opt_export_name(struct connection *conn, struct handshake *hs,
                         const struct option *opt)
{
    struct nbd_export_name_reply r;
    size_t len = sizeof r;

    if (conn->extended_headers) {
        nbdkit_error("NBD_OPT_EXPORT_NAME after extended headers");
        return -1;
    }
    if (!newstyle_valid_string(opt->data, opt->len)) {
        nbdkit_error("NBD_OPT_EXPORT_NAME: invalid export name");
        return -1;
    }
    if (protocol_open_export(conn, opt->data) == -1)
        return -1;
    newstyle_finish(conn, hs);

    memset(&r, 0, sizeof r);
    r.exportsize = htobe64(conn->exportsize);
    r.eflags = htobe16(conn->eflags);
    if (hs->cflags & NBD_FLAG_C_NO_ZEROES)
        len -= sizeof r.zeroes;
    if (newstyle_put(conn, hs, &r, len) == -1)
        return -1;
    return 1;
}

/* ---- Options that take no data ---- */

static int
newstyle_opt_structured_reply(struct connection *conn, struct handshake *hs,
                              const struct option *opt)
{
    if (opt->len != 0)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "option takes no data");
    if (opts->no_sr)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_UNSUP,
                                   "structured replies disabled");
    if (conn->extended_headers)
        return newstyle_send_error(conn, hs, opt->code,
                                   NBD_REP_ERR_EXT_HEADER_REQD,
                                   "extended headers already negotiated");
    conn->structured_replies = true;
    return newstyle_send_ack(conn, hs, opt->code);
}

static int
newstyle_opt_extended_headers(struct connection *conn, struct handshake *hs,
                              const struct option *opt)
{
    if (opt->len != 0)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "option takes no data");
    if (opts->no_sr)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_UNSUP,
                                   "structured replies disabled");
    conn->extended_headers = true;
    conn->structured_replies = true;
    return newstyle_send_ack(conn, hs, opt->code);
}

/* ---- NBD_OPT_STARTTLS ---- */

/* CVE-2021-3716: nothing negotiated in plaintext, where a man in the
 * middle could have injected it, may survive the upgrade.  The client
 * flags of the greeting stay: they are not an option.
 */
static void
newstyle_forget_plaintext(struct connection *conn, struct handshake *hs)
{
    conn->structured_replies = false;
    conn->extended_headers = false;
    conn->meta_context_base_allocation = false;
    free(conn->exportname);
    conn->exportname = NULL;
    conn->eflags = 0;
    conn->exportsize = 0;
    conn->block_minimum = conn->block_preferred = conn->block_maximum = 0;
    hs->meta_selected = false;
    free(hs->meta_export);
    hs->meta_export = NULL;
    hs->budget = OPTION_BUDGET;
}

static int
newstyle_opt_starttls(struct connection *conn, struct handshake *hs,
                      const struct option *opt)
{
    if (opt->len != 0)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "NBD_OPT_STARTTLS takes no data");
    if (conn->using_tls)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "TLS already negotiated");
    if (!HAVE_GNUTLS)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_UNSUP,
                                   "this server was built without TLS");
    if (opts->tls == 0)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_POLICY,
                                   "TLS is not enabled on this server");
    /* INFO closes what it opens; GO ends the handshake. */
    assert(conn->top_context == NULL);
    if (newstyle_send_ack(conn, hs, opt->code) == -1 ||
        newstyle_flush(conn, hs) == -1)
        return -1;
    if (crypto_negotiate_tls(conn) == -1)
        return -1;
    newstyle_forget_plaintext(conn, hs);
    debug("TLS negotiated; plaintext option state discarded");
    return 0;
}

/* ---- NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT ---- */

/* Does query q (len bytes) pick base:allocation? */
static bool
newstyle_query_matches(uint32_t option, const char *q, uint32_t len)
{
    if (len == sizeof base_allocation - 1 &&
        memcmp(q, base_allocation, len) == 0)
        return true;
    /* "base:" is a wildcard for LIST, and must be ignored by SET. */
    return option == NBD_OPT_LIST_META_CONTEXT && len == 5 &&
           memcmp(q, "base:", 5) == 0;
}

/* Parse "u32 namelen, name, u32 n, n x (u32 len, query)".  Returns the
 * export name (owned) and sets *match, or NULL if malformed.
 */
static char *
newstyle_parse_meta(const struct option *opt, bool *match)
{
    uint32_t namelen, n, qlen, left;
    const char *p;

    if (newstyle_parse_name(opt, 4, &namelen) == -1)
        return NULL;
    p = opt->data + 4 + namelen;
    memcpy(&n, p, 4);
    n = be32toh(n);
    p += 4;
    left = opt->len - 8 - namelen;
    *match = n == 0 && opt->code == NBD_OPT_LIST_META_CONTEXT;
    for (; n > 0; n--) {
        if (left < 4)
            return NULL;
        memcpy(&qlen, p, 4);
        qlen = be32toh(qlen);
        if (qlen > left - 4 || !newstyle_valid_string(p + 4, qlen))
            return NULL;
        *match |= newstyle_query_matches(opt->code, p + 4, qlen);
        p += 4 + qlen;
        left -= 4 + qlen;
    }
    if (left != 0)
        return NULL;
    return strndup(opt->data + 4, namelen);
}

static int
newstyle_opt_meta_context(struct connection *conn, struct handshake *hs,
                          const struct option *opt)
{
    bool set = opt->code == NBD_OPT_SET_META_CONTEXT, match = false;
    char *name;

    if (opts->no_mc)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_UNSUP,
                                   "meta contexts disabled");
    if (set)
        hs->meta_selected = false;
    if (!conn->structured_replies)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "structured replies not negotiated");
    name = newstyle_parse_meta(opt, &match);
    if (name == NULL)
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_INVALID,
                                   "malformed meta context option");
    if (set) {
        free(hs->meta_export);
        hs->meta_export = name;
        hs->meta_selected = match;
    } else
        free(name);
    if (match &&
        newstyle_send_word_strings(conn, hs, opt->code, NBD_REP_META_CONTEXT,
                                   set ? NBDX_CONTEXT_BASE_ALLOCATION : 0,
                                   base_allocation, NULL))
        return -1;
    return newstyle_send_ack(conn, hs, opt->code);
}

/* ---- The option loop ---- */

/* Read one option header and its data.  -1 means disconnect. */
static int
newstyle_recv_option(struct connection *conn, struct handshake *hs,
                     struct option *opt)
{
    struct nbd_new_option h;

    if (newstyle_flush(conn, hs) == -1)
        return -1;
    if (conn->recv(conn, &h, sizeof h) == -1) {
        debug("client closed the connection during the handshake");
        return -1;
    }
    if (be64toh(h.version) != NBD_NEW_VERSION) {
        nbdkit_error("bad option magic: not IHAVEOPT");
        return -1;
    }
    opt->code = be32toh(h.option);
    opt->len = be32toh(h.optlen);
    if (opt->len > MAX_OPTION_LENGTH) {
        nbdkit_error("option %" PRIu32 " too long (%" PRIu32 " bytes)",
                     opt->code, opt->len);
        return -1;
    }
    if (hs->budget-- == 0) {
        nbdkit_error("too many options without choosing an export");
        return -1;
    }
    opt->data = malloc(opt->len + 1);
    if (opt->data == NULL) {
        nbdkit_error("malloc: %m");
        return -1;
    }
    opt->data[opt->len] = '\0';
    if (conn->recv(conn, opt->data, opt->len) == -1) {
        debug("client closed the connection inside an option");
        return -1;
    }
    return 0;
}

/* Handle one option: -1 disconnect, 0 next option, 1 handshake done. */
static int
newstyle_dispatch(struct connection *conn, struct handshake *hs,
                  const struct option *opt)
{
    if (!(hs->cflags & NBD_FLAG_C_FIXED_NEWSTYLE) &&
        opt->code != NBD_OPT_EXPORT_NAME) {
        nbdkit_error("option %" PRIu32 " from a non-fixed newstyle client",
                     opt->code);
        return -1;
    }
    if (opts->tls == 2 && !conn->using_tls && opt->code != NBD_OPT_STARTTLS &&
        opt->code != NBD_OPT_ABORT) {
        if (opt->code == NBD_OPT_EXPORT_NAME)
            return -1;
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_TLS_REQD,
                                   "TLS is required");
    }
    switch (opt->code) {
    case NBD_OPT_EXPORT_NAME:
        return newstyle_opt_export_name(conn, hs, opt);
    case NBD_OPT_ABORT:
        debug("client sent NBD_OPT_ABORT");
        /* A client may close without reading the ack (nbdinfo --list
         * does), so a failed send here is no error worth logging.
         */
        if (newstyle_send_ack(conn, hs, opt->code) == 0 && hs->out_len > 0)
            conn->send(conn, hs->out, hs->out_len, 0);
        hs->out_len = 0;
        return -1;
    case NBD_OPT_LIST:
        return newstyle_opt_list(conn, hs, opt);
    case NBD_OPT_STARTTLS:
        return newstyle_opt_starttls(conn, hs, opt);
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
        return newstyle_opt_info_go(conn, hs, opt);
    case NBD_OPT_STRUCTURED_REPLY:
        return newstyle_opt_structured_reply(conn, hs, opt);
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
        return newstyle_opt_meta_context(conn, hs, opt);
    case NBD_OPT_EXTENDED_HEADERS:
        return newstyle_opt_extended_headers(conn, hs, opt);
    default:
        return newstyle_send_error(conn, hs, opt->code, NBD_REP_ERR_UNSUP,
                                   "unknown option");
    }
}

static int
newstyle_greet(struct connection *conn, struct handshake *hs)
{
    struct nbd_new_handshake h;
    uint16_t gflags;

    gflags =
        (NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES) & opts->mask_handshake;
    h.nbdmagic = htobe64(NBD_MAGIC);
    h.version = htobe64(NBD_NEW_VERSION);
    h.gflags = htobe16(gflags);
    if (conn->send(conn, &h, sizeof h, 0) == -1) {
        nbdkit_error("newstyle handshake: write: %m");
        return -1;
    }
    if (conn->recv(conn, &hs->cflags, sizeof hs->cflags) == -1) {
        debug("client closed the connection before sending its flags");
        return -1;
    }
    hs->cflags = be32toh(hs->cflags);
    if (hs->cflags & ~(uint32_t)gflags) {
        nbdkit_error("client sent unknown flags %#" PRIx32, hs->cflags);
        return -1;
    }
    return 0;
}

int
protocol_handshake_newstyle(struct connection *conn)
{
    struct handshake hs = {.budget = OPTION_BUDGET};
    struct option opt;
    int r;

    if (newstyle_greet(conn, &hs) == -1)
        return -1;
    do {
        opt.data = NULL;
        r = newstyle_recv_option(conn, &hs, &opt);
        if (r == 0) {
            threadlocal_clear_last_error();
            r = newstyle_dispatch(conn, &hs, &opt);
        }
        free(opt.data);
    } while (r == 0);
    free(hs.meta_export);
    /* The last replies: GO's, or an error's before a disconnect. */
    if (newstyle_flush(conn, &hs) == -1)
        return -1;
    return r == 1 ? 0 : -1;
}
