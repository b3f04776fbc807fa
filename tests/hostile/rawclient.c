/* SPDX-License-Identifier: BSD-3-Clause */
/* rawclient.c: an NBD client that sends what libnbd will not.
 *
 * Usage: rawclient SOCKET SCENARIO [SIZE]
 *
 * Each scenario connects to the server on the Unix socket, does one
 * hostile or unusual thing, checks the server's answer byte by byte and
 * exits 0 if the server behaved, 1 (with a message) if not.  SIZE is the
 * export size the test started the server with, where it matters.
 */

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbd-protocol.h"

static const char *sockpath;
static uint64_t export_size;

/* ---- Plumbing ---- */

static void __attribute__((noreturn, format(printf, 1, 2)))
raw_fail(const char *fs, ...)
{
    va_list args;

    va_start(args, fs);
    fprintf(stderr, "rawclient: FAIL: ");
    vfprintf(stderr, fs, args);
    fprintf(stderr, "\n");
    va_end(args);
    exit(1);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            raw_fail(__VA_ARGS__);                                             \
    } while (0)

static int
raw_connect(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket: %m");
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sockpath);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0,
          "connect: %s: %m", sockpath);
    return fd;
}

static void
raw_write(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    ssize_t r;

    while (len > 0) {
        r = send(fd, p, len, MSG_NOSIGNAL);
        CHECK(r > 0, "write: %m");
        p += r;
        len -= r;
    }
}

/* Read exactly len bytes, failing on EOF or after 10 seconds. */
static void
raw_read(int fd, void *buf, size_t len)
{
    char *p = buf;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t r;

    while (len > 0) {
        CHECK(poll(&pfd, 1, 10000) == 1, "read: timed out");
        r = recv(fd, p, len, 0);
        CHECK(r > 0, "read: %s", r == 0 ? "unexpected EOF" : strerror(errno));
        p += r;
        len -= r;
    }
}

/* The server must close the connection within 10 seconds; anything it
 * sends first is ignored.
 */
static void
raw_expect_eof(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char buf[65536];
    ssize_t r;

    for (;;) {
        CHECK(poll(&pfd, 1, 10000) == 1, "server did not disconnect");
        r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r == -1 && errno == ECONNRESET))
            return;
        CHECK(r > 0, "read: %m");
    }
}

/* ---- Handshake ---- */

/* Read the greeting and answer with cflags; returns the server flags. */
static uint16_t
raw_greet(int fd, uint32_t cflags)
{
    struct nbd_new_handshake h;

    raw_read(fd, &h, sizeof h);
    CHECK(be64toh(h.nbdmagic) == NBD_MAGIC, "bad NBDMAGIC");
    CHECK(be64toh(h.version) == NBD_NEW_VERSION, "not newstyle");
    cflags = htobe32(cflags);
    raw_write(fd, &cflags, 4);
    return be16toh(h.gflags);
}

static void
raw_send_option(int fd, uint32_t option, const void *data, uint32_t len)
{
    struct nbd_new_option h = {htobe64(NBD_NEW_VERSION), htobe32(option),
                               htobe32(len)};

    raw_write(fd, &h, sizeof h);
    if (len)
        raw_write(fd, data, len);
}

/* Read one option reply into buf (NUL-terminated); returns its type. */
static uint32_t
raw_recv_reply(int fd, uint32_t option, char *buf, size_t size, uint32_t *len)
{
    struct nbd_option_reply h;

    raw_read(fd, &h, sizeof h);
    CHECK(be64toh(h.magic) == NBD_REP_MAGIC, "bad option reply magic");
    CHECK(be32toh(h.option) == option, "reply to option %" PRIu32 ", not %u",
          be32toh(h.option), option);
    *len = be32toh(h.replylen);
    CHECK(*len < size, "option reply too long: %" PRIu32, *len);
    raw_read(fd, buf, *len);
    buf[*len] = '\0';
    return be32toh(h.reply);
}

/* Send a data-less option and return the type of its single reply. */
static uint32_t
raw_option(int fd, uint32_t option, const void *data, uint32_t len)
{
    char buf[8192];
    uint32_t rlen;

    raw_send_option(fd, option, data, len);
    return raw_recv_reply(fd, option, buf, sizeof buf, &rlen);
}

/* NBD_OPT_GO to export "": returns the transmission flags. */
static uint16_t
raw_go(int fd)
{
    char opt[6] = {0}, buf[8192];
    uint32_t type, len;
    uint16_t eflags = 0;
    struct nbd_info_export info;

    raw_send_option(fd, NBD_OPT_GO, opt, sizeof opt);
    while ((type = raw_recv_reply(fd, NBD_OPT_GO, buf, sizeof buf, &len)) ==
           NBD_REP_INFO) {
        CHECK(len >= 2, "short NBD_REP_INFO");
        if (buf[0] == 0 && buf[1] == NBD_INFO_EXPORT) {
            CHECK(len == sizeof info, "NBD_INFO_EXPORT length %" PRIu32, len);
            memcpy(&info, buf, sizeof info);
            eflags = be16toh(info.eflags);
            CHECK(be64toh(info.exportsize) == export_size,
                  "export size %" PRIu64, be64toh(info.exportsize));
        }
    }
    CHECK(type == NBD_REP_ACK, "NBD_OPT_GO failed: %#" PRIx32 " %s", type, buf);
    CHECK(eflags & NBD_FLAG_HAS_FLAGS, "no NBD_INFO_EXPORT before ACK");
    return eflags;
}

/* Connect, greet, optionally negotiate structured replies or extended
 * headers, and enter transmission.
 */
enum style { SIMPLE, STRUCTURED, EXTENDED };

static int
raw_open(enum style style)
{
    int fd = raw_connect();

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    if (style == STRUCTURED)
        CHECK(raw_option(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0) == NBD_REP_ACK,
              "structured replies refused");
    if (style == EXTENDED)
        CHECK(raw_option(fd, NBD_OPT_EXTENDED_HEADERS, NULL, 0) == NBD_REP_ACK,
              "extended headers refused");
    raw_go(fd);
    return fd;
}

/* ---- Transmission ---- */

static void
raw_request(int fd, enum style style, uint16_t flags, uint16_t type,
            uint64_t cookie, uint64_t offset, uint64_t count)
{
    if (style == EXTENDED) {
        struct nbd_extended_request x = {htobe32(NBD_EXTENDED_REQUEST_MAGIC),
                                         htobe16(flags),
                                         htobe16(type),
                                         htobe64(cookie),
                                         htobe64(offset),
                                         htobe64(count)};
        raw_write(fd, &x, sizeof x);
    } else {
        struct nbd_request c = {htobe32(NBD_REQUEST_MAGIC),
                                htobe16(flags),
                                htobe16(type),
                                htobe64(cookie),
                                htobe64(offset),
                                htobe32(count)};
        raw_write(fd, &c, sizeof c);
    }
}

/* One reply chunk, whatever the style; payload (if any) in a malloc'd
 * buffer the caller frees.
 */
struct chunk {
    uint16_t flags, type;
    uint32_t error; /* simple replies and error chunks */
    uint64_t cookie, offset, length;
    char *payload;
};

static void
raw_chunk_payload(int fd, struct chunk *c)
{
    CHECK(c->length <= 64 * 1024 * 1024 + 64, "chunk too long");
    c->payload = malloc(c->length + 1);
    CHECK(c->payload != NULL, "malloc: %m");
    raw_read(fd, c->payload, c->length);
    if (NBD_REPLY_TYPE_IS_ERR(c->type)) {
        struct nbd_chunk_error e;
        CHECK(c->length >= sizeof e, "short error chunk");
        memcpy(&e, c->payload, sizeof e);
        c->error = be32toh(e.error);
        CHECK(c->error != 0, "error chunk with error 0");
        CHECK(be16toh(e.len) <= c->length - sizeof e, "bad message length");
    }
}

/* Read a reply: a simple reply (whose READ data the caller reads) or a
 * structured/extended chunk with its payload.
 */
static void
raw_recv_chunk(int fd, struct chunk *c)
{
    uint32_t magic;

    memset(c, 0, sizeof *c);
    raw_read(fd, &magic, 4);
    magic = be32toh(magic);
    if (magic == NBD_SIMPLE_REPLY_MAGIC) {
        struct nbd_simple_reply s;
        raw_read(fd, (char *)&s + 4, sizeof s - 4);
        c->error = be32toh(s.error);
        c->cookie = be64toh(s.cookie);
        c->flags = NBD_REPLY_FLAG_DONE;
        c->type = 0xffff; /* marks a simple reply */
    } else if (magic == NBD_STRUCTURED_REPLY_MAGIC) {
        struct nbd_structured_reply s;
        raw_read(fd, (char *)&s + 4, sizeof s - 4);
        c->flags = be16toh(s.flags);
        c->type = be16toh(s.type);
        c->cookie = be64toh(s.cookie);
        c->length = be32toh(s.length);
        raw_chunk_payload(fd, c);
    } else if (magic == NBD_EXTENDED_REPLY_MAGIC) {
        struct nbd_extended_reply x;
        raw_read(fd, (char *)&x + 4, sizeof x - 4);
        c->flags = be16toh(x.flags);
        c->type = be16toh(x.type);
        c->cookie = be64toh(x.cookie);
        c->offset = be64toh(x.offset);
        c->length = be64toh(x.length);
        raw_chunk_payload(fd, c);
    } else
        raw_fail("bad reply magic %#" PRIx32, magic);
}

/* Expect a one-chunk reply to cookie with the given NBD error (0 for
 * success without data).
 */
static void
raw_expect_error(int fd, uint64_t cookie, uint32_t error)
{
    struct chunk c;

    raw_recv_chunk(fd, &c);
    CHECK(c.cookie == cookie, "reply cookie %" PRIu64 ", want %" PRIu64,
          c.cookie, cookie);
    CHECK(c.flags & NBD_REPLY_FLAG_DONE, "reply not DONE");
    CHECK(c.error == error, "cookie %" PRIu64 ": error %" PRIu32 ", want %u",
          cookie, c.error, error);
    free(c.payload);
}

/* A READ that must succeed: returns the data (malloc'd), whatever
 * chunks it came in, checking that they tile the range.
 */
static char *
raw_read_ok(int fd, enum style style, uint64_t cookie, uint64_t offset,
            uint32_t count, int *holes)
{
    char *data = calloc(1, count + 1);
    uint64_t covered = 0;
    struct chunk c;

    CHECK(data != NULL, "calloc: %m");
    *holes = 0;
    raw_request(fd, style, 0, NBD_CMD_READ, cookie, offset, count);
    do {
        raw_recv_chunk(fd, &c);
        CHECK(c.cookie == cookie, "READ reply cookie mismatch");
        CHECK(c.error == 0, "READ failed with error %" PRIu32, c.error);
        if (c.type == 0xffff) {
            raw_read(fd, data, count);
            return data;
        }
        if (c.type == NBD_REPLY_TYPE_OFFSET_DATA) {
            uint64_t off = be64toh(*(uint64_t *)c.payload);
            uint64_t len = c.length - 8;
            CHECK(c.length > 8 && off >= offset && off + len <= offset + count,
                  "OFFSET_DATA chunk outside the request");
            memcpy(data + (off - offset), c.payload + 8, len);
            covered += len;
        } else if (c.type == NBD_REPLY_TYPE_OFFSET_HOLE) {
            struct nbd_chunk_offset_hole h;
            CHECK(c.length == sizeof h, "OFFSET_HOLE length %" PRIu64,
                  c.length);
            memcpy(&h, c.payload, sizeof h);
            CHECK(be64toh(h.offset) >= offset && be32toh(h.length) > 0 &&
                      be64toh(h.offset) + be32toh(h.length) <= offset + count,
                  "OFFSET_HOLE chunk outside the request");
            covered += be32toh(h.length);
            (*holes)++;
        } else
            raw_fail("unexpected chunk type %u for READ", c.type);
        free(c.payload);
    } while (!(c.flags & NBD_REPLY_FLAG_DONE));
    CHECK(covered == count, "READ chunks cover %" PRIu64 " of %u bytes",
          covered, count);
    return data;
}

static void
raw_write_ok(int fd, enum style style, uint64_t cookie, uint64_t offset,
             const void *buf, uint32_t count)
{
    uint16_t flags = style == EXTENDED ? NBD_CMD_FLAG_PAYLOAD_LEN : 0;

    raw_request(fd, style, flags, NBD_CMD_WRITE, cookie, offset, count);
    raw_write(fd, buf, count);
    raw_expect_error(fd, cookie, 0);
}

/* The stream is still in step: a small READ works. */
static void
raw_check_in_sync(int fd, enum style style)
{
    int holes;

    free(raw_read_ok(fd, style, 0xabcdef, 0, 512, &holes));
}

/* ---- Scenarios: handshake ---- */

/* A request with the wrong magic cannot be resynchronised: disconnect. */
static void
scenario_bad_request_magic(void)
{
    int fd = raw_open(SIMPLE);
    struct nbd_request r = {htobe32(0x12345678), 0, htobe16(NBD_CMD_READ),
                            htobe64(1),          0, htobe32(512)};

    raw_write(fd, &r, sizeof r);
    raw_expect_eof(fd);
}

static void
scenario_bad_option_magic(void)
{
    int fd = raw_connect();
    struct nbd_new_option h = {htobe64(0x1122334455667788ULL),
                               htobe32(NBD_OPT_GO), 0};

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    raw_write(fd, &h, sizeof h);
    raw_expect_eof(fd);
}

/* An option claiming 4 GiB of data: disconnect without reading it. */
static void
scenario_oversize_option(void)
{
    int fd = raw_connect();
    struct nbd_new_option h = {htobe64(NBD_NEW_VERSION), htobe32(0x7654321),
                               htobe32(0xffffffff)};

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    raw_write(fd, &h, sizeof h);
    raw_expect_eof(fd);
}

/* Unknown options get ERR_UNSUP, their data is skipped, GO still works. */
static void
scenario_unknown_option(void)
{
    int fd = raw_connect();
    char data[4] = {1, 2, 3, 4};

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    CHECK(raw_option(fd, 0x7654321, data, sizeof data) == NBD_REP_ERR_UNSUP,
          "unknown option not answered with NBD_REP_ERR_UNSUP");
    CHECK(raw_option(fd, NBD_OPT_PEEK_EXPORT, NULL, 0) == NBD_REP_ERR_UNSUP,
          "NBD_OPT_PEEK_EXPORT not answered with NBD_REP_ERR_UNSUP");
    raw_go(fd);
    raw_check_in_sync(fd, SIMPLE);
}

/* Options with data that must have none, and malformed INFO/GO and
 * meta context options: ERR_INVALID, and the stream stays in step.
 */
static void
scenario_malformed_options(void)
{
    int fd = raw_connect();
    char junk[4] = {0};
    /* GO with namelen 0xffffffff in a 10-byte option (CVE-2022-26495). */
    char go_wrap[10] = {-1, -1, -1, -1, 0, 0, 0, 0, 0, 0};
    /* GO whose info count does not match the option length. */
    char go_count[8] = {0, 0, 0, 0, 0, 5, 0, 0};
    /* SET_META_CONTEXT whose query runs past the end. */
    char meta[16] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 100, 'b', 'a', 's', 'e'};
    static char longname[4 + 4097 + 2];
    uint32_t n = htobe32(4097);

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    CHECK(raw_option(fd, NBD_OPT_STRUCTURED_REPLY, junk, 4) ==
              NBD_REP_ERR_INVALID,
          "STRUCTURED_REPLY with data accepted");
    CHECK(raw_option(fd, NBD_OPT_LIST, junk, 4) == NBD_REP_ERR_INVALID,
          "LIST with data accepted");
    CHECK(raw_option(fd, NBD_OPT_GO, go_wrap, sizeof go_wrap) ==
              NBD_REP_ERR_INVALID,
          "GO with a wrapping name length accepted");
    CHECK(raw_option(fd, NBD_OPT_GO, go_count, sizeof go_count) ==
              NBD_REP_ERR_INVALID,
          "GO with a bad info count accepted");
    memcpy(longname, &n, 4);
    memset(longname + 4, 'a', 4097);
    CHECK(raw_option(fd, NBD_OPT_INFO, longname, sizeof longname) ==
              NBD_REP_ERR_INVALID,
          "INFO with a 4097-byte name accepted");
    CHECK(raw_option(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0) == NBD_REP_ACK,
          "STRUCTURED_REPLY refused");
    CHECK(raw_option(fd, NBD_OPT_SET_META_CONTEXT, meta, sizeof meta) ==
              NBD_REP_ERR_INVALID,
          "SET_META_CONTEXT with a truncated query accepted");
    raw_go(fd);
    raw_check_in_sync(fd, STRUCTURED);
}

/* The option budget: a client that never picks an export is dropped. */
static void
scenario_option_flood(void)
{
    int fd = raw_connect();
    int i;

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    for (i = 0; i < 32; i++)
        CHECK(raw_option(fd, 0x7654321, NULL, 0) == NBD_REP_ERR_UNSUP,
              "option %d not answered", i);
    raw_send_option(fd, 0x7654321, NULL, 0);
    raw_expect_eof(fd);
}

/* Without NO_ZEROES the EXPORT_NAME reply has 124 zero bytes; with it,
 * none.  Reading the wrong amount would break the next reply.
 */
static void
raw_export_name(bool no_zeroes)
{
    int fd = raw_connect();
    struct nbd_export_name_reply r;
    size_t len = no_zeroes ? 10 : sizeof r;
    size_t i;

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE |
                      (no_zeroes ? NBD_FLAG_C_NO_ZEROES : 0));
    raw_send_option(fd, NBD_OPT_EXPORT_NAME, NULL, 0);
    raw_read(fd, &r, len);
    CHECK(be64toh(r.exportsize) == export_size, "EXPORT_NAME: wrong size");
    CHECK(be16toh(r.eflags) & NBD_FLAG_HAS_FLAGS, "EXPORT_NAME: no flags");
    for (i = 10; i < len; i++)
        CHECK(((char *)&r)[i] == 0, "EXPORT_NAME: padding not zero");
    raw_check_in_sync(fd, SIMPLE);
}

static void
scenario_export_name(void)
{
    raw_export_name(false);
    raw_export_name(true);
}

/* EXPORT_NAME is forbidden after extended headers: it has no way to
 * report an error, so the server disconnects.
 */
static void
scenario_export_name_after_ext(void)
{
    int fd = raw_connect();

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    CHECK(raw_option(fd, NBD_OPT_EXTENDED_HEADERS, NULL, 0) == NBD_REP_ACK,
          "extended headers refused");
    raw_send_option(fd, NBD_OPT_EXPORT_NAME, NULL, 0);
    raw_expect_eof(fd);
}

/* Client flags the server did not offer: disconnect. */
static void
scenario_bad_client_flags(void)
{
    int fd = raw_connect();

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE | 0x100);
    raw_expect_eof(fd);
}

/* STARTTLS on a server without TLS: ERR_POLICY, then carry on. */
static void
scenario_starttls_refused(void)
{
    int fd = raw_connect();

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    CHECK(raw_option(fd, NBD_OPT_STARTTLS, NULL, 0) == NBD_REP_ERR_POLICY,
          "STARTTLS not refused with NBD_REP_ERR_POLICY");
    raw_go(fd);
    raw_check_in_sync(fd, SIMPLE);
}

/* A failed GO carries the plugin's error message (at most 4096 bytes)
 * and the client may go on negotiating.
 */
static void
scenario_error_message(void)
{
    int fd = raw_connect();
    char opt[4 + 6 + 2] = {0, 0, 0, 6, 'n', 'o', 's', 'u', 'c', 'h', 0, 0};
    char buf[8192];
    uint32_t type, len;

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    raw_send_option(fd, NBD_OPT_GO, opt, sizeof opt);
    type = raw_recv_reply(fd, NBD_OPT_GO, buf, sizeof buf, &len);
    CHECK(type == NBD_REP_ERR_UNKNOWN, "GO nosuch: reply %#" PRIx32, type);
    CHECK(len > 0 && len <= NBD_MAX_STRING, "GO nosuch: message length %u",
          len);
    CHECK(strstr(buf, "nosuch") != NULL, "GO nosuch: message \"%s\"", buf);
    raw_go(fd);
    raw_check_in_sync(fd, SIMPLE);
}

/* ---- Scenarios: transmission ---- */

/* Unknown commands and flags: EINVAL, and the stream stays in step
 * (a WRITE's payload is skipped even when its flags are bad).
 */
static void
raw_unknown_commands(enum style style)
{
    int fd = raw_open(style);
    char buf[1024] = {0};

    raw_request(fd, style, 0, 99, 1, 0, 512);
    raw_expect_error(fd, 1, NBD_EINVAL);
    raw_request(fd, style, 0x4000, NBD_CMD_READ, 2, 0, 512);
    raw_expect_error(fd, 2, NBD_EINVAL);
    raw_request(fd, style,
                0x4000 | (style == EXTENDED ? NBD_CMD_FLAG_PAYLOAD_LEN : 0),
                NBD_CMD_WRITE, 3, 0, sizeof buf);
    raw_write(fd, buf, sizeof buf);
    raw_expect_error(fd, 3, NBD_EINVAL);
    /* Flags that exist but do not go with the command. */
    raw_request(fd, style, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_READ, 4, 0, 512);
    raw_expect_error(fd, 4, NBD_EINVAL);
    raw_request(fd, style, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_TRIM, 5, 0, 512);
    raw_expect_error(fd, 5, NBD_EINVAL);
    raw_check_in_sync(fd, style);
}

static void
scenario_unknown_commands(void)
{
    raw_unknown_commands(SIMPLE);
    raw_unknown_commands(STRUCTURED);
}

/* READ and WRITE above the 32 MiB maximum payload: EINVAL, the WRITE
 * payload is skipped.  A WRITE claiming 4 GiB is a DoS: disconnect.
 */
static void
scenario_oversize_requests(void)
{
    int fd = raw_open(SIMPLE);
    uint32_t big = 32 * 1024 * 1024 + 512;
    char *buf = calloc(1, big);

    CHECK(buf != NULL, "calloc: %m");
    raw_request(fd, SIMPLE, 0, NBD_CMD_READ, 1, 0, big);
    raw_expect_error(fd, 1, NBD_EINVAL);
    raw_request(fd, SIMPLE, 0, NBD_CMD_WRITE, 2, 0, big);
    raw_write(fd, buf, big);
    raw_expect_error(fd, 2, NBD_EINVAL);
    raw_check_in_sync(fd, SIMPLE);
    free(buf);
    raw_request(fd, SIMPLE, 0, NBD_CMD_WRITE, 3, 0, 0xffffffff);
    raw_expect_eof(fd);
}

/* offset + count wrapping at 2^64, and ranges past the end: EINVAL for
 * reads, ENOSPC for writes.
 */
static void
scenario_range_wrap(void)
{
    int fd = raw_open(SIMPLE);
    char buf[1024] = {0};
    uint64_t wrap = UINT64_MAX - 511;

    raw_request(fd, SIMPLE, 0, NBD_CMD_READ, 1, wrap, 1024);
    raw_expect_error(fd, 1, NBD_EINVAL);
    raw_request(fd, SIMPLE, 0, NBD_CMD_WRITE, 2, wrap, 1024);
    raw_write(fd, buf, 1024);
    raw_expect_error(fd, 2, NBD_ENOSPC);
    raw_request(fd, SIMPLE, 0, NBD_CMD_WRITE_ZEROES, 3, wrap, 1024);
    raw_expect_error(fd, 3, NBD_ENOSPC);
    raw_request(fd, SIMPLE, 0, NBD_CMD_TRIM, 4, wrap, 1024);
    raw_expect_error(fd, 4, NBD_EINVAL);
    raw_request(fd, SIMPLE, 0, NBD_CMD_READ, 5, export_size - 512, 1024);
    raw_expect_error(fd, 5, NBD_EINVAL);
    raw_request(fd, SIMPLE, 0, NBD_CMD_READ, 6, export_size, 1);
    raw_expect_error(fd, 6, NBD_EINVAL);
    raw_request(fd, SIMPLE, 0, NBD_CMD_FLUSH, 7, 1, 0);
    raw_expect_error(fd, 7, NBD_EINVAL);
    raw_check_in_sync(fd, SIMPLE);
}

/* Zero-length requests are answered with the command's range error
 * (EINVAL, or ENOSPC for writes, as nbdkit does) without disconnecting.
 */
static void
scenario_zero_length(void)
{
    int fd = raw_open(STRUCTURED);

    raw_request(fd, STRUCTURED, 0, NBD_CMD_READ, 1, 0, 0);
    raw_expect_error(fd, 1, NBD_EINVAL);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_WRITE, 2, 0, 0);
    raw_expect_error(fd, 2, NBD_ENOSPC);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_WRITE_ZEROES, 3, 0, 0);
    raw_expect_error(fd, 3, NBD_ENOSPC);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_TRIM, 4, 0, 0);
    raw_expect_error(fd, 4, NBD_EINVAL);
    raw_check_in_sync(fd, STRUCTURED);
}

/* On an export larger than 4 GiB: I/O across 2^32 and at the last byte
 * works; offsets at 2^63 and past the end fail.
 */
static void
scenario_boundaries(void)
{
    int fd = raw_open(STRUCTURED);
    uint64_t at = (1ULL << 32) - 8;
    char pat[16] = "boundary-16byte", *got;
    int holes;

    CHECK(export_size > (1ULL << 32) + 4096, "export too small for test");
    raw_write_ok(fd, STRUCTURED, 1, at, pat, sizeof pat);
    got = raw_read_ok(fd, STRUCTURED, 2, at, sizeof pat, &holes);
    CHECK(memcmp(got, pat, sizeof pat) == 0, "data across 2^32 differs");
    free(got);
    raw_write_ok(fd, STRUCTURED, 3, export_size - 1, "z", 1);
    got = raw_read_ok(fd, STRUCTURED, 4, export_size - 1, 1, &holes);
    CHECK(got[0] == 'z', "last byte differs");
    free(got);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_READ, 5, 1ULL << 63, 512);
    raw_expect_error(fd, 5, NBD_EINVAL);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_READ, 6, INT64_MAX, 1);
    raw_expect_error(fd, 6, NBD_EINVAL);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_READ, 7, export_size - 1, 2);
    raw_expect_error(fd, 7, NBD_EINVAL);
    raw_check_in_sync(fd, STRUCTURED);
}

/* A READ over mostly unwritten space comes back with OFFSET_HOLE
 * chunks, and the data chunks carry exactly what was written.
 */
static void
scenario_sparse_read(void)
{
    int fd = raw_open(STRUCTURED);
    uint32_t len = 1024 * 1024, i;
    char pat[4096], *got;
    int holes;

    for (i = 0; i < sizeof pat; i++)
        pat[i] = 'A' + i % 26;
    raw_write_ok(fd, STRUCTURED, 1, 512 * 1024, pat, sizeof pat);
    got = raw_read_ok(fd, STRUCTURED, 2, 0, len, &holes);
    CHECK(holes > 0, "no OFFSET_HOLE chunk in a sparse READ");
    for (i = 0; i < len; i++) {
        char want = i >= 512 * 1024 && i < 512 * 1024 + sizeof pat
                        ? pat[i - 512 * 1024]
                        : 0;
        CHECK(got[i] == want, "sparse READ: byte %u differs", i);
    }
    free(got);
}

/* With DF a READ comes back as one data chunk, holes included. */
static void
scenario_df_read(void)
{
    int fd = raw_open(STRUCTURED);
    struct chunk c;

    raw_request(fd, STRUCTURED, NBD_CMD_FLAG_DF, NBD_CMD_READ, 1, 0, 131072);
    raw_recv_chunk(fd, &c);
    CHECK(c.type == NBD_REPLY_TYPE_OFFSET_DATA, "DF READ: chunk type %u",
          c.type);
    CHECK(c.flags & NBD_REPLY_FLAG_DONE, "DF READ: more than one chunk");
    CHECK(c.length == 8 + 131072, "DF READ: chunk length %" PRIu64, c.length);
    free(c.payload);
}

/* Extended headers: 32-byte requests and replies, WRITE with
 * PAYLOAD_LEN, 64-bit effect lengths for WRITE_ZEROES and TRIM, and
 * BLOCK_STATUS_EXT.
 */
static void
scenario_extended_headers(void)
{
    int fd = raw_connect();
    char meta[4 + 4 + 4 + 15] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 15};
    char buf[8192], pat[4096];
    uint64_t big = (1ULL << 32) + 65536, len0;
    uint32_t rlen, type, n;
    struct chunk c;
    int holes;

    CHECK(export_size >= big + 65536, "export too small for test");
    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    CHECK(raw_option(fd, NBD_OPT_EXTENDED_HEADERS, NULL, 0) == NBD_REP_ACK,
          "extended headers refused");
    memcpy(meta + 12, "base:allocation", 15);
    raw_send_option(fd, NBD_OPT_SET_META_CONTEXT, meta, sizeof meta);
    type = raw_recv_reply(fd, NBD_OPT_SET_META_CONTEXT, buf, sizeof buf, &rlen);
    CHECK(type == NBD_REP_META_CONTEXT, "base:allocation not selected");
    CHECK(raw_recv_reply(fd, NBD_OPT_SET_META_CONTEXT, buf, sizeof buf,
                         &rlen) == NBD_REP_ACK,
          "no ACK after NBD_REP_META_CONTEXT");
    raw_go(fd);

    memset(pat, 'x', sizeof pat);
    raw_write_ok(fd, EXTENDED, 1, 0, pat, sizeof pat);
    raw_write_ok(fd, EXTENDED, 2, big, pat, sizeof pat);
    /* Zero from 0 to past 2^32 in one request. */
    raw_request(fd, EXTENDED, 0, NBD_CMD_WRITE_ZEROES, 3, 0, big);
    raw_recv_chunk(fd, &c);
    CHECK(c.cookie == 3 && c.error == 0 && c.type == NBD_REPLY_TYPE_NONE &&
              (c.flags & NBD_REPLY_FLAG_DONE),
          "64-bit WRITE_ZEROES failed (error %" PRIu32 ")", c.error);
    CHECK(c.offset == 0, "extended reply offset is not the request's");
    free(c.payload);
    /* The zeroing reached the whole range but not beyond it. */
    free(raw_read_ok(fd, EXTENDED, 4, 0, 4096, &holes));
    raw_request(fd, EXTENDED, 0, NBD_CMD_READ, 5, big, 4096);
    raw_recv_chunk(fd, &c);
    CHECK(c.type == NBD_REPLY_TYPE_OFFSET_DATA && c.length == 8 + 4096 &&
              memcmp(c.payload + 8, pat, 4096) == 0 && c.offset == big,
          "data after a 64-bit WRITE_ZEROES was changed");
    free(c.payload);
    /* BLOCK_STATUS with a 64-bit length: a BLOCK_STATUS_EXT chunk. */
    raw_request(fd, EXTENDED, 0, NBD_CMD_BLOCK_STATUS, 6, 0, big);
    raw_recv_chunk(fd, &c);
    CHECK(c.error == 0 && c.type == NBD_REPLY_TYPE_BLOCK_STATUS_EXT,
          "BLOCK_STATUS: chunk type %u error %" PRIu32, c.type, c.error);
    CHECK(c.length >= 8 + 16 && (c.length - 8) % 16 == 0,
          "BLOCK_STATUS_EXT length %" PRIu64, c.length);
    n = be32toh(*(uint32_t *)(c.payload + 4));
    CHECK(be32toh(*(uint32_t *)c.payload) == NBDX_CONTEXT_BASE_ALLOCATION,
          "BLOCK_STATUS_EXT: wrong context id");
    CHECK(n == (c.length - 8) / 16, "BLOCK_STATUS_EXT: count %u", n);
    len0 = be64toh(*(uint64_t *)(c.payload + 8));
    CHECK(len0 > 0 && len0 <= big, "BLOCK_STATUS_EXT: first length");
    free(c.payload);
    /* TRIM over 2^32 bytes. */
    raw_request(fd, EXTENDED, 0, NBD_CMD_TRIM, 7, 0, 1ULL << 32);
    raw_expect_error(fd, 7, 0);
    /* A compact request on an extended connection is a bad magic (the
     * server reads 32 bytes, so pad it).
     */
    raw_request(fd, SIMPLE, 0, NBD_CMD_READ, 8, 0, 512);
    raw_write(fd, "\0\0\0\0", 4);
    raw_expect_eof(fd);
}

/* Extended headers: a WRITE without PAYLOAD_LEN and a READ with it are
 * invalid; the READ's payload is skipped.
 */
static void
scenario_extended_payload_flags(void)
{
    int fd = raw_open(EXTENDED);
    char buf[512] = {0};

    raw_request(fd, EXTENDED, NBD_CMD_FLAG_PAYLOAD_LEN, NBD_CMD_READ, 1, 0,
                sizeof buf);
    raw_write(fd, buf, sizeof buf);
    raw_expect_error(fd, 1, NBD_EINVAL);
    raw_request(fd, EXTENDED, 0, NBD_CMD_WRITE, 2, 0, 512);
    raw_expect_error(fd, 2, NBD_EINVAL);
    raw_check_in_sync(fd, EXTENDED);
}

/* Clients that vanish: mid-option, mid-WRITE payload, and before
 * reading a 32 MiB READ reply.  The test script then checks the server
 * still serves others.
 */
static void
scenario_vanish(void)
{
    int fd;
    char buf[1000] = {0};

    fd = raw_connect();
    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    raw_send_option(fd, NBD_OPT_GO, buf, 3);
    close(fd);

    fd = raw_open(SIMPLE);
    raw_request(fd, SIMPLE, 0, NBD_CMD_WRITE, 1, 0, 1024 * 1024);
    raw_write(fd, buf, sizeof buf);
    close(fd);

    fd = raw_open(STRUCTURED);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_READ, 1, 0, 32 * 1024 * 1024);
    close(fd);

    fd = raw_connect();
    raw_write(fd, buf, 2);
    close(fd);
}

/* ---- Scenarios: names and block status at the limits ---- */

/* Send an option and read replies up to the final one, checking that
 * every message fits NBD_MAX_STRING; returns the final reply type.
 */
static uint32_t
raw_option_final(int fd, uint32_t option, const void *data, uint32_t len)
{
    static char buf[65536];
    uint32_t type, rlen;

    raw_send_option(fd, option, data, len);
    do {
        type = raw_recv_reply(fd, option, buf, sizeof buf, &rlen);
        if (type & 0x80000000)
            CHECK(rlen <= NBD_MAX_STRING,
                  "option %u: error message of %u bytes", option, rlen);
    } while (type == NBD_REP_INFO || type == NBD_REP_META_CONTEXT);
    return type;
}

/* Export names of 4096 bytes (the maximum) that do not exist, through
 * INFO, GO and the meta context options: error replies whose messages
 * (which may echo the name) stay within 4096 bytes (CVE-2020-10761,
 * CVE-2017-15118, CVE-2022-26496).  EXPORT_NAME cannot report errors:
 * 4096 unknown and 4097 bytes both disconnect.
 */
static void
scenario_long_names(void)
{
    static char opt[4 + 4097 + 4 + 4 + 15];
    uint32_t n = htobe32(NBD_MAX_STRING), one = htobe32(1), qlen = htobe32(15);
    size_t go_len = 4 + NBD_MAX_STRING + 2,
           meta_len = 4 + NBD_MAX_STRING + 4 + 4 + 15;
    int fd = raw_connect();
    uint32_t type;

    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    memcpy(opt, &n, 4);
    memset(opt + 4, 'n', NBD_MAX_STRING);
    memset(opt + 4 + NBD_MAX_STRING, 0, 2); /* no info requests */
    type = raw_option_final(fd, NBD_OPT_INFO, opt, go_len);
    CHECK(type & 0x80000000, "INFO of a 4096-byte unknown name succeeded");
    type = raw_option_final(fd, NBD_OPT_GO, opt, go_len);
    CHECK(type & 0x80000000, "GO of a 4096-byte unknown name succeeded");
    CHECK(raw_option(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0) == NBD_REP_ACK,
          "structured replies refused");
    memcpy(opt + 4 + NBD_MAX_STRING, &one, 4);
    memcpy(opt + 4 + NBD_MAX_STRING + 4, &qlen, 4);
    memcpy(opt + 4 + NBD_MAX_STRING + 8, "base:allocation", 15);
    raw_option_final(fd, NBD_OPT_LIST_META_CONTEXT, opt, meta_len);
    raw_option_final(fd, NBD_OPT_SET_META_CONTEXT, opt, meta_len);
    raw_go(fd);
    raw_check_in_sync(fd, STRUCTURED);
    close(fd);

    fd = raw_connect();
    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    raw_send_option(fd, NBD_OPT_EXPORT_NAME, opt + 4, NBD_MAX_STRING);
    raw_expect_eof(fd);
    close(fd);
    fd = raw_connect();
    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    memset(opt, 'n', 4097);
    raw_send_option(fd, NBD_OPT_EXPORT_NAME, opt, 4097);
    raw_expect_eof(fd);
    close(fd);
}

/* One BLOCK_STATUS request: checks the reply is well formed (one chunk
 * of base:allocation descriptors, none empty, at most count bytes in
 * all, exactly one with REQ_ONE) and returns the first length.
 */
static uint64_t
raw_block_status(int fd, uint16_t flags, uint64_t cookie, uint64_t offset,
                 uint32_t count)
{
    struct nbd_block_descriptor d;
    uint64_t sum = 0, first = 0;
    size_t i, nd;
    struct chunk c;

    raw_request(fd, STRUCTURED, flags, NBD_CMD_BLOCK_STATUS, cookie, offset,
                count);
    raw_recv_chunk(fd, &c);
    CHECK(c.cookie == cookie && c.error == 0,
          "BLOCK_STATUS %#x at %" PRIu64 ": error %" PRIu32, count, offset,
          c.error);
    CHECK(c.type == NBD_REPLY_TYPE_BLOCK_STATUS &&
              (c.flags & NBD_REPLY_FLAG_DONE),
          "BLOCK_STATUS: chunk type %u flags %u", c.type, c.flags);
    CHECK(c.length >= 4 + sizeof d && (c.length - 4) % sizeof d == 0,
          "BLOCK_STATUS: chunk length %" PRIu64, c.length);
    nd = (c.length - 4) / sizeof d;
    CHECK(!(flags & NBD_CMD_FLAG_REQ_ONE) || nd == 1,
          "BLOCK_STATUS REQ_ONE: %zu descriptors", nd);
    for (i = 0; i < nd; i++) {
        memcpy(&d, c.payload + 4 + i * sizeof d, sizeof d);
        CHECK(be32toh(d.length) > 0, "BLOCK_STATUS: empty descriptor %zu", i);
        if (i == 0)
            first = be32toh(d.length);
        sum += be32toh(d.length);
    }
    CHECK(sum <= count,
          "BLOCK_STATUS %#x at %" PRIu64 ": %" PRIu64 " bytes described", count,
          offset, sum);
    free(c.payload);
    return first;
}

/* BLOCK_STATUS at the 32-bit limit over extents longer than, equal to
 * and one byte short of the request (CVE-2025-47711 class), at the
 * start and at the last byte of an export larger than 4 GiB.
 */
static void
scenario_block_status_max(void)
{
    static const uint32_t counts[] = {0xffffffff, 0xfffffffe, 1};
    char meta[4 + 4 + 4 + 15] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 15};
    char buf[8192], pat[4096];
    uint64_t cookie = 1, at[] = {1ULL << 32, (1ULL << 32) - 1, 0};
    uint32_t rlen;
    size_t i, j, k;
    int fd = raw_connect();

    CHECK(export_size >= (1ULL << 33), "export too small for test");
    raw_greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
    CHECK(raw_option(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0) == NBD_REP_ACK,
          "structured replies refused");
    memcpy(meta + 12, "base:allocation", 15);
    raw_send_option(fd, NBD_OPT_SET_META_CONTEXT, meta, sizeof meta);
    CHECK(raw_recv_reply(fd, NBD_OPT_SET_META_CONTEXT, buf, sizeof buf,
                         &rlen) == NBD_REP_META_CONTEXT,
          "base:allocation not selected");
    CHECK(raw_recv_reply(fd, NBD_OPT_SET_META_CONTEXT, buf, sizeof buf,
                         &rlen) == NBD_REP_ACK,
          "no ACK after NBD_REP_META_CONTEXT");
    raw_go(fd);
    memset(pat, 'd', sizeof pat);
    /* First extent: the whole (hole) export, then a hole of exactly
     * 2^32 bytes, then one of 2^32 - 1 bytes.
     */
    for (k = 0; k < sizeof at / sizeof at[0]; k++) {
        if (at[k])
            raw_write_ok(fd, STRUCTURED, cookie++, at[k], pat, sizeof pat);
        for (i = 0; i < sizeof counts / sizeof counts[0]; i++)
            for (j = 0; j < 2; j++)
                raw_block_status(fd, j ? NBD_CMD_FLAG_REQ_ONE : 0, cookie++, 0,
                                 counts[i]);
    }
    raw_block_status(fd, 0, cookie++, export_size - 1, 1);
    raw_block_status(fd, NBD_CMD_FLAG_REQ_ONE, cookie++, export_size - 1, 1);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_BLOCK_STATUS, cookie,
                export_size - 1, 2);
    raw_expect_error(fd, cookie++, NBD_EINVAL);
    raw_request(fd, STRUCTURED, 0, NBD_CMD_BLOCK_STATUS, cookie, 0, 0);
    raw_expect_error(fd, cookie++, NBD_EINVAL);
    raw_check_in_sync(fd, STRUCTURED);
}

struct scenario {
    const char *name;
    void (*run)(void);
};

static const struct scenario scenarios[] = {
    {"bad-request-magic", scenario_bad_request_magic},
    {"bad-option-magic", scenario_bad_option_magic},
    {"oversize-option", scenario_oversize_option},
    {"unknown-option", scenario_unknown_option},
    {"malformed-options", scenario_malformed_options},
    {"option-flood", scenario_option_flood},
    {"export-name", scenario_export_name},
    {"export-name-after-ext", scenario_export_name_after_ext},
    {"bad-client-flags", scenario_bad_client_flags},
    {"starttls-refused", scenario_starttls_refused},
    {"error-message", scenario_error_message},
    {"unknown-commands", scenario_unknown_commands},
    {"oversize-requests", scenario_oversize_requests},
    {"range-wrap", scenario_range_wrap},
    {"zero-length", scenario_zero_length},
    {"boundaries", scenario_boundaries},
    {"sparse-read", scenario_sparse_read},
    {"df-read", scenario_df_read},
    {"extended-headers", scenario_extended_headers},
    {"extended-payload-flags", scenario_extended_payload_flags},
    {"vanish", scenario_vanish},
    {"long-names", scenario_long_names},
    {"block-status-max", scenario_block_status_max},
};

int
main(int argc, char *argv[])
{
    size_t i;

    if (argc < 3) {
        fprintf(stderr, "usage: rawclient SOCKET SCENARIO [SIZE]\n");
        return 2;
    }
    sockpath = argv[1];
    export_size = argc > 3 ? strtoull(argv[3], NULL, 0) : 1024 * 1024;
    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (strcmp(argv[2], scenarios[i].name) == 0) {
            scenarios[i].run();
            return 0;
        }
    }
    fprintf(stderr, "rawclient: unknown scenario %s\n", argv[2]);
    return 2;
}
