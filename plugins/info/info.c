/* SPDX-License-Identifier: BSD-3-Clause */
/* info: a read-only disk made of information about the client or the
 * server: the export name (raw or base64), the client's address, or a
 * clock (see nbdx-info-plugin(1)).
 */

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include <gnutls/gnutls.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

enum info_mode {
    MODE_EXPORTNAME,
    MODE_BASE64EXPORTNAME,
    MODE_ADDRESS,
    MODE_TIME,
    MODE_UPTIME,
    MODE_CONNTIME,
};

static const char *const mode_names[] = {
    "exportname", "base64exportname", "address", "time", "uptime", "conntime",
};

/* The clocks are 8 bytes of seconds and 4 of microseconds, big-endian. */
#define CLOCK_DISK_SIZE 12

static enum info_mode mode = MODE_EXPORTNAME; /* mode=, fixed after config */
static struct timespec load_time;             /* CLOCK_MONOTONIC at load */

static void
info_load(void)
{
    clock_gettime(CLOCK_MONOTONIC, &load_time);
}

static int
info_config(const char *key, const char *value)
{
    size_t i;

    if (strcmp(key, "mode") != 0) {
        nbdkit_error("unknown parameter '%s'", key);
        return -1;
    }
    for (i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
        if (strcasecmp(value, mode_names[i]) == 0) {
            mode = i;
            return 0;
        }
    }
    nbdkit_error("unknown mode: '%s'", value);
    return -1;
}

#define info_config_help                                                       \
    "mode=exportname|base64exportname|address|time|uptime|conntime\n"          \
    "                                      Plugin mode (default exportname)."

static void
info_dump_plugin(void)
{
    printf("info_address=yes\n");
    printf("info_base64=yes\n");
}

/* One connection: the bytes of the disk for the modes fixed at open
 * (data, len; owned), and when the connection opened.  Read-only after
 * open, so requests share it without a lock.
 */
struct info_handle {
    char *data;
    size_t len;
    struct timespec opened; /* CLOCK_MONOTONIC */
};

/* The export name, decoded from base64; 0 or -1. */
static int
info_decode(struct info_handle *h, const char *name)
{
    gnutls_datum_t in = {(unsigned char *)name, strlen(name)};
    gnutls_datum_t out;
    int r;

    r = gnutls_base64_decode2(&in, &out);
    if (r < 0) {
        nbdkit_error("base64: %s", gnutls_strerror(r));
        return -1;
    }
    h->data = malloc(out.size ? out.size : 1);
    if (h->data == NULL) {
        nbdkit_error("malloc: %m");
        gnutls_free(out.data);
        return -1;
    }
    memcpy(h->data, out.data, out.size);
    h->len = out.size;
    gnutls_free(out.data);
    return 0;
}

/* The client's address as "unix", "A.B.C.D:PORT" or "[ADDR]:PORT". */
static int
info_address(struct info_handle *h)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

    if (nbdkit_peer_name((struct sockaddr *)&ss, &sslen) == -1)
        return -1;
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
        snprintf(text, sizeof text, "%s:%d", addr, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr);
        snprintf(text, sizeof text, "[%s]:%d", addr, ntohs(sin6->sin6_port));
    } else if (ss.ss_family == AF_UNIX)
        snprintf(text, sizeof text, "unix");
    else {
        nbdkit_error("unknown address family: %d", ss.ss_family);
        return -1;
    }
    h->data = strdup(text);
    if (h->data == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    h->len = strlen(text);
    return 0;
}

/* The bytes of the modes fixed for the connection; 0 or -1. */
static int
info_fill(struct info_handle *h)
{
    const char *name;

    switch (mode) {
    case MODE_EXPORTNAME:
        name = nbdkit_export_name();
        h->data = strdup(name ? name : "");
        if (h->data == NULL) {
            nbdkit_error("strdup: %m");
            return -1;
        }
        h->len = strlen(h->data);
        return 0;
    case MODE_BASE64EXPORTNAME:
        name = nbdkit_export_name();
        return info_decode(h, name ? name : "");
    case MODE_ADDRESS:
        return info_address(h);
    default:
        return 0;
    }
}

static void *
info_open(int readonly)
{
    struct info_handle *h = calloc(1, sizeof *h);

    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &h->opened);
    if (info_fill(h) == -1) {
        free(h->data);
        free(h);
        return NULL;
    }
    return h;
}

static void
info_close(void *handle)
{
    struct info_handle *h = handle;

    free(h->data);
    free(h);
}

static int64_t
info_get_size(void *handle)
{
    struct info_handle *h = handle;

    if (mode >= MODE_TIME)
        return CLOCK_DISK_SIZE;
    return h->len;
}

/* The export name modes serve the same bytes to every connection that
 * asks for the same name; the address and the clocks differ.
 */
static int
info_can_multi_conn(void *handle)
{
    return mode == MODE_EXPORTNAME || mode == MODE_BASE64EXPORTNAME;
}

/* Everything is in memory already. */
static int
info_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* now - since as seconds and microseconds, both CLOCK_MONOTONIC. */
static void
info_elapsed(const struct timespec *since, uint64_t *sec, uint32_t *usec)
{
    struct timespec now;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = (int64_t)(now.tv_sec - since->tv_sec) * 1000000000 +
         (now.tv_nsec - since->tv_nsec);
    *sec = ns / 1000000000;
    *usec = (ns % 1000000000) / 1000;
}

/* The 12 bytes of a clock mode, read now. */
static void
info_clock(const struct info_handle *h, unsigned char out[CLOCK_DISK_SIZE])
{
    struct timeval tv;
    uint64_t sec;
    uint32_t usec;
    int i;

    if (mode == MODE_TIME) {
        gettimeofday(&tv, NULL);
        sec = tv.tv_sec;
        usec = tv.tv_usec;
    } else
        info_elapsed(mode == MODE_UPTIME ? &load_time : &h->opened, &sec,
                     &usec);
    for (i = 0; i < 8; i++)
        out[i] = sec >> (56 - 8 * i);
    for (i = 0; i < 4; i++)
        out[8 + i] = usec >> (24 - 8 * i);
}

/* The server has checked offset + count against the size. */
static int
info_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    struct info_handle *h = handle;
    unsigned char clock[CLOCK_DISK_SIZE];

    if (mode >= MODE_TIME) {
        info_clock(h, clock);
        memcpy(buf, clock + offset, count);
    } else
        memcpy(buf, h->data + offset, count);
    return 0;
}

/* Nothing to fetch: the bytes are in memory or made on each read. */
static int
info_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "info",
    .longname = "nbdx info plugin",
    .version = PACKAGE_VERSION,
    .load = info_load,
    .config = info_config,
    .config_help = info_config_help,
    .magic_config_key = "mode",
    .dump_plugin = info_dump_plugin,
    .open = info_open,
    .close = info_close,
    .get_size = info_get_size,
    .can_multi_conn = info_can_multi_conn,
    .can_cache = info_can_cache,
    .pread = info_pread,
    .cache = info_cache,
};

NBDKIT_REGISTER_PLUGIN(plugin)
