/* SPDX-License-Identifier: BSD-3-Clause */
/* swift: an OpenStack Swift object store through its v1 API and libcurl
 * (see nbdx-swift-plugin(1)).
 *
 * Two modes.  object=NAME serves one existing object read-only, each
 * read one Range GET.  size=SIZE serves a writable disk stored as one
 * object per block, CONTAINER/block-%016x (the block number in hex):
 * a block never written (or all zeros) has no object, reads as zeros
 * and is a hole.  Which blocks exist is read from a listing of the
 * container at start-up and then kept in memory (common/objdisk keeps
 * the bitmap and does the block arithmetic), so the container must have
 * no other writer while it is served.
 *
 * Requests run in parallel (NBDKIT_THREAD_MODEL_PARALLEL) over a pool of
 * connections= keep-alive curl handles.  A write of part of a block is a
 * read-modify-write of the whole block under that block's lock (one of
 * OBJDISK_LOCKS striped mutexes, in objdisk); every PUT is synchronous,
 * so FLUSH and FUA have nothing left to wait for.
 *
 * Lock order: a block lock, then auth_lock or curlpool's lock or objdisk's
 * bitmap lock (those three are never held together).
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

#include <curl/curl.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "curlpool.h"
#include "objdisk.h"

/* The configuration.  The strings belong to the server (they are the
 * command line's), except key, which is ours.
 */
static const char *auth_url = NULL;    /* auth-url=, tempauth v1.0 */
static const char *user = NULL;        /* user=, ACCOUNT:USER */
static char *key = NULL;               /* key=, malloc'd */
static const char *token_arg = NULL;   /* token=, with storage-url= */
static const char *storage_arg = NULL; /* storage-url= */
static const char *container = NULL;   /* container=, required */
static const char *object = NULL;      /* object=, read-only mode */
static int64_t size = -1;              /* size=, chunked mode */
static int64_t block_size = 65536;     /* block-size= */
static unsigned connections = 4;       /* connections= */

#define CONNECT_TIMEOUT 10L /* seconds to connect, then fail */
#define STALL_TIME 60L      /* seconds without a byte, then fail */
#define RETRIES 4           /* more tries of a 5xx or network error */

/* The token sent with every request, replaced by a new login when the
 * server refuses it (401).  auth_gen counts the logins.
 */
static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;
static char *token = NULL;   /* guarded by auth_lock, malloc'd */
static unsigned auth_gen;    /* guarded by auth_lock */
static char *storage_url;    /* set at start-up, then read only */
static char *base_url;       /* STORAGE/CONTAINER, set at start-up */
static bool ready = false;   /* started: network errors are retried */
static int64_t disk_size;    /* set at start-up */
static struct objdisk *disk; /* chunked mode: the blocks */

/* The curl handles, made and used the first time before nbdx forks
 * into the background, then made again by after_fork.
 */
static struct curlpool *pool;

static int
swift_config_number(const char *name, const char *value)
{
    if (strcmp(name, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(name, "block-size") == 0) {
        block_size = nbdkit_parse_size(value);
        if (block_size == -1)
            return -1;
        if (block_size < 512 || block_size > 64 * 1024 * 1024) {
            nbdkit_error("block-size must be between 512 and 64M");
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "connections") == 0) {
        if (nbdkit_parse_unsigned("connections", value, &connections) == -1)
            return -1;
        if (connections < 1 || connections > 256) {
            nbdkit_error("connections must be between 1 and 256");
            return -1;
        }
        return 0;
    }
    nbdkit_error("unknown parameter '%s'", name);
    return -1;
}

static int
swift_config(const char *key_name, const char *value)
{
    if (strcmp(key_name, "auth-url") == 0)
        auth_url = value;
    else if (strcmp(key_name, "user") == 0)
        user = value;
    else if (strcmp(key_name, "key") == 0) {
        free(key);
        return nbdkit_read_password(value, &key);
    } else if (strcmp(key_name, "token") == 0)
        token_arg = value;
    else if (strcmp(key_name, "storage-url") == 0)
        storage_arg = value;
    else if (strcmp(key_name, "container") == 0)
        container = value;
    else if (strcmp(key_name, "object") == 0)
        object = value;
    else
        return swift_config_number(key_name, value);
    return 0;
}

static int swift_start(void);

/* The parameters are checked, then the server is reached at once (in
 * swift_start), so that an error stops nbdx with one line.
 */
static int
swift_config_complete(void)
{
    if (container == NULL) {
        nbdkit_error("container= is required");
        return -1;
    }
    if ((object == NULL) == (size == -1)) {
        nbdkit_error("give either object= or size=");
        return -1;
    }
    if (auth_url && (user == NULL || key == NULL)) {
        nbdkit_error("auth-url= needs user= and key=");
        return -1;
    }
    if (auth_url == NULL && (token_arg == NULL || storage_arg == NULL)) {
        nbdkit_error("give auth-url=, user= and key=, "
                     "or token= and storage-url=");
        return -1;
    }
    return swift_start();
}

#define swift_config_help                                                      \
    "auth-url=URL          Swift v1.0 auth URL (tempauth).\n"                  \
    "user=ACCOUNT:USER     User for auth-url=.\n"                              \
    "key=KEY               Key (password) for auth-url= (or -, -FD, +FILE).\n" \
    "token=TOKEN           A token, instead of auth-url=.\n"                   \
    "storage-url=URL       The storage URL that goes with token=.\n"           \
    "container=NAME        (required) The container.\n"                        \
    "object=NAME           Serve this object read-only.\n"                     \
    "size=SIZE             Or: a writable disk of SIZE, one object a block.\n" \
    "block-size=SIZE       The size of a block (default 64K).\n"               \
    "connections=N         Parallel HTTP connections (default 4)."

static void
swift_load(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
swift_unload(void)
{
    curlpool_free(pool);
    objdisk_free(disk);
    free(key);
    free(token);
    free(storage_url);
    free(base_url);
    curl_global_cleanup();
}

/* ---- HTTP requests ---- */

/* One request and its answer.  The body of a GET goes to get[0 ..
 * get_cap-1] (a longer body is an error), or to a growing malloc'd
 * buffer when grow is set.
 */
struct swift_req {
    const char *method; /* GET, HEAD, PUT or DELETE */
    const char *url;
    const char *range; /* a Range header's value, or NULL */
    const char *put;   /* PUT: the body, put_len bytes */
    size_t put_len, put_pos;
    char *get; /* GET: the body so far, get_len bytes */
    size_t get_len, get_cap;
    bool grow;
    long status;    /* the HTTP status */
    int64_t length; /* HEAD: the Content-Length, or -1 */
};

static size_t
swift_write_cb(char *data, size_t n, size_t nmemb, void *opaque)
{
    struct swift_req *r = opaque;
    size_t len = n * nmemb;

    if (r == NULL || (r->get == NULL && !r->grow))
        return len; /* an error page, or a body nobody asked for */
    if (r->get_len + len > r->get_cap) {
        size_t cap = (r->get_len + len) * 2;
        char *p;

        if (!r->grow)
            return 0; /* longer than asked for: CURLE_WRITE_ERROR */
        p = realloc(r->get, cap);
        if (p == NULL)
            return 0;
        r->get = p;
        r->get_cap = cap;
    }
    memcpy(r->get + r->get_len, data, len);
    r->get_len += len;
    return len;
}

static size_t
swift_read_cb(char *data, size_t n, size_t nmemb, void *opaque)
{
    struct swift_req *r = opaque;
    size_t len = n * nmemb;

    if (len > r->put_len - r->put_pos)
        len = r->put_len - r->put_pos;
    memcpy(data, r->put + r->put_pos, len);
    r->put_pos += len;
    return len;
}

/* The options common to every request: timeouts, no signals, and the
 * answer's body through swift_write_cb.
 */
static void
swift_setopt_common(CURL *c, const char *url, void *opaque)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_TIME);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, swift_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, opaque);
}

static void
swift_setopt_method(CURL *c, struct swift_req *r)
{
    if (strcmp(r->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, swift_read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->put_len);
    } else if (strcmp(r->method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
}

/* Run r once on c with token tok; the HTTP status goes to r->status. */
static CURLcode
swift_perform(CURL *c, struct swift_req *r, const char *tok)
{
    struct curl_slist *h = NULL, *h2;
    char line[4096];
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    curl_off_t length = -1;

    curl_easy_reset(c); /* keeps the live connection */
    r->get_len = r->put_pos = 0;
    r->status = 0;
    snprintf(line, sizeof line, "X-Auth-Token: %s", tok);
    h = curl_slist_append(h, line);
    /* No 100-continue round trip before a PUT. */
    if (h && (h2 = curl_slist_append(h, "Expect:")) != NULL)
        h = h2;
    else
        goto out;
    if (r->range) {
        snprintf(line, sizeof line, "Range: %s", r->range);
        if ((h2 = curl_slist_append(h, line)) == NULL)
            goto out;
        h = h2;
    }
    swift_setopt_common(c, r->url, r);
    swift_setopt_method(c, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    r->length = length;
out:
    curl_slist_free_all(h);
    return rc;
}

/* ---- the curl handle pool ---- */

static int
swift_pool_new(void)
{
    pool = curlpool_new(connections);
    if (pool == NULL) {
        nbdkit_error("curl handles: %m");
        return -1;
    }
    return 0;
}

/* After the fork into the background: new handles, so that no
 * connection is shared with the parent.  No request runs yet.
 */
static int
swift_after_fork(void)
{
    if (curlpool_renew(pool) == -1) {
        nbdkit_error("curl handles: %m");
        return -1;
    }
    return 0;
}

/* ---- authentication ---- */

/* A header of the last answer on c, malloc'd, or NULL. */
static char *
swift_header(CURL *c, const char *name)
{
    struct curl_header *h;

    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return strdup(h->value);
}

static CURLcode
swift_auth_request(CURL *c, long *status)
{
    struct curl_slist *h = NULL, *h2;
    char line[4096];
    CURLcode rc = CURLE_OUT_OF_MEMORY;

    snprintf(line, sizeof line, "X-Auth-User: %s", user);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Auth-Key: %s", key);
    if (h == NULL || (h2 = curl_slist_append(h, line)) == NULL)
        goto out;
    h = h2;
    swift_setopt_common(c, auth_url, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
out:
    curl_slist_free_all(h);
    return rc;
}

/* Log in at auth_url: a new token (and, the first time, the storage
 * URL).  Called with auth_lock held.
 */
static int
swift_login(void)
{
    CURL *c = curl_easy_init();
    CURLcode rc;
    long status = 0;
    char *tok;

    if (c == NULL) {
        nbdkit_error("curl_easy_init failed");
        return -1;
    }
    rc = swift_auth_request(c, &status);
    if (rc != CURLE_OK) {
        nbdkit_error("cannot reach %s: %s", auth_url, curl_easy_strerror(rc));
        goto error;
    }
    if (status == 401 || status == 403) {
        nbdkit_error("%s refused user %s: wrong user or key (HTTP %ld)",
                     auth_url, user, status);
        goto error;
    }
    tok = swift_header(c, "X-Auth-Token");
    if (status / 100 != 2 || tok == NULL) {
        free(tok);
        nbdkit_error("%s gave no token (HTTP %ld): is it a Swift v1.0 "
                     "auth URL?",
                     auth_url, status);
        goto error;
    }
    free(token);
    token = tok;
    auth_gen++;
    if (storage_url == NULL &&
        (storage_url = swift_header(c, "X-Storage-Url")) == NULL) {
        nbdkit_error("%s gave no X-Storage-Url", auth_url);
        goto error;
    }
    curl_easy_cleanup(c);
    return 0;
error:
    curl_easy_cleanup(c);
    return -1;
}

/* The token was refused: log in again, unless another thread did
 * already since the refused token (generation gen) was taken.
 */
static int
swift_relogin(unsigned gen)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&auth_lock);

    if (gen != auth_gen)
        return 0;
    nbdkit_debug("swift: the token was refused, logging in again");
    return swift_login();
}

/* A copy of the current token and its generation. */
static char *
swift_token(unsigned *gen)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&auth_lock);
    char *t = strdup(token);

    if (t == NULL)
        nbdkit_error("strdup: %m");
    *gen = auth_gen;
    return t;
}

/* ---- a request with retries ---- */

/* Run r once with the current token. */
static CURLcode
swift_try(struct swift_req *r, unsigned *gen)
{
    CLEANUP_FREE char *tok = swift_token(gen);
    CURLcode rc;
    CURL *c;

    if (tok == NULL)
        return CURLE_OUT_OF_MEMORY;
    c = curlpool_get(pool);
    rc = swift_perform(c, r, tok);
    curlpool_put(pool, c);
    return rc;
}

/* Run r: a refused token (401) logs in again once, a 5xx answer or a
 * network error is tried again after a pause, RETRIES times (network
 * errors only once the server is up: at start-up they fail at once).
 * Returns the status of a 2xx or 404 answer; otherwise says why and
 * returns -1 with errno EPERM (401, 403) or EIO.
 */
static long
swift_call(struct swift_req *r)
{
    bool relogged = false;
    unsigned gen;
    CURLcode rc;
    int try;

    for (try = 0;; try++) {
        rc = swift_try(r, &gen);
        if (rc == CURLE_OK && (r->status / 100 == 2 || r->status == 404))
            return r->status;
        if (rc == CURLE_OK && r->status == 401 && auth_url && !relogged) {
            relogged = true;
            if (swift_relogin(gen) == -1)
                break;
            try--;
            continue;
        }
        if (try < RETRIES &&
            ((rc == CURLE_OK && r->status >= 500) ||
             (rc != CURLE_OK && rc != CURLE_WRITE_ERROR && ready))) {
            curlpool_backoff(try);
            continue;
        }
        if (rc != CURLE_OK)
            nbdkit_error("%s %s: %s", r->method, r->url,
                         curl_easy_strerror(rc));
        else
            nbdkit_error("%s %s: HTTP %ld%s", r->method, r->url, r->status,
                         r->status == 401 || r->status == 403
                             ? " (the token or key was refused)"
                             : "");
        break;
    }
    errno =
        rc == CURLE_OK && (r->status == 401 || r->status == 403) ? EPERM : EIO;
    return -1;
}

/* ---- start-up ---- */

/* base_url/NAME, NAME escaped; malloc'd, or NULL after an error. */
static char *
swift_url(const char *name)
{
    char *e = curl_easy_escape(NULL, name, 0);
    char *url = NULL;

    if (e == NULL || asprintf(&url, "%s/%s", base_url, e) == -1) {
        nbdkit_error("cannot make the URL of %s", name);
        url = NULL;
    }
    curl_free(e);
    return url;
}

/* object=: the object's size, from a HEAD. */
static int
swift_open_object(void)
{
    CLEANUP_FREE char *url = swift_url(object);
    struct swift_req r = {.method = "HEAD", .url = url};
    long status;

    if (url == NULL || (status = swift_call(&r)) == -1)
        return -1;
    if (status == 404) {
        nbdkit_error("object %s/%s does not exist", container, object);
        return -1;
    }
    if (r.length < 0) {
        nbdkit_error("HEAD %s: no Content-Length", url);
        return -1;
    }
    disk_size = r.length;
    return 0;
}

/* Mark the blocks named in one page of the listing; the last name goes
 * to marker (at most 64 bytes), "" for an empty page.
 */
static void
swift_parse_listing(char *text, size_t len, char *marker)
{
    char *line, *save = NULL;
    uint64_t blk;
    int end;

    marker[0] = '\0';
    text[len] = '\0';
    for (line = strtok_r(text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        snprintf(marker, 64, "%s", line);
        end = 0;
        if (strlen(line) == 22 &&
            sscanf(line, "block-%16" SCNx64 "%n", &blk, &end) == 1 && end == 22)
            objdisk_mark(disk, blk);
    }
}

/* Which blocks exist: GET CONTAINER?prefix=block-, a page at a time. */
static int
swift_list_blocks(void)
{
    char marker[64] = "", *url = NULL;
    struct swift_req r = {.method = "GET", .grow = true};
    long status = -1;

    do {
        free(url);
        if (asprintf(&url, "%s?prefix=block-&marker=%s", base_url, marker) ==
            -1) {
            nbdkit_error("asprintf: %m");
            url = NULL;
            break;
        }
        r.url = url;
        status = swift_call(&r);
        if (status == -1 || status == 404 || r.get_len == 0)
            break;
        swift_parse_listing(r.get, r.get_len, marker);
    } while (marker[0]);
    free(url);
    free(r.get);
    if (status == 404)
        nbdkit_error("container %s disappeared", container);
    return status == -1 || status == 404 ? -1 : 0;
}

/* size=: make the container if needed, and list its blocks. */
static const struct objdisk_ops swift_objdisk_ops; /* below */

static int
swift_open_chunked(void)
{
    struct swift_req r = {.method = "PUT", .url = base_url};

    if (swift_call(&r) == -1)
        return -1;
    if (r.status != 201 && r.status != 202) {
        nbdkit_error("PUT %s: HTTP %ld", base_url, r.status);
        return -1;
    }
    disk_size = size;
    disk = objdisk_new(size, block_size, &swift_objdisk_ops, NULL);
    if (disk == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    return swift_list_blocks();
}

/* Log in, and find the object or the blocks: called by config_complete. */
static int
swift_start(void)
{
    char *e;

    if (swift_pool_new() == -1)
        return -1;
    if (auth_url) {
        ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&auth_lock);
        if (swift_login() == -1)
            return -1;
    } else if ((token = strdup(token_arg)) == NULL ||
               (storage_url = strdup(storage_arg)) == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    e = curl_easy_escape(NULL, container, 0);
    if (e == NULL || asprintf(&base_url, "%s/%s", storage_url, e) == -1) {
        nbdkit_error("cannot make the URL of container %s", container);
        base_url = NULL;
        curl_free(e);
        return -1;
    }
    curl_free(e);
    if ((object ? swift_open_object() : swift_open_chunked()) == -1)
        return -1;
    ready = true;
    return 0;
}

/* ---- per connection ---- */

static void *
swift_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
swift_get_size(void *handle)
{
    return disk_size;
}

static int
swift_can_write(void *handle)
{
    return object == NULL;
}

static int
swift_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE; /* every PUT is synchronous */
}

static int
swift_can_multi_conn(void *handle)
{
    return 1; /* one server, one bitmap: all connections see the same */
}

static int
swift_can_extents(void *handle)
{
    return object == NULL;
}

/* ---- the data path ---- */

/* A GET of bytes [off, off+len) of the object at url into buf: 1, or 0
 * for a 404, or -1 after an error.
 */
static int
swift_get_range(const char *url, char *buf, uint32_t len, uint64_t off)
{
    char range[64];
    struct swift_req r = {.method = "GET", .url = url, .range = range};
    long status;

    if (len == 0)
        return 1;
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, off,
             off + len - 1);
    r.get = buf;
    r.get_cap = len;
    status = swift_call(&r);
    if (status == -1 || status == 404)
        return status == 404 ? 0 : -1;
    if (r.get_len != len) {
        nbdkit_error("GET %s (%s): %zu bytes instead of %" PRIu32, url, range,
                     r.get_len, len);
        errno = EIO;
        return -1;
    }
    return 1;
}

static char *
swift_block_url(uint64_t blk)
{
    char name[32];

    snprintf(name, sizeof name, "block-%016" PRIx64, blk);
    return swift_url(name);
}

/* The store under objdisk: one object per block, each call synchronous. */
static int
swift_block_get(void *unused, uint64_t blk, char *buf, uint32_t len,
                uint32_t off)
{
    CLEANUP_FREE char *url = swift_block_url(blk);

    return url ? swift_get_range(url, buf, len, off) : -1;
}

static int
swift_block_put(void *unused, uint64_t blk, const char *buf, uint32_t len)
{
    CLEANUP_FREE char *url = swift_block_url(blk);
    struct swift_req r = {
        .method = "PUT", .url = url, .put = buf, .put_len = len};
    long status;

    if (url == NULL || (status = swift_call(&r)) == -1)
        return -1;
    if (status == 404) {
        nbdkit_error("PUT %s: the container %s is gone", url, container);
        errno = EIO;
        return -1;
    }
    return 0;
}

static int
swift_block_del(void *unused, uint64_t blk)
{
    CLEANUP_FREE char *url = swift_block_url(blk);
    struct swift_req r = {.method = "DELETE", .url = url};

    return url == NULL || swift_call(&r) == -1 ? -1 : 0;
}

static void
swift_block_error(void *unused, const char *what)
{
    nbdkit_error("%s: %m", what);
}

static const struct objdisk_ops swift_objdisk_ops = {
    swift_block_get, swift_block_put, swift_block_del, swift_block_error};

static int
swift_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    CLEANUP_FREE char *url = NULL;

    if (object) {
        url = swift_url(object);
        if (url == NULL)
            return -1;
        switch (swift_get_range(url, buf, count, offset)) {
        case 0:
            nbdkit_error("object %s/%s is gone", container, object);
            errno = EIO;
            return -1;
        case -1:
            return -1;
        }
        return 0;
    }
    return objdisk_pread(disk, buf, count, offset);
}

static int
swift_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    return objdisk_pwrite(disk, buf, count, offset);
}

static int
swift_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return objdisk_pwrite(disk, NULL, count, offset);
}

static int
swift_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return objdisk_trim(disk, count, offset);
}

static int
swift_flush(void *handle, uint32_t flags)
{
    return 0; /* every PUT and DELETE has finished before its reply */
}

static int
swift_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
              struct nbdkit_extents *extents)
{
    return objdisk_extents(disk, count, offset, extents);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "swift",
    .longname = "nbdx swift plugin (OpenStack Swift v1 through libcurl)",
    .version = PACKAGE_VERSION,
    .load = swift_load,
    .unload = swift_unload,
    .config = swift_config,
    .config_complete = swift_config_complete,
    .config_help = swift_config_help,
    .after_fork = swift_after_fork,
    .open = swift_open,
    .get_size = swift_get_size,
    .can_write = swift_can_write,
    .can_fua = swift_can_fua,
    .can_multi_conn = swift_can_multi_conn,
    .can_extents = swift_can_extents,
    .pread = swift_pread,
    .pwrite = swift_pwrite,
    .zero = swift_zero,
    .trim = swift_trim,
    .flush = swift_flush,
    .extents = swift_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)
