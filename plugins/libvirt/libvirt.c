/* SPDX-License-Identifier: BSD-3-Clause */
/* libvirt: a read-only export of one disk of a libvirt domain, read
 * through virDomainBlockPeek (see nbdx-libvirt-plugin(1)).
 */

#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* 64 KiB is the most that libvirt promises one virDomainBlockPeek will
 * carry: older daemons refuse more (libvirt 9 takes larger ones), so
 * every read is cut into pieces of at most this size.
 */
#define PEEK_MAX 65536

/* Each piece is a round trip to the daemon, which works on several
 * calls of one client at once (max_client_requests, 5 by default), so
 * one read keeps up to this many pieces in flight: the calling thread
 * and PEEK_THREADS - 1 helpers.
 */
#define PEEK_THREADS 4

/* The parameters, interned by nbdkit_strdup_intern so they live until
 * the plugin is unloaded.
 */
static const char *uri;         /* connect=URI; NULL: libvirt's default */
static const char *domain_name; /* domain=NAME, required */
static const char *disk;        /* disk=TARGET or source path, required */

/* One connection to libvirt for the whole server, opened in
 * libvirt_get_ready and closed in libvirt_cleanup.  libvirt's API is
 * thread safe since 0.6: one virConnectPtr (and the virDomainPtrs
 * looked up through it) may be used by several threads at once, and the
 * remote driver multiplexes their calls over its one socket.  So every
 * NBD connection and every helper thread of libvirt_pread share it, and
 * it needs no lock of ours.  Only libvirt's "last error" is per thread,
 * which is why a helper copies its error for the calling thread to
 * report.  The remote driver starts no thread of its own (we register
 * no event loop), so the connection survives the daemonizing fork.
 */
static virConnectPtr conn;

/* libvirt prints every error on stderr unless a handler is set.  The
 * caller of each failing function reports the error once, through
 * nbdkit_error, so the handler drops it.
 */
static void
libvirt_error_ignore(void *opaque, virErrorPtr err)
{
}

/* The calling thread's last libvirt error, valid until its next
 * libvirt call.
 */
static const char *
libvirt_message(void)
{
    const virError *err = virGetLastError();

    return err && err->message ? err->message : "unknown libvirt error";
}

static void
libvirt_load(void)
{
    /* Once, before any other libvirt call, as a threaded program must. */
    if (virInitialize() == -1)
        return; /* virConnectOpenAuth fails later, with the reason */
    virSetErrorFunc(NULL, libvirt_error_ignore);
}

static int
libvirt_config(const char *key, const char *value)
{
    const char **slot;

    if (strcmp(key, "connect") == 0)
        slot = &uri;
    else if (strcmp(key, "domain") == 0)
        slot = &domain_name;
    else if (strcmp(key, "disk") == 0)
        slot = &disk;
    else {
        nbdkit_error("unknown parameter '%s'", key);
        return -1;
    }
    *slot = nbdkit_strdup_intern(value);
    return *slot == NULL ? -1 : 0;
}

static int
libvirt_config_complete(void)
{
    if (domain_name == NULL) {
        nbdkit_error("you must specify domain=<NAME> on the command line");
        return -1;
    }
    if (disk == NULL) {
        nbdkit_error("you must specify disk=<TARGET|PATH> on the command "
                     "line");
        return -1;
    }
    return 0;
}

#define libvirt_config_help                                                    \
    "connect=<URI>         libvirt connection URI (default: libvirt's "        \
    "default).\n"                                                              \
    "domain=<NAME>         (required) The domain.\n"                           \
    "disk=<TARGET|PATH>    (required) Its disk: a target (vda) or a source "   \
    "path."

/* virConnectAuthPtrDefault asks for credentials on the terminal if the
 * URI's driver wants some (SASL, polkit); a read-only connection would
 * not do, because libvirt refuses BlockPeek on one.
 */
static int
libvirt_get_ready(void)
{
    conn = virConnectOpenAuth(uri, virConnectAuthPtrDefault, 0);
    if (conn == NULL) {
        nbdkit_error("cannot connect to %s: %s",
                     uri ? uri : "libvirt's default URI", libvirt_message());
        return -1;
    }
    virConnSetErrorFunc(conn, NULL, libvirt_error_ignore);
    return 0;
}

static void
libvirt_cleanup(void)
{
    if (conn)
        virConnectClose(conn);
    conn = NULL;
}

/* The handle of one NBD connection; freed by libvirt_close. */
struct handle {
    virDomainPtr dom; /* our reference, released in libvirt_close */
    int64_t size;     /* the disk's capacity in bytes */
};

/* Say which driver failed when it cannot peek at all, so the user does
 * not look for a fault in the domain.  virConnectGetURI resets the last
 * error, so the error is copied first.
 */
static void
libvirt_report_peek(void)
{
    virError err = {0};
    char *name;

    if (virCopyLastError(&err) < 0 || err.code != VIR_ERR_NO_SUPPORT) {
        nbdkit_error("disk %s: %s", disk, libvirt_message());
        virResetError(&err);
        return;
    }
    name = virConnectGetURI(conn);
    nbdkit_error("disk %s: the driver of %s cannot read disks: %s", disk,
                 name ? name : "this connection",
                 err.message ? err.message : "unknown libvirt error");
    free(name);
    virResetError(&err);
}

/* Look the domain and its disk up, and peek at its first byte: a
 * missing domain or disk, a driver without BlockPeek or a disk it cannot
 * peek at (not raw) fails the client's handshake instead of each read.
 * The qemu driver refuses a peek of 0 bytes, so an empty disk is not
 * probed.
 */
static void *
libvirt_open(int readonly)
{
    struct handle *h;
    virDomainBlockInfo info;
    char byte;

    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->dom = virDomainLookupByName(conn, domain_name);
    if (h->dom == NULL) {
        nbdkit_error("domain %s: %s", domain_name, libvirt_message());
        goto err;
    }
    if (virDomainGetBlockInfo(h->dom, disk, &info, 0) == -1) {
        nbdkit_error("domain %s: disk %s: %s", domain_name, disk,
                     libvirt_message());
        goto err;
    }
    if (info.capacity > INT64_MAX) {
        nbdkit_error("disk %s: capacity %llu is too large", disk,
                     info.capacity);
        goto err;
    }
    h->size = info.capacity;
    if (h->size > 0 && virDomainBlockPeek(h->dom, disk, 0, 1, &byte, 0) == -1) {
        libvirt_report_peek();
        goto err;
    }
    return h;

err:
    if (h->dom)
        virDomainFree(h->dom);
    free(h);
    return NULL;
}

static void
libvirt_close(void *handle)
{
    struct handle *h = handle;

    virDomainFree(h->dom);
    free(h);
}

static int64_t
libvirt_get_size(void *handle)
{
    struct handle *h = handle;

    return h->size;
}

/* The export never changes under a client of ours, whatever connection
 * it reads through.
 */
static int
libvirt_can_multi_conn(void *handle)
{
    return 1;
}

/* One read, shared by the threads that peek its pieces. */
struct peek_job {
    virDomainPtr dom;
    char *buf;
    uint64_t offset;
    uint32_t count;

    pthread_mutex_t lock; /* guards next, failed and err */
    uint32_t next;        /* the offset in buf of the next piece to take */
    bool failed;          /* a piece failed: take no more */
    virError err;         /* the first failure, copied; virResetError frees */
};

/* Take pieces until none are left or one has failed. */
static void *
libvirt_peek_pieces(void *arg)
{
    struct peek_job *job = arg;
    uint32_t at, n;

    for (;;) {
        pthread_mutex_lock(&job->lock);
        if (job->failed || job->next == job->count) {
            pthread_mutex_unlock(&job->lock);
            return NULL;
        }
        at = job->next;
        n = job->count - at < PEEK_MAX ? job->count - at : PEEK_MAX;
        job->next += n;
        pthread_mutex_unlock(&job->lock);

        if (virDomainBlockPeek(job->dom, disk, job->offset + at, n,
                               job->buf + at, 0) == -1) {
            pthread_mutex_lock(&job->lock);
            if (!job->failed)
                virCopyLastError(&job->err);
            job->failed = true;
            pthread_mutex_unlock(&job->lock);
            return NULL;
        }
    }
}

/* Cut the read into pieces of PEEK_MAX and peek them on up to
 * PEEK_THREADS threads, this one included.  A helper that cannot be
 * created only makes the read slower: the others take its pieces.
 */
static int
libvirt_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    struct handle *h = handle;
    struct peek_job job = {
        .dom = h->dom, .buf = buf, .offset = offset, .count = count};
    pthread_t helpers[PEEK_THREADS - 1];
    size_t pieces = (count + (uint64_t)PEEK_MAX - 1) / PEEK_MAX;
    size_t started = 0, i;
    int r = 0;

    pthread_mutex_init(&job.lock, NULL);
    while (started < PEEK_THREADS - 1 && started + 1 < pieces &&
           pthread_create(&helpers[started], NULL, libvirt_peek_pieces, &job) ==
               0)
        started++;
    libvirt_peek_pieces(&job);
    for (i = 0; i < started; i++)
        pthread_join(helpers[i], NULL);

    if (job.failed) {
        nbdkit_error("disk %s: read of %" PRIu32 " bytes at %" PRIu64 ": %s",
                     disk, count, offset,
                     job.err.message ? job.err.message
                                     : "unknown libvirt error");
        virResetError(&job.err);
        r = -1;
    }
    pthread_mutex_destroy(&job.lock);
    return r;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "libvirt",
    .longname = "nbdx libvirt plugin",
    .version = PACKAGE_VERSION,
    .description = "A read-only export of a libvirt domain's disk, read "
                   "with virDomainBlockPeek.",
    .load = libvirt_load,
    .config = libvirt_config,
    .config_complete = libvirt_config_complete,
    .config_help = libvirt_config_help,
    .get_ready = libvirt_get_ready,
    .cleanup = libvirt_cleanup,
    .open = libvirt_open,
    .close = libvirt_close,
    .get_size = libvirt_get_size,
    .can_multi_conn = libvirt_can_multi_conn,
    .pread = libvirt_pread,
};

NBDKIT_REGISTER_PLUGIN(plugin)
