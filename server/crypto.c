/* SPDX-License-Identifier: BSD-3-Clause */
/* crypto.c: TLS with GnuTLS.
 *
 * At startup crypto_init loads either the PSK file (--tls-psk) or the
 * X.509 files of the certificates directory, and compiles the priority
 * string; all sessions share them read-only.  A client upgrades with
 * NBD_OPT_STARTTLS: crypto_negotiate_tls runs the TLS handshake and then
 * puts TLS versions into conn->recv, send, shut_writes and close.
 *
 * GnuTLS reads and writes through the connection's plain functions, so
 * the handshake deadline, quit and a dropped connection stop a stalled
 * TLS peer exactly as they stop a stalled plaintext one: nothing here
 * waits on its own.
 *
 * Threads: the connection thread receives (under read_lock) while the
 * workers send (under write_lock); GnuTLS allows one receiving and one
 * sending thread per session.  Renegotiation is refused.
 */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "hexdigit.h"
#include "internal.h"

#if HAVE_GNUTLS

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* TLS 1.2 or later unless --tls-priority says otherwise. */
#define DEFAULT_PRIORITY "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0"
/* What PSK mode adds to any priority string. */
#define PSK_KX ":+ECDHE-PSK:+DHE-PSK:+PSK"
/* Writes up to this size are gathered into one TLS record (corked);
 * bigger ones go out directly so they are not copied.
 */
#define CORK_LIMIT 16384
/* How long closing waits for room to send the close_notify alert. */
#define BYE_TIMEOUT_MS 1000
/* Non-fatal handshake results (warning alerts) tolerated in a row. */
#define MAX_HANDSHAKE_RETRIES 16

struct psk_key {
    char *user;         /* owned */
    gnutls_datum_t key; /* owned; wiped before it is freed */
};
DEFINE_VECTOR_TYPE(psk_key_vector, struct psk_key);

/* Set by crypto_init before any connection, read-only afterwards.
 * Exactly one of x509_creds and psk_creds is set when TLS is not off.
 */
static gnutls_certificate_credentials_t x509_creds;
static gnutls_psk_server_credentials_t psk_creds;
static psk_key_vector psk_keys;
static gnutls_priority_t priorities;

/* One connection's TLS state; conn->crypto_session. */
struct crypto_session {
    struct crypto_peer peer; /* first: see crypto.h; owned strings */
    gnutls_session_t session;
    struct connection *conn;
    /* The plain functions TLS runs over, saved from conn. */
    int (*raw_recv)(struct connection *conn, void *buf, size_t len);
    int (*raw_send)(struct connection *conn, const void *buf, size_t len,
                    int flags);
    void (*raw_shut_writes)(struct connection *conn);
    void (*raw_close)(struct connection *conn);
    int read_errno;      /* of the last failed pull: receiving thread */
    int write_errno;     /* of the last failed push: under write_lock */
    bool corked;         /* gnutls_record_cork is holding data: same */
    size_t corked_bytes; /* how much: same */
};

/* ---- startup: credentials and priorities ---- */

static char *
crypto_path(const char *dir, const char *name)
{
    char *s;

    if (asprintf(&s, "%s/%s", dir, name) == -1)
        fatal("asprintf: %m");
    return s;
}

/* $HOME/.pki/nbdx for users, ROOT_TLS_CERTIFICATES_DIR for root. */
static char *
crypto_default_dir(void)
{
    const char *home = getenv("HOME");
    char *s;

    if (geteuid() == 0 || home == NULL || *home == '\0')
        s = strdup(ROOT_TLS_CERTIFICATES_DIR);
    else if (asprintf(&s, "%s/.pki/%s", home, PACKAGE_NAME) == -1)
        s = NULL;
    if (s == NULL)
        fatal("malloc: %m");
    return s;
}

/* Exit unless r, the result of a GnuTLS call on file, is a success. */
static void
crypto_check_file(int r, const char *file)
{
    if (r < 0)
        fatal("TLS: %s: %s", file, gnutls_strerror(r));
}

static void
crypto_need_file(const char *file)
{
    if (access(file, R_OK) == -1)
        fatal("TLS: %s: %m", file);
}

static void
crypto_load_ca(const char *dir)
{
    CLEANUP_FREE char *ca = crypto_path(dir, "ca-cert.pem");
    CLEANUP_FREE char *crl = crypto_path(dir, "ca-crl.pem");
    int r;

    /* Only needed to check client certificates. */
    if (!opts->tls_verify_peer && access(ca, F_OK) == -1)
        return;
    crypto_need_file(ca);
    r = gnutls_certificate_set_x509_trust_file(x509_creds, ca,
                                               GNUTLS_X509_FMT_PEM);
    crypto_check_file(r, ca);
    if (r == 0)
        fatal("TLS: %s: no CA certificate in the file", ca);
    if (access(crl, F_OK) == -1)
        return;
    r = gnutls_certificate_set_x509_crl_file(x509_creds, crl,
                                             GNUTLS_X509_FMT_PEM);
    crypto_check_file(r, crl);
}

static void
crypto_load_x509(const char *dir)
{
    CLEANUP_FREE char *cert = crypto_path(dir, "server-cert.pem");
    CLEANUP_FREE char *key = crypto_path(dir, "server-key.pem");
    int r;

    crypto_need_file(cert);
    crypto_need_file(key);
    r = gnutls_certificate_allocate_credentials(&x509_creds);
    if (r < 0)
        fatal("gnutls_certificate_allocate_credentials: %s",
              gnutls_strerror(r));
    r = gnutls_certificate_set_x509_key_file(x509_creds, cert, key,
                                             GNUTLS_X509_FMT_PEM);
    if (r < 0)
        fatal("TLS: %s, %s: %s", cert, key, gnutls_strerror(r));
    crypto_load_ca(dir);
    gnutls_certificate_set_known_dh_params(x509_creds, GNUTLS_SEC_PARAM_MEDIUM);
    debug("TLS: loaded X.509 certificates from %s", dir);
}

/* True if dir holds a server certificate: then TLS defaults to on. */
static bool
crypto_have_x509(const char *dir)
{
    CLEANUP_FREE char *cert = crypto_path(dir, "server-cert.pem");

    return access(cert, F_OK) == 0;
}

/* Parse "username:hexkey" into k.  NULL on success, else why not. */
static const char *
crypto_parse_psk_line(char *line, struct psk_key *k)
{
    char *colon = strchr(line, ':');
    const char *hex;
    size_t i, len;

    if (colon == NULL || colon == line)
        return "expected username:hexkey";
    hex = colon + 1;
    len = strlen(hex);
    if (len == 0 || len % 2 != 0)
        return "the key must be an even, non-zero number of hex digits";
    for (i = 0; i < len; i++)
        if (hex_digit(hex[i]) == -1)
            return "the key must be hex digits";
    k->key.size = len / 2;
    k->key.data = malloc(len / 2);
    *colon = '\0';
    k->user = strdup(line);
    if (k->key.data == NULL || k->user == NULL)
        fatal("malloc: %m");
    for (i = 0; i < len / 2; i++)
        k->key.data[i] = hex_digit(hex[2 * i]) * 16 + hex_digit(hex[2 * i + 1]);
    return NULL;
}

/* Read every line of the PSK file; blank lines are skipped. */
static void
crypto_read_psk_file(const char *file, FILE *fp)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, fp)) != -1) {
        struct psk_key k;
        const char *why;

        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        why = crypto_parse_psk_line(line, &k);
        if (why != NULL)
            fatal("--tls-psk: %s: line %zu: %s", file, lineno, why);
        if (psk_key_vector_append(&psk_keys, k) == -1)
            fatal("malloc: %m");
    }
    if (ferror(fp))
        fatal("--tls-psk: %s: %m", file);
    if (line != NULL)
        explicit_bzero(line, cap);
    free(line);
}

/* GnuTLS asks for the key of username; it frees key->data. */
static int
crypto_psk_lookup(gnutls_session_t session, const char *username,
                  gnutls_datum_t *key)
{
    size_t i;

    for (i = 0; i < psk_keys.len; i++) {
        const struct psk_key *k = &psk_keys.ptr[i];

        if (strcmp(k->user, username) != 0)
            continue;
        key->data = gnutls_malloc(k->key.size);
        if (key->data == NULL)
            return -1;
        memcpy(key->data, k->key.data, k->key.size);
        key->size = k->key.size;
        return 0;
    }
    debug("TLS: unknown PSK username");
    return -1;
}

static void
crypto_load_psk(const char *file)
{
    FILE *fp = fopen(file, "re");
    int r;

    if (fp == NULL)
        fatal("--tls-psk: %s: %m", file);
    crypto_read_psk_file(file, fp);
    fclose(fp);
    if (psk_keys.len == 0)
        fatal("--tls-psk: %s: no keys in the file", file);
    r = gnutls_psk_allocate_server_credentials(&psk_creds);
    if (r < 0)
        fatal("gnutls_psk_allocate_server_credentials: %s", gnutls_strerror(r));
    gnutls_psk_set_server_credentials_function(psk_creds, crypto_psk_lookup);
    gnutls_psk_set_server_known_dh_params(psk_creds, GNUTLS_SEC_PARAM_MEDIUM);
    debug("TLS: loaded %zu PSK keys from %s", psk_keys.len, file);
}

static void
crypto_init_priorities(void)
{
    const char *base =
        opts->tls_priority ? opts->tls_priority : DEFAULT_PRIORITY;
    CLEANUP_FREE char *s = NULL;
    const char *where = NULL;
    int r;

    if (asprintf(&s, "%s%s", base, psk_creds ? PSK_KX : "") == -1)
        fatal("asprintf: %m");
    r = gnutls_priority_init(&priorities, s, &where);
    if (r < 0)
        fatal("--tls-priority=%s: %s (at \"%s\")", base, gnutls_strerror(r),
              where ? where : "");
}

static void
crypto_free(void)
{
    size_t i;

    for (i = 0; i < psk_keys.len; i++) {
        explicit_bzero(psk_keys.ptr[i].key.data, psk_keys.ptr[i].key.size);
        free(psk_keys.ptr[i].key.data);
        free(psk_keys.ptr[i].user);
    }
    psk_key_vector_reset(&psk_keys);
    if (priorities)
        gnutls_priority_deinit(priorities);
    if (x509_creds)
        gnutls_certificate_free_credentials(x509_creds);
    if (psk_creds)
        gnutls_psk_free_server_credentials(psk_creds);
}

void
crypto_init(struct options *o)
{
    CLEANUP_FREE char *dir = NULL;

    if (o->tls == -1 && o->oldstyle)
        o->tls = 0;
    if (o->tls == 0)
        return;
    if (o->tls_psk)
        crypto_load_psk(o->tls_psk);
    else {
        dir = o->tls_certificates_dir ? strdup(o->tls_certificates_dir)
                                      : crypto_default_dir();
        if (dir == NULL)
            fatal("strdup: %m");
        /* Without --tls, TLS is on only if there is something to use. */
        if (o->tls == -1 && !o->tls_certificates_dir &&
            !crypto_have_x509(dir)) {
            o->tls = 0;
            return;
        }
        crypto_load_x509(dir);
    }
    crypto_init_priorities();
    atexit(crypto_free);
    if (o->tls == -1)
        o->tls = 1;
}

/* ---- the transport under GnuTLS ---- */

/* What has already arrived, without waiting: -1 with EAGAIN if none. */
static ssize_t
crypto_read_arrived(struct connection *conn, void *buf, size_t len)
{
    struct pollfd pfd = {.fd = conn->sockin, .events = POLLIN};
    ssize_t r;

    if (conn->sockout_is_socket) {
        do
            r = recv(conn->sockin, buf, len, MSG_DONTWAIT);
        while (r == -1 && errno == EINTR);
        return r;
    }
    /* A pipe (-s): it may not be ours to make non-blocking. */
    if (poll(&pfd, 1, 0) <= 0) {
        errno = EAGAIN;
        return -1;
    }
    return read(conn->sockin, buf, len);
}

/* GnuTLS reads.  When nothing has arrived, the plain recv waits for one
 * byte, honouring the deadline, quit and a dropped connection.
 */
static ssize_t
crypto_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    struct crypto_session *cs = ptr;
    ssize_t r;

    r = crypto_read_arrived(cs->conn, buf, len);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (cs->raw_recv(cs->conn, buf, 1) == 0)
            return 1;
        if (errno == 0)
            return 0; /* EOF */
    }
    /* GnuTLS would retry EAGAIN and EINTR: never spin on them. */
    cs->read_errno = errno == EAGAIN || errno == EINTR ? EIO : errno;
    errno = cs->read_errno;
    return -1;
}

static ssize_t
crypto_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    struct crypto_session *cs = ptr;

    if (cs->raw_send(cs->conn, buf, len, 0) == -1) {
        cs->write_errno = errno == EAGAIN || errno == EINTR ? EIO : errno;
        errno = cs->write_errno;
        return -1;
    }
    return len;
}

/* GnuTLS asks whether data arrives within ms.  An indefinite wait is
 * left to crypto_pull, which knows the deadline.
 */
static int
crypto_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    struct crypto_session *cs = ptr;
    struct pollfd pfd = {.fd = cs->conn->sockin, .events = POLLIN};
    int r;

    if (ms == GNUTLS_INDEFINITE_TIMEOUT)
        return 1;
    do
        r = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    while (r == -1 && errno == EINTR);
    return r;
}

/* ---- sessions ---- */

static void
crypto_session_free(struct crypto_session *cs)
{
    if (cs == NULL)
        return;
    if (cs->session)
        gnutls_deinit(cs->session);
    free(cs->peer.dn);
    free(cs->peer.issuer_dn);
    free(cs);
}

/* Credentials, priorities and client certificate policy. */
static int
crypto_session_setup(gnutls_session_t s)
{
    int r = gnutls_priority_set(s, priorities);

    if (r < 0)
        return r;
    if (psk_creds)
        return gnutls_credentials_set(s, GNUTLS_CRD_PSK, psk_creds);
    r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, x509_creds);
    if (r < 0 || !opts->tls_verify_peer)
        return r;
    /* The chain must lead to the CA; names are not checked. */
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_cert(s, NULL, 0);
    return 0;
}

static struct crypto_session *
crypto_session_new(struct connection *conn)
{
    struct crypto_session *cs = calloc(1, sizeof *cs);
    int r;

    if (cs == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    r = gnutls_init(&cs->session, GNUTLS_SERVER);
    if (r == 0)
        r = crypto_session_setup(cs->session);
    if (r < 0) {
        nbdkit_error("TLS: session setup: %s", gnutls_strerror(r));
        crypto_session_free(cs);
        return NULL;
    }
    cs->conn = conn;
    cs->raw_recv = conn->recv;
    cs->raw_send = conn->send;
    cs->raw_shut_writes = conn->shut_writes;
    cs->raw_close = conn->close;
    /* Deadlines are the connection's, not GnuTLS's. */
    gnutls_handshake_set_timeout(cs->session, 0);
    gnutls_transport_set_ptr(cs->session, cs);
    gnutls_transport_set_pull_function(cs->session, crypto_pull);
    gnutls_transport_set_pull_timeout_function(cs->session,
                                               crypto_pull_timeout);
    gnutls_transport_set_push_function(cs->session, crypto_push);
    return cs;
}

static void
crypto_log_failure(struct crypto_session *cs, const char *what, int r)
{
    if (r == GNUTLS_E_PULL_ERROR)
        nbdkit_error("TLS %s: read: %s", what, strerror(cs->read_errno));
    else if (r == GNUTLS_E_PUSH_ERROR)
        nbdkit_error("TLS %s: write: %s", what, strerror(cs->write_errno));
    else if (r == GNUTLS_E_FATAL_ALERT_RECEIVED ||
             r == GNUTLS_E_WARNING_ALERT_RECEIVED)
        nbdkit_error("TLS %s: %s: %s", what, gnutls_strerror(r),
                     gnutls_alert_get_name(gnutls_alert_get(cs->session)));
    else
        nbdkit_error("TLS %s: %s", what, gnutls_strerror(r));
}

static int
crypto_handshake(struct crypto_session *cs)
{
    unsigned tries = 0;
    char *desc;
    int r;

    do
        r = gnutls_handshake(cs->session);
    while (r < 0 && !gnutls_error_is_fatal(r) &&
           ++tries < MAX_HANDSHAKE_RETRIES);
    if (r < 0) {
        crypto_log_failure(cs, "handshake", r);
        return -1;
    }
    desc = gnutls_session_get_desc(cs->session);
    debug("TLS handshake done: %s", desc ? desc : "");
    gnutls_free(desc);
    return 0;
}

/* Copy a DN GnuTLS returned into *out, or leave *out NULL on error. */
static void
crypto_take_dn(int r, gnutls_datum_t *dn, char **out)
{
    if (r < 0) {
        debug("TLS: client certificate DN: %s", gnutls_strerror(r));
        return;
    }
    *out = strndup((const char *)dn->data, dn->size);
    gnutls_free(dn->data);
}

/* Remember the verified client certificate's subject and issuer. */
static int
crypto_save_dns(struct crypto_session *cs)
{
    const gnutls_datum_t *peers;
    unsigned n = 0;
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn;

    if (psk_creds || !opts->tls_verify_peer)
        return 0;
    peers = gnutls_certificate_get_peers(cs->session, &n);
    if (peers == NULL || n == 0)
        return 0;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -1;
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0) {
        crypto_take_dn(gnutls_x509_crt_get_dn3(crt, &dn, 0), &dn, &cs->peer.dn);
        crypto_take_dn(gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0), &dn,
                       &cs->peer.issuer_dn);
    }
    gnutls_x509_crt_deinit(crt);
    if (cs->peer.dn == NULL || cs->peer.issuer_dn == NULL) {
        nbdkit_error("TLS: cannot read the client certificate's names");
        return -1;
    }
    debug("TLS: client certificate %s issued by %s", cs->peer.dn,
          cs->peer.issuer_dn);
    return 0;
}

/* ---- TLS versions of the connection's I/O functions ---- */

static int
crypto_recv_failed(struct crypto_session *cs, ssize_t r)
{
    if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
        errno = 0; /* EOF, with or without close_notify */
    else if (r == GNUTLS_E_PULL_ERROR)
        errno = cs->read_errno;
    else {
        crypto_log_failure(cs, "read", r);
        errno = EIO;
    }
    return -1;
}

static int
crypto_recv(struct connection *conn, void *vbuf, size_t len)
{
    struct crypto_session *cs = conn->crypto_session;
    char *buf = vbuf;

    while (len > 0) {
        ssize_t r = gnutls_record_recv(cs->session, buf, len);

        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r <= 0)
            return crypto_recv_failed(cs, r);
        buf += r;
        len -= r;
    }
    return 0;
}

static int
crypto_send_failed(struct crypto_session *cs, ssize_t r)
{
    errno = r == GNUTLS_E_PUSH_ERROR ? cs->write_errno : EIO;
    if (r != GNUTLS_E_PUSH_ERROR)
        crypto_log_failure(cs, "write", r);
    return -1;
}

/* Send what cork has gathered. */
static int
crypto_uncork(struct crypto_session *cs)
{
    int r;

    if (!cs->corked)
        return 0;
    cs->corked = false;
    cs->corked_bytes = 0;
    do
        r = gnutls_record_uncork(cs->session, GNUTLS_RECORD_WAIT);
    while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
    return r < 0 ? crypto_send_failed(cs, r) : 0;
}

static int
crypto_write(struct crypto_session *cs, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t r = gnutls_record_send(cs->session, buf, len);

        /* GnuTLS wants the same arguments again after these. */
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r < 0)
            return crypto_send_failed(cs, r);
        buf += r;
        len -= r;
    }
    return 0;
}

/* Small pieces of one reply (SEND_MORE) are corked into few records. */
static int
crypto_send(struct connection *conn, const void *buf, size_t len, int flags)
{
    struct crypto_session *cs = conn->crypto_session;
    bool more = flags & SEND_MORE;

    if (cs->corked_bytes + len > CORK_LIMIT && crypto_uncork(cs) == -1)
        return -1;
    if (more && !cs->corked && len <= CORK_LIMIT) {
        gnutls_record_cork(cs->session);
        cs->corked = true;
    }
    if (cs->corked)
        cs->corked_bytes += len;
    if (crypto_write(cs, buf, len) == -1)
        return -1;
    return more ? 0 : crypto_uncork(cs);
}

/* Send close_notify unless the client has stopped reading, then shut
 * the socket's write side.
 */
static void
crypto_shut_writes(struct connection *conn)
{
    struct crypto_session *cs = conn->crypto_session;
    struct pollfd pfd = {.fd = conn->sockout, .events = POLLOUT};
    int r;

    if (crypto_uncork(cs) == 0 && poll(&pfd, 1, BYE_TIMEOUT_MS) == 1) {
        do
            r = gnutls_bye(cs->session, GNUTLS_SHUT_WR);
        while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
        if (r < 0)
            debug("TLS: gnutls_bye: %s", gnutls_strerror(r));
    }
    cs->raw_shut_writes(conn);
}

static void
crypto_close(struct connection *conn)
{
    struct crypto_session *cs = conn->crypto_session;
    void (*raw_close)(struct connection * conn) = cs->raw_close;

    conn->crypto_session = NULL;
    crypto_session_free(cs);
    raw_close(conn);
}

int
crypto_negotiate_tls(struct connection *conn)
{
    struct crypto_session *cs = crypto_session_new(conn);

    if (cs == NULL)
        return -1;
    if (crypto_handshake(cs) == -1 || crypto_save_dns(cs) == -1) {
        crypto_session_free(cs);
        return -1;
    }
    conn->crypto_session = cs;
    conn->recv = crypto_recv;
    conn->send = crypto_send;
    conn->shut_writes = crypto_shut_writes;
    conn->close = crypto_close;
    conn->using_tls = true;
    return 0;
}

#else /* !HAVE_GNUTLS */

void
crypto_init(struct options *o)
{
    if (o->tls > 0)
        fatal("--tls: this nbdx was built without TLS support");
    o->tls = 0;
}

int
crypto_negotiate_tls(struct connection *conn)
{
    nbdkit_error("TLS: this nbdx was built without TLS support");
    return -1;
}

#endif /* !HAVE_GNUTLS */
