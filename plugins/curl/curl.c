/* SPDX-License-Identifier: BSD-3-Clause */
/* curl: serve a remote disk image read through libcurl: HTTP, HTTPS,
 * FTP and whatever else libcurl speaks (see nbdx-curl-plugin(1)).
 *
 * Every read is one range request.  The requests of all connections go
 * through a pool of connections= libcurl easy handles, so that several
 * are in flight at once and each keeps its server connection alive
 * between requests.  The size, and whether the server honours ranges,
 * are found once, by .get_ready, before any client connects: a bad URL
 * or an unreachable server stops the server at start-up.  The header
 * and cookie scripts are curl-script.c's.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "curl-script.h"

/* -D curl.verbose=1: libcurl's own trace of every request. */
NBDKIT_DLL_PUBLIC int curl_debug_verbose = 0;

/* The parameters.  Strings are owned here and freed by .unload. */
static char *url = NULL;        /* [url=]URL, required */
static char *user = NULL;       /* user= */
static char *password = NULL;   /* password=, read by nbdkit_read_password */
static char *proxy = NULL;      /* proxy= */
static char *proxy_user = NULL; /* proxy-user= */
static char *proxy_password = NULL;   /* proxy-password= */
static char *cookie = NULL;           /* cookie=, read like a password */
static char *cookiefile = NULL;       /* cookiefile=, "" for none */
static char *cookiejar = NULL;        /* cookiejar= */
static char *cainfo = NULL;           /* cainfo=, "" for no CA bundle */
static char *capath = NULL;           /* capath= */
static char *protocols = NULL;        /* protocols=P,P,... */
static char *user_agent = NULL;       /* user-agent= */
static char *unix_socket_path = NULL; /* unix-socket-path= */
static char *ssl_cipher_list = NULL;  /* ssl-cipher-list= */
static char *tls13_ciphers = NULL;    /* tls13-ciphers= */
static long ssl_version = CURL_SSLVERSION_DEFAULT; /* ssl-version= */
static struct curl_slist *headers = NULL; /* header=, each one appended */
static bool sslverify = true;             /* sslverify= */
static bool followlocation = true;        /* followlocation= */
static bool tcp_keepalive = false;        /* tcp-keepalive= */
static bool tcp_nodelay = true;           /* tcp-nodelay= */
static long timeout = 0;                  /* timeout=SECS, 0 for libcurl's */
static unsigned connections = 4;          /* connections=N, the pool's size */

/* Found by .get_ready, read-only afterwards. */
static int64_t size = -1;

/* Keep a copy of VALUE in *DEST, replacing an earlier one. */
static int
curl_set_string(char **dest, const char *value)
{
    free(*dest);
    *dest = strdup(value);
    if (*dest == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    return 0;
}

static int
curl_set_bool(bool *dest, const char *value)
{
    int r = nbdkit_parse_bool(value);

    if (r == -1)
        return -1;
    *dest = r;
    return 0;
}

/* ssl-version=NAME, the names of nbdkit's curl plugin. */
static int
curl_set_ssl_version(const char *value)
{
    static const struct {
        const char *name;
        long version;
    } names[] = {
        {"default", CURL_SSLVERSION_DEFAULT},
        {"tlsv1", CURL_SSLVERSION_TLSv1},
        {"sslv2", CURL_SSLVERSION_SSLv2},
        {"sslv3", CURL_SSLVERSION_SSLv3},
        {"tlsv1.0", CURL_SSLVERSION_TLSv1_0},
        {"tlsv1.1", CURL_SSLVERSION_TLSv1_1},
        {"tlsv1.2", CURL_SSLVERSION_TLSv1_2},
        {"tlsv1.3", CURL_SSLVERSION_TLSv1_3},
    };
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(value, names[i].name) == 0) {
            ssl_version = names[i].version;
            return 0;
        }
    }
    nbdkit_error("ssl-version: unknown version '%s'", value);
    return -1;
}

static int
curl_add_header(const char *value)
{
    struct curl_slist *l = curl_slist_append(headers, value);

    if (l == NULL) {
        nbdkit_error("header: curl_slist_append failed");
        return -1;
    }
    headers = l;
    return 0;
}

static int
curl_set_number(const char *key, const char *value, long *dest, long min)
{
    int32_t n;

    if (nbdkit_parse_int32_t(key, value, &n) == -1)
        return -1;
    if (n < min) {
        nbdkit_error("%s: must be at least %ld", key, min);
        return -1;
    }
    *dest = n;
    return 0;
}

/* The parameters that hold a string as given. */
static char **
curl_string_key(const char *key)
{
    static const struct {
        const char *key;
        char **dest;
    } keys[] = {
        {"url", &url},
        {"user", &user},
        {"proxy", &proxy},
        {"proxy-user", &proxy_user},
        {"cainfo", &cainfo},
        {"cookiefile", &cookiefile},
        {"cookiejar", &cookiejar},
        {"capath", &capath},
        {"protocols", &protocols},
        {"user-agent", &user_agent},
        {"unix-socket-path", &unix_socket_path},
        {"ssl-cipher-list", &ssl_cipher_list},
        {"tls13-ciphers", &tls13_ciphers},
    };
    size_t i;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i].key) == 0)
            return keys[i].dest;
    return NULL;
}

/* password=, proxy-password= and cookie= take nbdkit's password forms:
 * the value itself, - (asked on the terminal), +FILE or -FD.
 */
static int
curl_set_secret(char **dest, const char *value)
{
    free(*dest);
    *dest = NULL;
    return nbdkit_read_password(value, dest);
}

static int
curl_config(const char *key, const char *value)
{
    char **dest = curl_string_key(key);
    long n;
    int r = script_config(key, value);

    if (r != 1)
        return r;
    if (dest != NULL)
        return curl_set_string(dest, value);
    if (strcmp(key, "password") == 0)
        return curl_set_secret(&password, value);
    if (strcmp(key, "proxy-password") == 0)
        return curl_set_secret(&proxy_password, value);
    if (strcmp(key, "cookie") == 0)
        return curl_set_secret(&cookie, value);
    if (strcmp(key, "header") == 0)
        return curl_add_header(value);
    if (strcmp(key, "sslverify") == 0)
        return curl_set_bool(&sslverify, value);
    if (strcmp(key, "followlocation") == 0)
        return curl_set_bool(&followlocation, value);
    if (strcmp(key, "tcp-keepalive") == 0)
        return curl_set_bool(&tcp_keepalive, value);
    if (strcmp(key, "tcp-nodelay") == 0)
        return curl_set_bool(&tcp_nodelay, value);
    if (strcmp(key, "ssl-version") == 0)
        return curl_set_ssl_version(value);
    if (strcmp(key, "timeout") == 0)
        return curl_set_number(key, value, &timeout, 0);
    if (strcmp(key, "connections") == 0) {
        if (curl_set_number(key, value, &n, 1) == -1)
            return -1;
        if (n > 1024) {
            nbdkit_error("connections: at most 1024");
            return -1;
        }
        connections = n;
        return 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
curl_config_complete(void)
{
    if (url == NULL) {
        nbdkit_error("you must supply the url=<URL> parameter "
                     "after the plugin name on the command line");
        return -1;
    }
    return script_config_complete(headers != NULL, cookie != NULL);
}

#define curl_config_help                                                       \
    "[url=]<URL>        (required) The disk image URL to serve.\n"             \
    "user=<USER>                   The user to log in as.\n"                   \
    "password=<PASSWORD>           The password for the user account.\n"       \
    "header=<HEADER>               Set HTTP/HTTPS header (repeatable).\n"      \
    "header-script=<SCRIPT>        Script to set HTTP/HTTPS headers.\n"        \
    "header-script-renew=<SECS>    Time to renew HTTP/HTTPS headers.\n"        \
    "cookie=<COOKIE>               Set HTTP/HTTPS cookies.\n"                  \
    "cookie-script=<SCRIPT>        Script to set HTTP/HTTPS cookies.\n"        \
    "cookie-script-renew=<SECS>    Time to renew HTTP/HTTPS cookies.\n"        \
    "cookiefile=<FILENAME>         Read cookies from file.\n"                  \
    "cookiejar=<FILENAME>          Read and write cookies to jar.\n"           \
    "user-agent=<USER-AGENT>       Send user-agent header for HTTP/HTTPS.\n"   \
    "sslverify=false               Do not verify the server's certificate.\n"  \
    "cainfo=<CAINFO>               Path to Certificate Authority file.\n"      \
    "capath=<CAPATH>               Path to directory with CA certificates.\n"  \
    "ssl-version=<VERSION>         Specify preferred TLS/SSL version.\n"       \
    "ssl-cipher-list=C1:C2:..      Specify TLS/SSL cipher suites.\n"           \
    "tls13-ciphers=C1:C2:..        Specify TLS 1.3 cipher suites.\n"           \
    "timeout=<SECS>                Set the timeout for requests.\n"            \
    "connections=<N>               Requests in flight at once (4).\n"          \
    "followlocation=false          Do not follow redirects.\n"                 \
    "protocols=PROTO,PROTO,..      Limit protocols allowed.\n"                 \
    "proxy=<PROXY>                 Set proxy URL.\n"                           \
    "proxy-user=<USER>             The proxy user.\n"                          \
    "proxy-password=<PASSWORD>     The proxy password.\n"                      \
    "tcp-keepalive=true            Enable TCP keepalives.\n"                   \
    "tcp-nodelay=false             Enable Nagle's algorithm.\n"                \
    "unix-socket-path=<PATH>       Connect to a Unix domain socket."

static int
curl_load_library(void)
{
    CURLcode r = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (r != CURLE_OK) {
        nbdkit_error("libcurl initialization failed: %s",
                     curl_easy_strerror(r));
        return -1;
    }
    return 0;
}

static void
curl_load(void)
{
    /* .load cannot fail: a failed initialization shows at the first
     * request instead.
     */
    curl_load_library();
}

static void
curl_dump_plugin(void)
{
    printf("curl_version=%s\n", curl_version());
}

/* One libcurl easy handle and the state of its current transfer.  A
 * handle belongs to the pool; between curl_handle_get and curl_handle_put
 * only the thread that took it touches it.
 */
struct curl_handle {
    CURL *c;
    bool in_use;
    char errbuf[CURL_ERROR_SIZE];
    char *buf;               /* where the body goes, want bytes */
    size_t want, got;        /* got > want: the server sent too much */
    bool accept_ranges;      /* "Accept-Ranges: bytes" seen */
    int64_t range_total;     /* the total of a Content-Range, or -1 */
    struct script_seen seen; /* the scripts' output it has */
};

/* The pool: connections handles, made on first use, freed by .unload. */
static void curl_handle_put(struct curl_handle *h);

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond =
    PTHREAD_COND_INITIALIZER;           /* a handle came back */
static struct curl_handle *pool = NULL; /* guarded by pool_lock */

/* Body bytes go into h->buf; more than h->want is counted, not stored,
 * and stops the transfer.
 */
static size_t
curl_write_cb(char *data, size_t sz, size_t n, void *opaque)
{
    struct curl_handle *h = opaque;
    size_t len = sz * n;

    if (len > h->want - h->got) {
        h->got = h->want + 1;
        return 0;
    }
    memcpy(h->buf + h->got, data, len);
    h->got += len;
    return len;
}

/* Does header line DATA (of LEN bytes, no NUL) start with NAME? */
static bool
curl_header_is(const char *data, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len >= n && strncasecmp(data, name, n) == 0;
}

/* Watch for Accept-Ranges and Content-Range in the replies. */
static size_t
curl_header_cb(char *data, size_t sz, size_t n, void *opaque)
{
    struct curl_handle *h = opaque;
    size_t len = sz * n;
    char line[256];
    const char *slash;

    if (curl_header_is(data, len, "HTTP/")) { /* a new reply */
        h->accept_ranges = false;
        h->range_total = -1;
    }
    if (len >= sizeof line)
        return len;
    memcpy(line, data, len);
    line[len] = '\0';
    if (curl_header_is(line, len, "accept-ranges:") &&
        strcasestr(line + 14, "bytes") != NULL)
        h->accept_ranges = true;
    if (curl_header_is(line, len, "content-range:") &&
        (slash = strchr(line, '/')) != NULL && slash[1] >= '0' &&
        slash[1] <= '9')
        h->range_total = strtoll(slash + 1, NULL, 10);
    return len;
}

/* The options every request shares. */
static int
curl_handle_setup(struct curl_handle *h)
{
    CURL *c = h->c;
    CURLcode r = CURLE_OK;

#define SET(opt, val)                                                          \
    do {                                                                       \
        if (r == CURLE_OK)                                                     \
            r = curl_easy_setopt(c, opt, val);                                 \
    } while (0)
    SET(CURLOPT_ERRORBUFFER, h->errbuf);
    SET(CURLOPT_URL, url);
    SET(CURLOPT_NOSIGNAL, 1L); /* libcurl runs in the server's threads */
    SET(CURLOPT_VERBOSE, (long)(curl_debug_verbose != 0));
    SET(CURLOPT_WRITEFUNCTION, curl_write_cb);
    SET(CURLOPT_WRITEDATA, h);
    SET(CURLOPT_HEADERFUNCTION, curl_header_cb);
    SET(CURLOPT_HEADERDATA, h);
    SET(CURLOPT_FOLLOWLOCATION, (long)followlocation);
    SET(CURLOPT_TCP_KEEPALIVE, (long)tcp_keepalive);
    SET(CURLOPT_TCP_NODELAY, (long)tcp_nodelay);
    SET(CURLOPT_SSL_VERIFYPEER, (long)sslverify);
    SET(CURLOPT_SSL_VERIFYHOST, sslverify ? 2L : 0L);
    SET(CURLOPT_SSLVERSION, ssl_version);
    if (timeout > 0)
        SET(CURLOPT_TIMEOUT, timeout);
    if (headers)
        SET(CURLOPT_HTTPHEADER, headers);
#define SET_STRING(opt, s)                                                     \
    do {                                                                       \
        if (s != NULL)                                                         \
            SET(opt, s);                                                       \
    } while (0)
    SET_STRING(CURLOPT_USERNAME, user);
    SET_STRING(CURLOPT_PASSWORD, password);
    SET_STRING(CURLOPT_COOKIE, cookie);
    SET_STRING(CURLOPT_COOKIEFILE, cookiefile);
    SET_STRING(CURLOPT_COOKIEJAR, cookiejar);
    SET_STRING(CURLOPT_CAINFO, cainfo);
    SET_STRING(CURLOPT_CAPATH, capath);
    SET_STRING(CURLOPT_PROTOCOLS_STR, protocols);
    SET_STRING(CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    SET_STRING(CURLOPT_PROXY, proxy);
    SET_STRING(CURLOPT_PROXYUSERNAME, proxy_user);
    SET_STRING(CURLOPT_PROXYPASSWORD, proxy_password);
    SET_STRING(CURLOPT_USERAGENT, user_agent);
    SET_STRING(CURLOPT_UNIX_SOCKET_PATH, unix_socket_path);
    SET_STRING(CURLOPT_SSL_CIPHER_LIST, ssl_cipher_list);
    SET_STRING(CURLOPT_TLS13_CIPHERS, tls13_ciphers);
#undef SET_STRING
#undef SET
    if (r != CURLE_OK) {
        nbdkit_error("curl_easy_setopt: %s", curl_easy_strerror(r));
        return -1;
    }
    return 0;
}

/* Make h->c, set up for url.  On failure h->c is NULL. */
static int
curl_handle_init(struct curl_handle *h)
{
    h->c = curl_easy_init();
    if (h->c == NULL) {
        nbdkit_error("curl_easy_init failed");
        return -1;
    }
    if (curl_handle_setup(h) == -1) {
        curl_easy_cleanup(h->c);
        h->c = NULL;
        return -1;
    }
    return 0;
}

/* Take a free handle from the pool, waiting for one if all are busy,
 * with the scripts' current output.  Give it back with curl_handle_put.
 */
static struct curl_handle *
curl_handle_get(void)
{
    struct curl_handle *h = NULL;
    unsigned i;

    pthread_mutex_lock(&pool_lock);
    while (h == NULL) {
        for (i = 0; i < connections && h == NULL; i++)
            if (!pool[i].in_use)
                h = &pool[i];
        if (h == NULL)
            pthread_cond_wait(&pool_cond, &pool_lock);
    }
    h->in_use = true;
    pthread_mutex_unlock(&pool_lock);
    if ((h->c == NULL && curl_handle_init(h) == -1) ||
        script_apply(h->c, &h->seen, url) == -1) {
        curl_handle_put(h);
        return NULL;
    }
    return h;
}

static void
curl_handle_put(struct curl_handle *h)
{
    pthread_mutex_lock(&pool_lock);
    h->in_use = false;
    pthread_cond_signal(&pool_cond);
    pthread_mutex_unlock(&pool_lock);
}

/* Is this handle's last transfer an HTTP one (after redirects)? */
static bool
curl_is_http(struct curl_handle *h)
{
    char *scheme = NULL;

    if (curl_easy_getinfo(h->c, CURLINFO_SCHEME, &scheme) != CURLE_OK ||
        scheme == NULL)
        return false;
    return strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0;
}

/* The errno of an HTTP status: those the NBD protocol can carry. */
static int
curl_status_errno(long status)
{
    switch (status) {
    case 401:
    case 403:
    case 407:
        return EPERM;
    case 416:
        return EINVAL;
    default:
        return EIO;
    }
}

/* The errno of a failed transfer. */
static int
curl_code_errno(CURLcode r)
{
    switch (r) {
    case CURLE_OUT_OF_MEMORY:
        return ENOMEM;
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
        return EPERM;
    default:
        return EIO;
    }
}

/* Run the transfer set up on h.  On failure say why once, with WHAT as
 * context, set the NBD error, and return -1.  An HTTP status of 300 or
 * more is a failure: a redirect not followed (followlocation=false) or
 * an error.
 */
static int
curl_handle_perform(struct curl_handle *h, const char *what)
{
    CURLcode r;
    long status = 0;

    h->errbuf[0] = '\0';
    h->got = 0;
    h->accept_ranges = false;
    h->range_total = -1;
    r = curl_easy_perform(h->c);
    if (r != CURLE_OK && !(r == CURLE_WRITE_ERROR && h->got > h->want)) {
        nbdkit_error("%s: %s: %s", what, url,
                     h->errbuf[0] ? h->errbuf : curl_easy_strerror(r));
        nbdkit_set_error(curl_code_errno(r));
        return -1;
    }
    if (curl_is_http(h) &&
        curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
        status >= 300) {
        nbdkit_error("%s: %s: HTTP status %ld", what, url, status);
        nbdkit_set_error(curl_status_errno(status));
        return -1;
    }
    return 0;
}

/* Ask for the headers only: the size from Content-Length, and whether
 * ranges are accepted.  Returns the size or -1 if the reply did not say;
 * -2 on an error already reported.
 */
static int64_t
curl_probe_head(struct curl_handle *h, bool *ranges)
{
    curl_off_t len = -1;

    curl_easy_setopt(h->c, CURLOPT_NOBODY, 1L);
    h->want = 0;
    if (curl_handle_perform(h, "HEAD") == -1)
        return -2;
    if (curl_easy_getinfo(h->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) !=
        CURLE_OK)
        len = -1;
    *ranges = !curl_is_http(h) || h->accept_ranges;
    return len;
}

/* GET the first byte: a 206 reply gives the size in its Content-Range
 * and proves that ranges work.  Returns the size, or -1 after an error.
 */
static int64_t
curl_probe_get(struct curl_handle *h)
{
    char byte;
    long status = 0;

    curl_easy_setopt(h->c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h->c, CURLOPT_RANGE, "0-0");
    h->buf = &byte;
    h->want = 1;
    if (curl_handle_perform(h, "GET") == -1)
        return -1;
    curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 206 || h->range_total < 0) {
        nbdkit_error("%s: the server does not support range requests "
                     "(HTTP status %ld to a Range request)",
                     url, status);
        return -1;
    }
    return h->range_total;
}

/* Find the size before any client connects, with a handle of the pool
 * which then serves the first reads.
 */
static int
curl_get_ready(void)
{
    struct curl_handle *h;
    bool ranges = false;
    int64_t r;

    pool = calloc(connections, sizeof *pool);
    if (pool == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    h = curl_handle_get();
    if (h == NULL)
        return -1;
    r = curl_probe_head(h, &ranges);
    if (r != -2 && (r < 0 || !ranges))
        r = curl_probe_get(h);
    curl_easy_setopt(h->c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h->c, CURLOPT_RANGE, NULL);
    curl_handle_put(h);
    if (r < 0)
        return -1;
    size = r;
    nbdkit_debug("curl: %s: size %" PRIi64, url, size);
    return 0;
}

static void
curl_unload(void)
{
    unsigned i;

    for (i = 0; pool != NULL && i < connections; i++) {
        if (pool[i].c != NULL)
            curl_easy_cleanup(pool[i].c);
        script_seen_free(&pool[i].seen);
    }
    free(pool);
    script_unload();
    curl_slist_free_all(headers);
    free(url);
    free(user);
    free(password);
    free(proxy);
    free(proxy_user);
    free(proxy_password);
    free(cookie);
    free(cookiefile);
    free(cookiejar);
    free(cainfo);
    free(capath);
    free(protocols);
    free(user_agent);
    free(unix_socket_path);
    free(ssl_cipher_list);
    free(tls13_ciphers);
    curl_global_cleanup();
}

/* Connections share the pool: no state of their own. */
static void *
curl_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
curl_get_size(void *handle)
{
    return size;
}

/* The data never changes under us, as far as we know. */
static int
curl_can_multi_conn(void *handle)
{
    return 1;
}

static int
curl_can_write(void *handle)
{
    return 0;
}

/* One range GET per read, of exactly count bytes. */
static int
curl_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    struct curl_handle *h = curl_handle_get();
    char range[64];
    int r = -1;

    if (h == NULL)
        return -1;
    snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, offset,
             offset + count - 1);
    curl_easy_setopt(h->c, CURLOPT_RANGE, range);
    h->buf = buf;
    h->want = count;
    if (curl_handle_perform(h, "pread") == -1)
        goto out;
    if (h->got != count) {
        nbdkit_error("pread: %s: %s %zu bytes instead of %" PRIu32
                     " at offset %" PRIu64,
                     url, h->got > count ? "the server sent more than" : "got",
                     h->got > count ? (size_t)count : h->got, count, offset);
        nbdkit_set_error(EIO);
        goto out;
    }
    r = 0;
out:
    h->buf = NULL;
    curl_handle_put(h);
    return r;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "curl",
    .longname = "nbdx curl plugin",
    .version = PACKAGE_VERSION,
    .description = "Serve a disk image read over HTTP, HTTPS, FTP... "
                   "with libcurl.",
    .load = curl_load,
    .unload = curl_unload,
    .config = curl_config,
    .config_complete = curl_config_complete,
    .config_help = curl_config_help,
    .magic_config_key = "url",
    .dump_plugin = curl_dump_plugin,
    .get_ready = curl_get_ready,
    .open = curl_open,
    .get_size = curl_get_size,
    .can_write = curl_can_write,
    .can_multi_conn = curl_can_multi_conn,
    .pread = curl_pread,
};

NBDKIT_REGISTER_PLUGIN(plugin)
