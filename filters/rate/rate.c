/* SPDX-License-Identifier: BSD-3-Clause */
/* rate.c: limit the bandwidth of reads and writes with token buckets.
 *
 * There are two scopes, the whole server and each connection, and in
 * each scope a read bucket and a write bucket.  A bucket fills at its
 * rate in bits per second up to rate * burstiness bits and starts full;
 * a request takes 8 bits per byte of data, going into debt if it must,
 * and waits until the debt is paid.  Zero, trim, cache, flush and
 * extents carry no data on the wire and are free.  The connection
 * bucket is charged (and waited for) before the server bucket.
 *
 * rate-file= and connection-rate-file= name files holding a rate for
 * both directions of their scope; the file is read at startup and again
 * by the first request after a second has passed, and a missing or bad
 * file keeps the rate last known.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nbdkit-filter.h>

enum rate_dir { DIR_READ, DIR_WRITE, NR_DIRS };
enum rate_scope { SCOPE_SERVER, SCOPE_CONN, NR_SCOPES };

/* A token bucket; its rate is passed in each time because a rate file
 * can change it.
 */
struct bucket {
    bool primed;          /* false until first used with a rate */
    double tokens;        /* bits available, negative for a debt */
    struct timespec last; /* when tokens was last brought up to date */
};

/* Written by config and config_complete only, then read-only. */
static double burstiness = 2.0;           /* burstiness=, seconds */
static const char *rate_files[NR_SCOPES]; /* rate-file= and connection- */
static const char *const scope_name[NR_SCOPES] = {"rate", "connection-rate"};

/* The rates in bits per second (0 = unlimited), when each rate file was
 * last looked at, and the server's buckets: all under rate_lock.
 */
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rates[NR_SCOPES][NR_DIRS];
static struct timespec file_checked[NR_SCOPES];
static struct bucket server_buckets[NR_DIRS];

/* Per connection: its buckets, under lock (requests run in parallel). */
struct rate_handle {
    pthread_mutex_t lock;
    struct bucket buckets[NR_DIRS];
};

/* Parse a rate for KEY: a size (K, M, ... allowed), never 0. */
static int
rate_parse(const char *key, const char *value, uint64_t *rate)
{
    int64_t r = nbdkit_parse_size(value);

    if (r == -1)
        return -1;
    if (r == 0) {
        nbdkit_error("%s cannot be set to 0", key);
        return -1;
    }
    *rate = r;
    return 0;
}

/* KEY=VALUE setting the rate of SCOPE in direction DIR, or both when
 * DIR is NR_DIRS.
 */
static int
rate_set(const char *key, const char *value, int scope, int dir)
{
    uint64_t r;
    int d;

    if (rate_parse(key, value, &r) == -1)
        return -1;
    for (d = 0; d < NR_DIRS; d++)
        if (dir == NR_DIRS || dir == d)
            rates[scope][d] = r;
    return 0;
}

static int
rate_parse_burstiness(const char *value)
{
    char *end;
    double b;

    errno = 0;
    b = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !isfinite(b) || b <= 0) {
        nbdkit_error("burstiness: could not parse '%s' as a positive number "
                     "of seconds",
                     value);
        return -1;
    }
    burstiness = b;
    return 0;
}

static int
rate_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
            const char *value)
{
    if (strcmp(key, "rate") == 0)
        return rate_set(key, value, SCOPE_SERVER, NR_DIRS);
    if (strcmp(key, "connection-rate") == 0)
        return rate_set(key, value, SCOPE_CONN, NR_DIRS);
    if (strcmp(key, "read-rate") == 0)
        return rate_set(key, value, SCOPE_SERVER, DIR_READ);
    if (strcmp(key, "write-rate") == 0)
        return rate_set(key, value, SCOPE_SERVER, DIR_WRITE);
    if (strcmp(key, "connection-read-rate") == 0)
        return rate_set(key, value, SCOPE_CONN, DIR_READ);
    if (strcmp(key, "connection-write-rate") == 0)
        return rate_set(key, value, SCOPE_CONN, DIR_WRITE);
    if (strcmp(key, "rate-file") == 0 ||
        strcmp(key, "connection-rate-file") == 0) {
        rate_files[key[0] == 'r' ? SCOPE_SERVER : SCOPE_CONN] = value;
        return 0;
    }
    if (strcmp(key, "burstiness") == 0)
        return rate_parse_burstiness(value);
    return next(nxdata, key, value);
}

#define rate_config_help                                                       \
    "rate=BITSPERSEC                Limit total bandwidth.\n"                  \
    "connection-rate=BITSPERSEC     Limit per-connection bandwidth.\n"         \
    "read-rate=BITSPERSEC           Limit total read bandwidth.\n"             \
    "write-rate=BITSPERSEC          Limit total write bandwidth.\n"            \
    "connection-read-rate=BITSPERSEC  Limit per-connection reads.\n"           \
    "connection-write-rate=BITSPERSEC Limit per-connection writes.\n"          \
    "rate-file=FILENAME             Dynamically adjust total bandwidth.\n"     \
    "connection-rate-file=FILENAME  Dynamically adjust per-connection "        \
    "bandwidth.\n"                                                             \
    "burstiness=SECS                Bucket capacity in seconds (default 2)."

/* Read the rate file of SCOPE into rates[SCOPE]; called with rate_lock
 * held, or before any connection.  A missing, unreadable or bad file
 * leaves the rates alone (and says why in a debug message).
 */
static void
rate_file_read(int scope)
{
    char buf[64];
    size_t n;
    FILE *fp;
    int64_t r;

    fp = fopen(rate_files[scope], "r");
    if (fp == NULL) {
        nbdkit_debug("rate: %s: %m", rate_files[scope]);
        return;
    }
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    buf[strcspn(buf, " \t\r\n")] = '\0';
    r = nbdkit_parse_size(buf);
    if (r <= 0) {
        nbdkit_debug("rate: %s: ignoring \"%s\"", rate_files[scope], buf);
        return;
    }
    if (rates[scope][DIR_READ] != (uint64_t)r)
        nbdkit_debug("rate: %s is now %" PRIi64 " bits/s", scope_name[scope],
                     r);
    rates[scope][DIR_READ] = rates[scope][DIR_WRITE] = r;
}

static double
rate_seconds(const struct timespec *from, const struct timespec *to)
{
    return (double)(to->tv_sec - from->tv_sec) +
           (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

/* Re-read the rate files last read a second or more before NOW; with
 * rate_lock held.
 */
static void
rate_files_refresh(const struct timespec *now)
{
    int s;

    for (s = 0; s < NR_SCOPES; s++) {
        if (rate_files[s] == NULL || rate_seconds(&file_checked[s], now) < 1.0)
            continue;
        file_checked[s] = *now;
        rate_file_read(s);
    }
}

static int
rate_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
    struct timespec now;
    int s;

    clock_gettime(CLOCK_MONOTONIC, &now);
    for (s = 0; s < NR_SCOPES; s++) {
        if (rate_files[s] == NULL)
            continue;
        file_checked[s] = now;
        rate_file_read(s);
    }
    return next(nxdata);
}

/* Take BITS from B, which fills at RATE bits per second (0 = no limit),
 * at time NOW; return the seconds to wait before going on.  The caller
 * holds the lock of B.
 */
static double
bucket_take(struct bucket *b, uint64_t rate, double bits,
            const struct timespec *now)
{
    double capacity = (double)rate * burstiness;

    if (rate == 0) {
        b->primed = false;
        return 0;
    }
    if (!b->primed) {
        b->primed = true;
        b->tokens = capacity;
    } else {
        b->tokens += rate_seconds(&b->last, now) * (double)rate;
        if (b->tokens > capacity)
            b->tokens = capacity;
    }
    b->last = *now;
    b->tokens -= bits;
    return b->tokens < 0 ? -b->tokens / (double)rate : 0;
}

/* Sleep SECS seconds; -1 with *err set if the server is quitting. */
static int
rate_sleep(double secs, int *err)
{
    uint64_t ns;

    if (secs <= 0)
        return 0;
    ns = (uint64_t)(secs * 1e9);
    if (nbdkit_nanosleep(ns / 1000000000, ns % 1000000000) == -1) {
        *err = ESHUTDOWN;
        return -1;
    }
    return 0;
}

/* Charge COUNT bytes in direction DIR to the connection H and then to
 * the server, waiting as each bucket asks.
 */
static int
rate_charge(struct rate_handle *h, int dir, uint32_t count, int *err)
{
    double bits = (double)count * 8, wait;
    struct timespec now;
    uint64_t conn_rate;

    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&rate_lock);
    rate_files_refresh(&now);
    conn_rate = rates[SCOPE_CONN][dir];
    pthread_mutex_unlock(&rate_lock);

    pthread_mutex_lock(&h->lock);
    wait = bucket_take(&h->buckets[dir], conn_rate, bits, &now);
    pthread_mutex_unlock(&h->lock);
    if (rate_sleep(wait, err) == -1)
        return -1;

    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&rate_lock);
    wait =
        bucket_take(&server_buckets[dir], rates[SCOPE_SERVER][dir], bits, &now);
    pthread_mutex_unlock(&rate_lock);
    return rate_sleep(wait, err);
}

static void *
rate_open(nbdkit_next_open *next, nbdkit_context *nxdata, int readonly,
          const char *exportname, int is_tls)
{
    struct rate_handle *h;

    if (next(nxdata, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

static void
rate_close(void *handle)
{
    struct rate_handle *h = handle;

    pthread_mutex_destroy(&h->lock);
    free(h);
}

static int
rate_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    if (rate_charge(handle, DIR_READ, count, err) == -1)
        return -1;
    return next->pread(next, buf, count, offset, flags, err);
}

static int
rate_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    if (rate_charge(handle, DIR_WRITE, count, err) == -1)
        return -1;
    return next->pwrite(next, buf, count, offset, flags, err);
}

/* No zero-copy extension: the data path is meant to be slow here. */
static struct nbdkit_filter filter = {
    .name = "rate",
    .longname = "nbdx rate filter",
    .config = rate_config,
    .config_complete = rate_config_complete,
    .config_help = rate_config_help,
    .open = rate_open,
    .close = rate_close,
    .pread = rate_pread,
    .pwrite = rate_pwrite,
};

NBDKIT_REGISTER_FILTER(filter)
