/* SPDX-License-Identifier: BSD-3-Clause */
/* tlsclient.c: an NBD client for the STARTTLS corner cases real clients
 * never produce.
 *
 * Usage: tlsclient SOCKET SCENARIO PSKFILE
 *
 * The client authenticates with the first username:hexkey line of
 * PSKFILE.  Each scenario connects to the Unix socket, does one thing,
 * checks the server's answers and exits 0 if the server behaved, 1 with
 * a message if not.  The export must be at least 512 bytes.
 */

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "nbd-protocol.h"

#define PSK_PRIORITY "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK"
#define TIMEOUT_MS 20000

/* One connection: TLS once tls is set. */
struct peer {
    int fd;
    gnutls_session_t tls;
};

static const char *sockpath;

/* Every session and credential made, freed at exit so LeakSanitizer
 * sees a clean client.
 */
#define MAX_SESSIONS 16
static gnutls_session_t sessions[MAX_SESSIONS];
static gnutls_psk_client_credentials_t creds[MAX_SESSIONS];
static size_t nsessions;

static void
tc_free_all(void)
{
    size_t i;

    for (i = 0; i < nsessions; i++) {
        gnutls_deinit(sessions[i]);
        gnutls_psk_free_client_credentials(creds[i]);
    }
    nsessions = 0;
}

static char psk_user[1300];
static char psk_key[1300];

static void __attribute__((noreturn, format(printf, 1, 2)))
tc_fail(const char *fs, ...)
{
    va_list args;

    va_start(args, fs);
    fprintf(stderr, "tlsclient: FAIL: ");
    vfprintf(stderr, fs, args);
    fprintf(stderr, "\n");
    va_end(args);
    exit(1);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            tc_fail(__VA_ARGS__);                                              \
    } while (0)

static void
tc_load_psk(const char *file)
{
    FILE *fp = fopen(file, "r");
    char line[1300];
    char *colon;

    CHECK(fp != NULL, "%s: %m", file);
    CHECK(fgets(line, sizeof line, fp) != NULL, "%s: empty", file);
    fclose(fp);
    line[strcspn(line, "\r\n")] = '\0';
    colon = strchr(line, ':');
    CHECK(colon != NULL, "%s: no username:key line", file);
    *colon = '\0';
    snprintf(psk_user, sizeof psk_user, "%s", line);
    snprintf(psk_key, sizeof psk_key, "%s", colon + 1);
}

static struct peer
tc_connect(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct peer p = {.fd = socket(AF_UNIX, SOCK_STREAM, 0)};

    CHECK(p.fd >= 0, "socket: %m");
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sockpath);
    CHECK(connect(p.fd, (struct sockaddr *)&addr, sizeof addr) == 0,
          "connect: %s: %m", sockpath);
    return p;
}

static void
tc_write(struct peer *p, const void *buf, size_t len)
{
    const char *s = buf;
    ssize_t r;

    while (len > 0) {
        if (p->tls) {
            r = gnutls_record_send(p->tls, s, len);
            CHECK(r > 0, "TLS write: %s", gnutls_strerror(r));
        } else {
            r = send(p->fd, s, len, MSG_NOSIGNAL);
            CHECK(r > 0, "write: %m");
        }
        s += r;
        len -= r;
    }
}

/* Wait for input, unless TLS already holds some. */
static bool
tc_wait(struct peer *p)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};

    if (p->tls && gnutls_record_check_pending(p->tls) > 0)
        return true;
    return poll(&pfd, 1, TIMEOUT_MS) == 1;
}

/* Some bytes: > 0, or 0 at EOF, or < 0 on error. */
static ssize_t
tc_read_some(struct peer *p, void *buf, size_t len)
{
    ssize_t r;

    if (!tc_wait(p))
        tc_fail("read: timed out");
    if (p->tls == NULL)
        return recv(p->fd, buf, len, 0);
    do
        r = gnutls_record_recv(p->tls, buf, len);
    while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
    return r;
}

static void
tc_read(struct peer *p, void *buf, size_t len)
{
    char *s = buf;

    while (len > 0) {
        ssize_t r = tc_read_some(p, s, len);
        CHECK(r > 0, "read: %s",
              r == 0 ? "unexpected EOF" : "error or connection reset");
        s += r;
        len -= r;
    }
}

/* The server must end the connection; anything it sends first is
 * ignored (a TLS alert, for instance).
 */
static void
tc_expect_eof(struct peer *p)
{
    char buf[4096];

    while (tc_read_some(p, buf, sizeof buf) > 0)
        ;
}

/* ---- handshake ---- */

static void
tc_greet(struct peer *p)
{
    struct nbd_new_handshake h;
    uint32_t cflags = htobe32(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);

    tc_read(p, &h, sizeof h);
    CHECK(be64toh(h.nbdmagic) == NBD_MAGIC &&
              be64toh(h.version) == NBD_NEW_VERSION,
          "bad greeting");
    tc_write(p, &cflags, sizeof cflags);
}

static void
tc_send_option(struct peer *p, uint32_t option, const void *data, uint32_t len)
{
    struct nbd_new_option h = {
        .version = htobe64(NBD_NEW_VERSION),
        .option = htobe32(option),
        .optlen = htobe32(len),
    };

    tc_write(p, &h, sizeof h);
    if (len)
        tc_write(p, data, len);
}

/* One option reply; its payload goes to buf.  Returns the reply type. */
static uint32_t
tc_recv_reply(struct peer *p, uint32_t option, void *buf, uint32_t size,
              uint32_t *lenp)
{
    struct nbd_option_reply h;
    char skip[NBD_MAX_STRING + 8];
    uint32_t len;

    tc_read(p, &h, sizeof h);
    CHECK(be64toh(h.magic) == NBD_REP_MAGIC, "bad option reply magic");
    CHECK(be32toh(h.option) == option, "reply to option %u, not %u",
          be32toh(h.option), option);
    len = be32toh(h.replylen);
    CHECK(len <= sizeof skip, "option reply too long: %u", len);
    tc_read(p, skip, len);
    if (buf)
        memcpy(buf, skip, len < size ? len : size);
    if (lenp)
        *lenp = len;
    return be32toh(h.reply);
}

static void
tc_expect_reply(struct peer *p, uint32_t option, uint32_t want)
{
    uint32_t got = tc_recv_reply(p, option, NULL, 0, NULL);

    CHECK(got == want, "option %u: reply %#x, expected %#x", option, got, want);
}

static int
tc_handshake(struct peer *p, const char *versions)
{
    gnutls_psk_client_credentials_t cred;
    gnutls_datum_t key = {(unsigned char *)psk_key, strlen(psk_key)};
    char prio[256];
    int r;

    snprintf(prio, sizeof prio, "%s%s", PSK_PRIORITY, versions);
    CHECK(gnutls_psk_allocate_client_credentials(&cred) == 0, "psk creds");
    CHECK(gnutls_psk_set_client_credentials(cred, psk_user, &key,
                                            GNUTLS_PSK_KEY_HEX) == 0,
          "psk key");
    CHECK(gnutls_init(&p->tls, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL) == 0,
          "gnutls_init");
    CHECK(nsessions < MAX_SESSIONS, "too many TLS sessions");
    sessions[nsessions] = p->tls;
    creds[nsessions++] = cred;
    CHECK(gnutls_priority_set_direct(p->tls, prio, NULL) == 0, "priority %s",
          prio);
    CHECK(gnutls_credentials_set(p->tls, GNUTLS_CRD_PSK, cred) == 0, "creds");
    gnutls_transport_set_int(p->tls, p->fd);
    gnutls_handshake_set_timeout(p->tls, TIMEOUT_MS);
    do
        r = gnutls_handshake(p->tls);
    while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        fprintf(stderr, "tlsclient: handshake: %s\n", gnutls_strerror(r));
        p->tls = NULL; /* freed by tc_free_all */
    }
    return r;
}

/* STARTTLS, its ACK, a successful TLS handshake. */
static void
tc_starttls(struct peer *p)
{
    tc_send_option(p, NBD_OPT_STARTTLS, NULL, 0);
    tc_expect_reply(p, NBD_OPT_STARTTLS, NBD_REP_ACK);
    CHECK(tc_handshake(p, "") == 0, "TLS handshake failed");
}

/* "u32 namelen, name, u16 0": INFO or GO for the default export. */
static const char info_default[6] = {0};

/* GO on the default export; returns the transmission flags. */
static uint16_t
tc_go(struct peer *p)
{
    struct nbd_info_export info;
    uint16_t eflags = 0;
    uint32_t type, len;

    tc_send_option(p, NBD_OPT_GO, info_default, sizeof info_default);
    while ((type = tc_recv_reply(p, NBD_OPT_GO, &info, sizeof info, &len)) ==
           NBD_REP_INFO)
        if (len == sizeof info && be16toh(info.info) == NBD_INFO_EXPORT)
            eflags = be16toh(info.eflags);
    CHECK(type == NBD_REP_ACK, "GO: reply %#x", type);
    CHECK(eflags & NBD_FLAG_HAS_FLAGS, "GO: no NBD_INFO_EXPORT");
    return eflags;
}

/* ---- transmission ---- */

static void
tc_request(struct peer *p, uint16_t type, uint64_t cookie, uint32_t count)
{
    struct nbd_request r = {
        .magic = htobe32(NBD_REQUEST_MAGIC),
        .type = htobe16(type),
        .cookie = htobe64(cookie),
        .offset = 0,
        .count = htobe32(count),
    };

    tc_write(p, &r, sizeof r);
}

/* A simple reply to cookie; returns its error. */
static uint32_t
tc_simple_reply(struct peer *p, uint64_t cookie)
{
    struct nbd_simple_reply r;

    tc_read(p, &r, sizeof r);
    CHECK(be32toh(r.magic) == NBD_SIMPLE_REPLY_MAGIC,
          "reply magic %#x: not a simple reply", be32toh(r.magic));
    CHECK(be64toh(r.cookie) == cookie, "reply to the wrong cookie");
    return be32toh(r.error);
}

/* A structured reply chunk header for cookie; returns its type. */
static uint16_t
tc_structured_chunk(struct peer *p, uint64_t cookie, uint32_t *len)
{
    struct nbd_structured_reply r;

    tc_read(p, &r, sizeof r);
    CHECK(be32toh(r.magic) == NBD_STRUCTURED_REPLY_MAGIC,
          "reply magic %#x: not a structured reply", be32toh(r.magic));
    CHECK(be64toh(r.cookie) == cookie, "reply to the wrong cookie");
    *len = be32toh(r.length);
    return be16toh(r.type);
}

static void
tc_disconnect(struct peer *p)
{
    tc_request(p, NBD_CMD_DISC, 99, 0);
    if (p->tls)
        gnutls_bye(p->tls, GNUTLS_SHUT_WR);
    tc_expect_eof(p);
    close(p->fd);
}

/* READ 512 bytes at 0 with simple replies, and disconnect. */
static void
tc_read_simple(struct peer *p)
{
    char buf[512];

    tc_request(p, NBD_CMD_READ, 1, sizeof buf);
    CHECK(tc_simple_reply(p, 1) == 0, "READ failed");
    tc_read(p, buf, sizeof buf);
    tc_disconnect(p);
}

/* ---- scenarios ---- */

static const char meta_query[] = {
    0,   0,   0,   0,  /* export name "" */
    0,   0,   0,   1,  /* one query */
    0,   0,   0,   15, /* of 15 bytes */
    'b', 'a', 's', 'e', ':', 'a', 'l', 'l', 'o', 'c', 'a', 't', 'i', 'o', 'n',
};

/* Structured replies, a meta context, extended headers and an INFO in
 * plaintext; none may be in force after STARTTLS (CVE-2021-3716).
 */
static void
scenario_reset(void)
{
    struct peer p = tc_connect();
    uint32_t type;

    tc_greet(&p);
    tc_send_option(&p, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    tc_expect_reply(&p, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK);
    tc_send_option(&p, NBD_OPT_SET_META_CONTEXT, meta_query, sizeof meta_query);
    tc_expect_reply(&p, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT);
    tc_expect_reply(&p, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK);
    tc_send_option(&p, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    tc_expect_reply(&p, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK);
    tc_send_option(&p, NBD_OPT_INFO, info_default, sizeof info_default);
    while ((type = tc_recv_reply(&p, NBD_OPT_INFO, NULL, 0, NULL)) ==
           NBD_REP_INFO)
        ;
    CHECK(type == NBD_REP_ACK, "INFO: reply %#x", type);
    tc_starttls(&p);
    CHECK(!(tc_go(&p) & NBD_FLAG_SEND_DF),
          "DF advertised: structured replies survived STARTTLS");
    tc_request(&p, NBD_CMD_BLOCK_STATUS, 2, 512);
    CHECK(tc_simple_reply(&p, 2) == NBD_EINVAL,
          "BLOCK_STATUS allowed: the meta context survived STARTTLS");
    tc_read_simple(&p);
}

/* The control for reset: the same options sent under TLS do work, so
 * reset would notice if they survived.
 */
static void
scenario_renegotiate(void)
{
    struct peer p = tc_connect();
    uint32_t len;
    char buf[512];

    tc_greet(&p);
    tc_starttls(&p);
    tc_send_option(&p, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    tc_expect_reply(&p, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK);
    tc_send_option(&p, NBD_OPT_SET_META_CONTEXT, meta_query, sizeof meta_query);
    tc_expect_reply(&p, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT);
    tc_expect_reply(&p, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK);
    CHECK(tc_go(&p) & NBD_FLAG_SEND_DF, "no DF with structured replies");
    tc_request(&p, NBD_CMD_BLOCK_STATUS, 2, 512);
    CHECK(tc_structured_chunk(&p, 2, &len) == NBD_REPLY_TYPE_BLOCK_STATUS,
          "BLOCK_STATUS under TLS failed");
    CHECK(len <= sizeof buf, "block status chunk too long");
    tc_read(&p, buf, len);
    tc_disconnect(&p);
}

static void
scenario_starttls_data(void)
{
    struct peer p = tc_connect();

    tc_greet(&p);
    tc_send_option(&p, NBD_OPT_STARTTLS, "data", 4);
    tc_expect_reply(&p, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID);
    tc_starttls(&p);
    tc_go(&p);
    tc_read_simple(&p);
}

static void
scenario_starttls_twice(void)
{
    struct peer p = tc_connect();

    tc_greet(&p);
    tc_starttls(&p);
    tc_send_option(&p, NBD_OPT_STARTTLS, NULL, 0);
    tc_expect_reply(&p, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID);
    tc_go(&p);
    tc_read_simple(&p);
}

/* --tls=require: every option but STARTTLS and ABORT is refused with
 * ERR_TLS_REQD and nothing else, its payload consumed.
 */
static void
scenario_require_gate(void)
{
    static const uint32_t opts[] = {
        NBD_OPT_LIST,
        NBD_OPT_INFO,
        NBD_OPT_GO,
        NBD_OPT_STRUCTURED_REPLY,
        NBD_OPT_SET_META_CONTEXT,
        NBD_OPT_LIST_META_CONTEXT,
        NBD_OPT_EXTENDED_HEADERS,
        99,
    };
    char junk[100] = "junk";
    struct peer p = tc_connect();
    size_t i;

    tc_greet(&p);
    for (i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        tc_send_option(&p, opts[i], junk, sizeof junk);
        tc_expect_reply(&p, opts[i], NBD_REP_ERR_TLS_REQD);
    }
    tc_send_option(&p, NBD_OPT_GO, info_default, sizeof info_default);
    tc_expect_reply(&p, NBD_OPT_GO, NBD_REP_ERR_TLS_REQD);
    tc_starttls(&p);
    tc_go(&p);
    tc_read_simple(&p);
}

static void
scenario_require_export_name(void)
{
    struct peer p = tc_connect();

    tc_greet(&p);
    tc_send_option(&p, NBD_OPT_EXPORT_NAME, NULL, 0);
    tc_expect_eof(&p);
}

/* Plaintext sent after STARTTLS, before the ACK arrived, must not be
 * taken as part of the TLS stream or as an option.
 */
static void
scenario_injection(void)
{
    struct nbd_new_option h[2] = {
        {htobe64(NBD_NEW_VERSION), htobe32(NBD_OPT_STARTTLS), 0},
        {htobe64(NBD_NEW_VERSION), htobe32(NBD_OPT_LIST), 0},
    };
    struct peer p = tc_connect();

    tc_greet(&p);
    tc_write(&p, h, sizeof h);
    tc_expect_reply(&p, NBD_OPT_STARTTLS, NBD_REP_ACK);
    CHECK(tc_handshake(&p, "") < 0,
          "TLS handshake succeeded after injected plaintext");
    tc_expect_eof(&p);
}

/* TLS with only the given protocol versions: must it work? */
static void
scenario_version(const char *versions, bool ok)
{
    struct peer p = tc_connect();

    tc_greet(&p);
    tc_send_option(&p, NBD_OPT_STARTTLS, NULL, 0);
    tc_expect_reply(&p, NBD_OPT_STARTTLS, NBD_REP_ACK);
    if (!ok) {
        CHECK(tc_handshake(&p, versions) < 0, "%s accepted", versions);
        return;
    }
    CHECK(tc_handshake(&p, versions) == 0, "%s refused", versions);
    tc_go(&p);
    tc_read_simple(&p);
}

/* After the STARTTLS ACK: send part of a TLS record (a ClientHello
 * header announcing 512 bytes, then 10 of them), then stall or hang up.
 */
static void
scenario_partial_record(bool hang_up)
{
    static const char part[15] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    struct peer p = tc_connect();

    tc_greet(&p);
    tc_send_option(&p, NBD_OPT_STARTTLS, NULL, 0);
    tc_expect_reply(&p, NBD_OPT_STARTTLS, NBD_REP_ACK);
    tc_write(&p, part, sizeof part);
    if (hang_up)
        close(p.fd);
    else
        tc_expect_eof(&p);
}

/* Nothing at all after the STARTTLS ACK: the server's deadline ends it. */
static void
scenario_stall(void)
{
    struct peer p = tc_connect();

    tc_greet(&p);
    tc_send_option(&p, NBD_OPT_STARTTLS, NULL, 0);
    tc_expect_reply(&p, NBD_OPT_STARTTLS, NBD_REP_ACK);
    tc_expect_eof(&p);
}

int
main(int argc, char *argv[])
{
    const char *s;

    if (argc != 4) {
        fprintf(stderr, "usage: tlsclient SOCKET SCENARIO PSKFILE\n");
        return 2;
    }
    sockpath = argv[1];
    s = argv[2];
    tc_load_psk(argv[3]);
    if (strcmp(s, "reset") == 0)
        scenario_reset();
    else if (strcmp(s, "renegotiate") == 0)
        scenario_renegotiate();
    else if (strcmp(s, "starttls-data") == 0)
        scenario_starttls_data();
    else if (strcmp(s, "starttls-twice") == 0)
        scenario_starttls_twice();
    else if (strcmp(s, "require-gate") == 0)
        scenario_require_gate();
    else if (strcmp(s, "require-export-name") == 0)
        scenario_require_export_name();
    else if (strcmp(s, "injection") == 0)
        scenario_injection();
    else if (strcmp(s, "tls1.1-refused") == 0)
        scenario_version(":-VERS-ALL:+VERS-TLS1.1", false);
    else if (strcmp(s, "tls1.2") == 0)
        scenario_version(":-VERS-ALL:+VERS-TLS1.2", true);
    else if (strcmp(s, "tls1.3") == 0)
        scenario_version(":-VERS-ALL:+VERS-TLS1.3", true);
    else if (strcmp(s, "tls1.3-refused") == 0)
        scenario_version(":-VERS-ALL:+VERS-TLS1.3", false);
    else if (strcmp(s, "stall") == 0)
        scenario_stall();
    else if (strcmp(s, "stall-mid-record") == 0)
        scenario_partial_record(false);
    else if (strcmp(s, "hangup-mid-record") == 0)
        scenario_partial_record(true);
    else {
        fprintf(stderr, "tlsclient: unknown scenario %s\n", s);
        return 2;
    }
    tc_free_all();
    return 0;
}
