/* SPDX-License-Identifier: BSD-3-Clause */
/* s3: an object in an S3 bucket through libcurl and its AWS SigV4
 * signing (see nbdx-s3-plugin(1)).
 *
 * Two modes.  Without size=, key=KEY serves that one existing object
 * read-only, each read one Range GET.  With size=SIZE, a writable disk
 * is stored as one object per block of object-size= bytes, named
 * KEY/block-%016x (the block number in hex): a block never written (or
 * all zeros) has no object, reads as zeros and is a hole.  Which blocks
 * exist is listed at start-up and then kept in memory (common/objdisk
 * keeps the bitmap and does the block arithmetic), so nobody else may
 * write under KEY/ while it is served.
 *
 * The URLs are path-style, ENDPOINT/BUCKET/KEY.  Every request is signed
 * by libcurl (CURLOPT_AWS_SIGV4); curl 7.88 does not send the
 * x-amz-content-sha256 header S3 wants, so we send it, UNSIGNED-PAYLOAD.
 *
 * Requests run in parallel (NBDKIT_THREAD_MODEL_PARALLEL) over a pool of
 * connections= keep-alive curl handles.  A write of part of a block is a
 * read-modify-write of the whole block under that block's lock (one of
 * OBJDISK_LOCKS striped mutexes, in objdisk); every PUT is synchronous,
 * so FLUSH and FUA have nothing left to wait for.
 *
 * The handles are common/curlpool's; the retries follow
 * plugins/swift/swift.c.
 *
 * Lock order: a block lock, then curlpool's lock or objdisk's bitmap lock
 * (those two are never held together).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
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

/* The configuration.  The strings belong to the server (the command
 * line's or the environment's), except secret_key, which is ours.
 */
static const char *bucket = NULL;        /* bucket=, required */
static const char *key = NULL;           /* key=, required */
static const char *endpoint = NULL;      /* endpoint-url= */
static const char *access_key = NULL;    /* access-key= */
static char *secret_key = NULL;          /* secret-key=, malloc'd */
static const char *session_token = NULL; /* session-token= */
static const char *region = "us-east-1"; /* region= */
static int64_t size = -1;                /* size=, chunked mode */
static int64_t block_size = 65536;       /* object-size= */
static unsigned connections = 4;         /* connections= */

#define CONNECT_TIMEOUT 10L /* seconds to connect, then fail */
#define STALL_TIME 60L      /* seconds without a byte, then fail */
#define RETRIES 4           /* more tries of a 5xx or network error */

/* Set at start-up, then read only. */
static bool chunked;       /* size= was given */
static char *base_url;     /* ENDPOINT/BUCKET, malloc'd */
static char *key_path;     /* KEY escaped, '/' kept, malloc'd */
static char *sigv4;        /* aws:amz:REGION:s3, malloc'd */
static char *token_header; /* x-amz-security-token: ..., or NULL */
static bool ready = false; /* started: network errors are retried */
static int64_t disk_size;
static struct objdisk *disk; /* chunked mode: the blocks */

/* The curl handles, made and used the first time before nbdx forks
 * into the background, then made again by after_fork.
 */
static struct curlpool *pool;

static int
s3_config_number(const char *name, const char *value)
{
    if (strcmp(name, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(name, "object-size") == 0) {
        block_size = nbdkit_parse_size(value);
        if (block_size == -1)
            return -1;
        if (block_size < 512 || block_size > 64 * 1024 * 1024) {
            nbdkit_error("object-size must be between 512 and 64M");
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
s3_config(const char *name, const char *value)
{
    if (strcmp(name, "bucket") == 0)
        bucket = value;
    else if (strcmp(name, "key") == 0)
        key = value;
    else if (strcmp(name, "endpoint-url") == 0)
        endpoint = value;
    else if (strcmp(name, "access-key") == 0)
        access_key = value;
    else if (strcmp(name, "secret-key") == 0) {
        free(secret_key);
        return nbdkit_read_password(value, &secret_key);
    } else if (strcmp(name, "session-token") == 0)
        session_token = value;
    else if (strcmp(name, "region") == 0)
        region = value;
    else
        return s3_config_number(name, value);
    return 0;
}

static int s3_start(void);

/* Credentials not given come from the environment, as AWS tools do. */
static int
s3_credentials(void)
{
    const char *e;

    if (access_key == NULL)
        access_key = getenv("AWS_ACCESS_KEY_ID");
    if (secret_key == NULL && (e = getenv("AWS_SECRET_ACCESS_KEY")) &&
        (secret_key = strdup(e)) == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    if (session_token == NULL)
        session_token = getenv("AWS_SESSION_TOKEN");
    if (access_key == NULL || secret_key == NULL) {
        nbdkit_error("access-key= and secret-key= are required (or "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
        return -1;
    }
    return 0;
}

/* The parameters are checked, then the server is reached at once (in
 * s3_start), so that an error stops nbdx with one line.
 */
static int
s3_config_complete(void)
{
    if (bucket == NULL || key == NULL || key[0] == '\0') {
        nbdkit_error("bucket= and key= are required");
        return -1;
    }
    if (s3_credentials() == -1)
        return -1;
    chunked = size != -1;
    return s3_start();
}

#define s3_config_help                                                         \
    "bucket=NAME           (required) The bucket.\n"                           \
    "key=KEY               (required) The object, or with size= the prefix.\n" \
    "endpoint-url=URL      The S3 endpoint (default AWS's of region=).\n"      \
    "access-key=ID         The access key ID.\n"                               \
    "secret-key=SECRET     The secret key (or -, -FD, +FILE).\n"               \
    "session-token=TOKEN   A session token, for temporary credentials.\n"      \
    "region=REGION         The region signed for (default us-east-1).\n"       \
    "size=SIZE             A writable disk of SIZE, one object a block.\n"     \
    "object-size=SIZE      The size of a block's object (default 64K).\n"      \
    "connections=N         Parallel HTTP connections (default 4)."

static void
s3_load(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
s3_unload(void)
{
    curlpool_free(pool);
    objdisk_free(disk);
    free(secret_key);
    free(base_url);
    free(key_path);
    free(sigv4);
    free(token_header);
    curl_global_cleanup();
}

/* ---- HTTP requests ---- */

/* One request and its answer.  The body of a GET goes to get[0 ..
 * get_cap-1] (a longer body is an error), or to a growing malloc'd
 * buffer when grow is set.
 */
struct s3_req {
    const char *method; /* GET, HEAD, PUT or DELETE */
    const char *url;
    const char *range; /* a Range header's value, or NULL */
    const char *put;   /* PUT: the body, put_len bytes */
    size_t put_len, put_pos;
    char *get; /* GET: the body so far, get_len bytes */
    size_t get_len, get_cap;
    bool grow;
    CURL *curl;     /* the handle running it */
    long status;    /* the HTTP status */
    int64_t length; /* HEAD: the Content-Length, or -1 */
    char err[512];  /* the start of an error page, err_len bytes */
    size_t err_len;
};

static size_t
s3_write_cb(char *data, size_t n, size_t nmemb, void *opaque)
{
    struct s3_req *r = opaque;
    size_t len = n * nmemb;

    long code = 0;

    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code / 100 != 2) { /* an error page: its start, for the message */
        size_t keep = sizeof r->err - 1 - r->err_len;

        keep = len < keep ? len : keep;
        memcpy(r->err + r->err_len, data, keep);
        r->err_len += keep;
        r->err[r->err_len] = '\0';
        return len;
    }
    if (r->get == NULL && !r->grow)
        return len; /* a body nobody asked for */
    if (r->get_len + len > r->get_cap) {
        size_t cap = (r->get_len + len) * 2;
        char *p;

        if (!r->grow)
            return 0; /* longer than asked for: CURLE_WRITE_ERROR */
        p = realloc(r->get, cap + 1);
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
s3_read_cb(char *data, size_t n, size_t nmemb, void *opaque)
{
    struct s3_req *r = opaque;
    size_t len = n * nmemb;

    if (len > r->put_len - r->put_pos)
        len = r->put_len - r->put_pos;
    memcpy(data, r->put + r->put_pos, len);
    r->put_pos += len;
    return len;
}

/* The options common to every request: timeouts, no signals, and the
 * answer's body through s3_write_cb.
 */
static void
s3_setopt_common(CURL *c, const char *url, void *opaque)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_TIME);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, opaque);
}

static void
s3_setopt_method(CURL *c, struct s3_req *r)
{
    if (strcmp(r->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, s3_read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->put_len);
    } else if (strcmp(r->method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
}

/* Add "NAME: VALUE" to the list h; false when out of memory (h is then
 * still to be freed by the caller).
 */
static bool
s3_add_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *h2 = curl_slist_append(*h, line);

    if (h2 == NULL)
        return false;
    *h = h2;
    return true;
}

/* Run r once on c, signed; the HTTP status goes to r->status. */
static CURLcode
s3_perform(CURL *c, struct s3_req *r)
{
    struct curl_slist *h = NULL;
    char line[4096];
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    curl_off_t length = -1;

    curl_easy_reset(c); /* keeps the live connection */
    r->get_len = r->put_pos = r->err_len = 0;
    r->err[0] = '\0';
    r->status = 0;
    r->curl = c;
    /* curl 7.88 signs this header but does not make it.  Every header
     * given here is signed, so a PUT keeps curl's own "Expect:
     * 100-continue" (an empty "Expect:" would be signed, not sent).
     */
    if (!s3_add_header(&h, "x-amz-content-sha256: UNSIGNED-PAYLOAD") ||
        (token_header && !s3_add_header(&h, token_header)))
        goto out;
    if (r->range) {
        snprintf(line, sizeof line, "Range: %s", r->range);
        if (!s3_add_header(&h, line))
            goto out;
    }
    s3_setopt_common(c, r->url, r);
    s3_setopt_method(c, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, access_key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, secret_key);
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
s3_pool_new(void)
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
s3_after_fork(void)
{
    if (curlpool_renew(pool) == -1) {
        nbdkit_error("curl handles: %m");
        return -1;
    }
    return 0;
}

/* ---- a request with retries ---- */

/* Run r once on a handle of the pool. */
static CURLcode
s3_try(struct s3_req *r)
{
    CURL *c = curlpool_get(pool);
    CURLcode rc = s3_perform(c, r);

    curlpool_put(pool, c);
    return rc;
}

/* The <Code> of r's error page, in buf (empty if it has none). */
static void
s3_error_code(const struct s3_req *r, char *buf, size_t buflen)
{
    const char *p = strstr(r->err, "<Code>"), *end;

    buf[0] = '\0';
    if (p == NULL)
        return;
    p += 6;
    end = strstr(p, "</Code>");
    if (end != NULL && (size_t)(end - p) < buflen)
        snprintf(buf, buflen, "%.*s", (int)(end - p), p);
}

/* A hint for status, the server's error code being code. */
static const char *
s3_why(long status, const char *code)
{
    if (status == 403)
        return " (access denied: a wrong access key or secret key, "
               "or no permission)";
    if (status == 400 &&
        (code[0] == '\0' || strcmp(code, "AuthorizationHeaderMalformed") == 0))
        return " (a bad request: the wrong region=?)";
    return "";
}

/* Say why r failed with an HTTP error: the status, a hint, and the
 * server's own error code (S3's <Code>, as InvalidBucketName).
 */
static void
s3_report(const struct s3_req *r)
{
    char code[64];

    s3_error_code(r, code, sizeof code);
    nbdkit_error("%s %s: HTTP %ld%s%s%s", r->method, r->url, r->status,
                 s3_why(r->status, code), code[0] ? ": " : "", code);
}

/* Run r: a 5xx answer or a network error is tried again after a pause,
 * RETRIES times (network errors only once the server is up: at
 * start-up they fail at once).  Returns the status of a 2xx or 404
 * answer; otherwise says why and returns -1 with errno EPERM (401, 403)
 * or EIO.
 */
static long
s3_call(struct s3_req *r)
{
    CURLcode rc;
    int try;

    for (try = 0;; try++) {
        rc = s3_try(r);
        if (rc == CURLE_OK && (r->status / 100 == 2 || r->status == 404))
            return r->status;
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
            s3_report(r);
        break;
    }
    errno =
        rc == CURLE_OK && (r->status == 401 || r->status == 403) ? EPERM : EIO;
    return -1;
}

/* ---- start-up ---- */

/* base_url/KEY_PATH followed by suffix; malloc'd, or NULL after an
 * error.
 */
static char *
s3_url(const char *suffix)
{
    char *url;

    if (asprintf(&url, "%s/%s%s", base_url, key_path, suffix) == -1) {
        nbdkit_error("asprintf: %m");
        return NULL;
    }
    return url;
}

/* s escaped for a URL, each '/' kept; malloc'd, or NULL. */
static char *
s3_escape_path(const char *s)
{
    char *out = malloc(strlen(s) * 3 + 1), *p = out;
    static const char safe[] = "-._~/";

    if (out == NULL)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = *s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr(safe, ch))
            *p++ = ch;
        else
            p += sprintf(p, "%%%02X", ch);
    }
    *p = '\0';
    return out;
}

/* Read-only: the object's size, from a HEAD. */
static int
s3_open_object(void)
{
    CLEANUP_FREE char *url = s3_url("");
    struct s3_req r = {.method = "HEAD", .url = url};
    long status;

    if (url == NULL || (status = s3_call(&r)) == -1)
        return -1;
    if (status == 404) {
        nbdkit_error("object %s/%s does not exist", bucket, key);
        return -1;
    }
    if (r.length < 0) {
        nbdkit_error("HEAD %s: no Content-Length", url);
        return -1;
    }
    disk_size = r.length;
    return 0;
}

/* The text of the first <tag>...</tag> in xml from *pos on, copied to
 * out (at most cap bytes with the NUL); *pos moves past it.  False when
 * there is none.
 */
static bool
s3_xml_next(const char *xml, const char **pos, const char *tag, char *out,
            size_t cap)
{
    char open[32], close[32];
    const char *a, *b;

    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    a = strstr(*pos ? *pos : xml, open);
    if (a == NULL)
        return false;
    a += strlen(open);
    b = strstr(a, close);
    if (b == NULL)
        return false;
    snprintf(out, cap, "%.*s", (int)(b - a), a);
    *pos = b + strlen(close);
    return true;
}

/* Undo XML's five predefined entities in s, in place. */
static void
s3_xml_unescape(char *s)
{
    static const char *const ents[][2] = {{"&amp;", "&"},
                                          {"&lt;", "<"},
                                          {"&gt;", ">"},
                                          {"&quot;", "\""},
                                          {"&apos;", "'"}};
    char *out = s;
    size_t i, n;

    while (*s) {
        for (i = 0; i < 5; i++) {
            n = strlen(ents[i][0]);
            if (strncmp(s, ents[i][0], n) == 0)
                break;
        }
        if (i < 5) {
            *out++ = ents[i][1][0];
            s += n;
        } else
            *out++ = *s++;
    }
    *out = '\0';
}

/* Mark the blocks named in one page of a ListObjects answer; the last
 * key goes to marker (cap bytes); returns whether more pages follow.
 */
static bool
s3_parse_listing(const char *xml, char *marker, size_t cap)
{
    const char *pos = NULL, *name;
    char k[1024], trunc[16];
    size_t plen = strlen(key);
    uint64_t blk;
    int end;

    while (s3_xml_next(xml, &pos, "Key", k, sizeof k)) {
        s3_xml_unescape(k);
        snprintf(marker, cap, "%s", k);
        if (strncmp(k, key, plen) != 0 || k[plen] != '/')
            continue;
        name = k + plen + 1;
        end = 0;
        if (strlen(name) == 22 &&
            sscanf(name, "block-%16" SCNx64 "%n", &blk, &end) == 1 && end == 22)
            objdisk_mark(disk, blk);
    }
    pos = NULL;
    return s3_xml_next(xml, &pos, "IsTruncated", trunc, sizeof trunc) &&
           strcmp(trunc, "true") == 0;
}

/* The URL of the listing's page after marker ("" for the first):
 * malloc'd, or NULL after an error.  curl 7.88 signs the query as it is
 * written, so its parameters are in sorted order, and an empty one is
 * left out.
 */
static char *
s3_list_url(const char *marker)
{
    char *pfx = NULL, *p = NULL, *m = NULL, *url = NULL;

    if (asprintf(&pfx, "%s/block-", key) == -1) {
        pfx = NULL;
        goto out;
    }
    p = curl_easy_escape(NULL, pfx, 0);
    m = curl_easy_escape(NULL, marker, 0);
    if (p == NULL || m == NULL)
        goto out;
    if ((marker[0] ? asprintf(&url, "%s?marker=%s&prefix=%s", base_url, m, p)
                   : asprintf(&url, "%s?prefix=%s", base_url, p)) == -1)
        url = NULL;
out:
    if (url == NULL)
        nbdkit_error("cannot make the listing's URL");
    free(pfx);
    curl_free(p);
    curl_free(m);
    return url;
}

/* Which blocks exist: GET BUCKET?prefix=KEY/block-, a page at a time. */
static int
s3_list_blocks(void)
{
    char marker[1024] = "", *url = NULL;
    struct s3_req r = {.method = "GET", .grow = true};
    long status;
    bool more = true;
    int ret = -1;

    while (more) {
        free(url);
        url = s3_list_url(marker);
        if (url == NULL)
            goto out;
        r.url = url;
        status = s3_call(&r);
        if (status == -1)
            goto out;
        if (status == 404) {
            nbdkit_error("bucket %s does not exist", bucket);
            goto out;
        }
        if (r.get == NULL)
            break;
        r.get[r.get_len] = '\0';
        more = s3_parse_listing(r.get, marker, sizeof marker) && marker[0];
    }
    ret = 0;
out:
    free(url);
    free(r.get);
    return ret;
}

/* size=: list the blocks that exist. */
static const struct objdisk_ops s3_objdisk_ops; /* below */

static int
s3_open_chunked(void)
{
    disk_size = size;
    disk = objdisk_new(size, block_size, &s3_objdisk_ops, NULL);
    if (disk == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    return s3_list_blocks();
}

/* The URLs and signing parameters. */
static int
s3_setup(void)
{
    CLEANUP_FREE char *aws = NULL;
    const char *ep = endpoint;
    char *b;
    size_t n;

    if (ep == NULL) {
        if (asprintf(&aws, "https://s3.%s.amazonaws.com", region) == -1) {
            aws = NULL;
            goto oom;
        }
        ep = aws;
    }
    n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/')
        n--;
    b = curl_easy_escape(NULL, bucket, 0);
    if (b == NULL || asprintf(&base_url, "%.*s/%s", (int)n, ep, b) == -1) {
        curl_free(b);
        base_url = NULL;
        goto oom;
    }
    curl_free(b);
    if ((key_path = s3_escape_path(key)) == NULL)
        goto oom;
    if (asprintf(&sigv4, "aws:amz:%s:s3", region) == -1) {
        sigv4 = NULL;
        goto oom;
    }
    if (session_token && asprintf(&token_header, "x-amz-security-token: %s",
                                  session_token) == -1) {
        token_header = NULL;
        goto oom;
    }
    return 0;
oom:
    nbdkit_error("cannot make the URLs: %m");
    return -1;
}

/* Find the object or the blocks: called by config_complete. */
static int
s3_start(void)
{
    if (s3_pool_new() == -1 || s3_setup() == -1)
        return -1;
    if ((chunked ? s3_open_chunked() : s3_open_object()) == -1)
        return -1;
    ready = true;
    return 0;
}

/* ---- per connection ---- */

static void *
s3_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
s3_get_size(void *handle)
{
    return disk_size;
}

static int
s3_can_write(void *handle)
{
    return chunked;
}

static int
s3_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE; /* every PUT is synchronous */
}

static int
s3_can_multi_conn(void *handle)
{
    return 1; /* one server, one bitmap: all connections see the same */
}

static int
s3_can_extents(void *handle)
{
    return chunked;
}

/* ---- the data path ---- */

/* A GET of bytes [off, off+len) of the object at url into buf: 1, or 0
 * for a 404, or -1 after an error.
 */
static int
s3_get_range(const char *url, char *buf, uint32_t len, uint64_t off)
{
    char range[64];
    struct s3_req r = {.method = "GET", .url = url, .range = range};
    long status;

    if (len == 0)
        return 1;
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, off,
             off + len - 1);
    r.get = buf;
    r.get_cap = len;
    status = s3_call(&r);
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
s3_block_url(uint64_t blk)
{
    char name[32];

    snprintf(name, sizeof name, "/block-%016" PRIx64, blk);
    return s3_url(name);
}

/* The store under objdisk: one object per block, each call synchronous. */
static int
s3_block_get(void *unused, uint64_t blk, char *buf, uint32_t len, uint32_t off)
{
    CLEANUP_FREE char *url = s3_block_url(blk);

    return url ? s3_get_range(url, buf, len, off) : -1;
}

static int
s3_block_put(void *unused, uint64_t blk, const char *buf, uint32_t len)
{
    CLEANUP_FREE char *url = s3_block_url(blk);
    struct s3_req r = {.method = "PUT", .url = url, .put = buf, .put_len = len};
    long status;

    if (url == NULL || (status = s3_call(&r)) == -1)
        return -1;
    if (status == 404) {
        nbdkit_error("PUT %s: the bucket %s is gone", url, bucket);
        errno = EIO;
        return -1;
    }
    return 0;
}

static int
s3_block_del(void *unused, uint64_t blk)
{
    CLEANUP_FREE char *url = s3_block_url(blk);
    struct s3_req r = {.method = "DELETE", .url = url};

    return url == NULL || s3_call(&r) == -1 ? -1 : 0;
}

static void
s3_block_error(void *unused, const char *what)
{
    nbdkit_error("%s: %m", what);
}

static const struct objdisk_ops s3_objdisk_ops = {s3_block_get, s3_block_put,
                                                  s3_block_del, s3_block_error};

static int
s3_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
         uint32_t flags)
{
    CLEANUP_FREE char *url = NULL;

    if (!chunked) {
        url = s3_url("");
        if (url == NULL)
            return -1;
        switch (s3_get_range(url, buf, count, offset)) {
        case 0:
            nbdkit_error("object %s/%s is gone", bucket, key);
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
s3_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
          uint32_t flags)
{
    return objdisk_pwrite(disk, buf, count, offset);
}

static int
s3_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return objdisk_pwrite(disk, NULL, count, offset);
}

static int
s3_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return objdisk_trim(disk, count, offset);
}

static int
s3_flush(void *handle, uint32_t flags)
{
    return 0; /* every PUT and DELETE has finished before its reply */
}

static int
s3_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
           struct nbdkit_extents *extents)
{
    return objdisk_extents(disk, count, offset, extents);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "s3",
    .longname = "nbdx s3 plugin (S3 through libcurl and AWS SigV4)",
    .version = PACKAGE_VERSION,
    .load = s3_load,
    .unload = s3_unload,
    .config = s3_config,
    .config_complete = s3_config_complete,
    .config_help = s3_config_help,
    .after_fork = s3_after_fork,
    .open = s3_open,
    .get_size = s3_get_size,
    .can_write = s3_can_write,
    .can_fua = s3_can_fua,
    .can_multi_conn = s3_can_multi_conn,
    .can_extents = s3_can_extents,
    .pread = s3_pread,
    .pwrite = s3_pwrite,
    .zero = s3_zero,
    .trim = s3_trim,
    .flush = s3_flush,
    .extents = s3_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)
