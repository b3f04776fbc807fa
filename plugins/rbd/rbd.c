/* SPDX-License-Identifier: BSD-3-Clause */
/* rbd: a Ceph RADOS block device image, read and written through
 * librbd and librados (see nbdx-rbd-plugin(1)).  The functions are
 * named rbdp_verb, since rbd_ is librbd's prefix.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "vector.h"

/* The parameters, interned by nbdkit_strdup_intern so they live until
 * the plugin is unloaded.
 */
static const char *pool = "rbd";    /* pool=POOL */
static const char *image_name;      /* [image=]IMAGE, required */
static const char *rados_namespace; /* namespace=NAMESPACE */
static const char *snapshot;        /* snapshot=SNAP: read-only */
static const char *conf_file;       /* conf=FILE; NULL: Ceph's search */
static const char *client_id;       /* id=ID or user=ID; NULL: admin */
static const char *keyring;         /* keyring=FILE */

/* Every other KEY=VALUE: a Ceph option, set by rados_conf_set. */
struct option {
    const char *key, *value;
};
DEFINE_VECTOR_TYPE(option_vector, struct option)
static option_vector options = empty_vector;

/* Ceph options that nbdx sets unless the command line or ceph.conf
 * does: a client waits up to 300 s for the monitors by default and
 * prints its errors on stderr, where nbdx says the same in one line.
 * ceph_default is Ceph's own default as rados_conf_get prints it: the
 * option is left alone if it has any other value.
 */
static const struct {
    const char *key, *ceph_default, *value;
} rbdp_defaults[] = {
    {"client_mount_timeout", "300", "10"},
    {"rados_mon_op_timeout", "0", "10"},
    {"log_to_stderr", "true", "false"},
    {"err_to_stderr", "true", "false"},
};

/* The cluster handle, the pool's I/O context and the open image, one
 * of each for the whole server.  rados_create and the configuration
 * happen in rbdp_get_ready, which starts no thread; rados_connect, which
 * starts librados's threads, waits for rbdp_after_fork.  All three are
 * thread safe (librbd serialises what it must inside the image), so
 * every connection and every request uses them without a lock of ours;
 * rbdp_cleanup closes them after the last connection.  Sharing one
 * image handle also makes multi-conn safe: librbd's cache belongs to
 * the handle, so a flush on any connection flushes every write.
 */
static rados_t cluster;
static rados_ioctx_t ioctx;
static rbd_image_t image;

static void
rbdp_unload(void)
{
    option_vector_reset(&options);
}

static int
rbdp_config_option(const char *key, const char *value)
{
    struct option o = {nbdkit_strdup_intern(key), nbdkit_strdup_intern(value)};

    if (o.key == NULL || o.value == NULL)
        return -1;
    if (option_vector_append(&options, o) == -1) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    return 0;
}

static int
rbdp_config(const char *key, const char *value)
{
    const char **slot;

    if (strcmp(key, "pool") == 0)
        slot = &pool;
    else if (strcmp(key, "image") == 0)
        slot = &image_name;
    else if (strcmp(key, "namespace") == 0)
        slot = &rados_namespace;
    else if (strcmp(key, "snapshot") == 0)
        slot = &snapshot;
    else if (strcmp(key, "conf") == 0)
        slot = &conf_file;
    else if (strcmp(key, "id") == 0 || strcmp(key, "user") == 0)
        slot = &client_id;
    else if (strcmp(key, "keyring") == 0)
        slot = &keyring;
    else
        return rbdp_config_option(key, value);
    *slot = nbdkit_strdup_intern(value);
    return *slot == NULL ? -1 : 0;
}

static int
rbdp_config_complete(void)
{
    if (image_name == NULL) {
        nbdkit_error("you must specify image=<IMAGE> on the command line");
        return -1;
    }
    return 0;
}

#define rbdp_config_help                                                       \
    "[image=]<IMAGE>       (required) The RBD image.\n"                        \
    "pool=<POOL>           Its pool (default: rbd).\n"                         \
    "namespace=<NS>        Its namespace in the pool (default: none).\n"       \
    "snapshot=<SNAP>       Serve this snapshot of the image, read-only.\n"     \
    "conf=<FILE>           ceph.conf (default: Ceph's search path).\n"         \
    "id=<ID>               Client id, as in client.ID (default: admin).\n"     \
    "user=<ID>             Same as id=.\n"                                     \
    "keyring=<FILE>        Keyring with the client's key.\n"                   \
    "<OPTION>=<VALUE>      Any other Ceph option, e.g. mon_host=HOST."

/* Read ceph.conf: the one named by conf=, else Ceph's own search (the
 * CEPH_CONF variable, /etc/ceph/ceph.conf, ...), where finding none is
 * not an error: mon_host= may say all there is to say.  Then CEPH_ARGS.
 */
static int
rbdp_read_conf(void)
{
    int r = rados_conf_read_file(cluster, conf_file);

    if (r < 0 && conf_file) {
        nbdkit_error("cannot read Ceph configuration %s: %s", conf_file,
                     strerror(-r));
        return -1;
    }
    r = rados_conf_parse_env(cluster, NULL);
    if (r < 0) {
        nbdkit_error("CEPH_ARGS: %s", strerror(-r));
        return -1;
    }
    return 0;
}

static bool
rbdp_option_given(const char *key)
{
    size_t i;

    for (i = 0; i < options.len; i++)
        if (strcmp(options.ptr[i].key, key) == 0)
            return true;
    return false;
}

/* nbdx's defaults (rbdp_defaults), where still at Ceph's defaults. */
static void
rbdp_set_defaults(void)
{
    char buf[64];
    size_t i;

    for (i = 0; i < sizeof rbdp_defaults / sizeof rbdp_defaults[0]; i++) {
        if (rbdp_option_given(rbdp_defaults[i].key))
            continue;
        if (rados_conf_get(cluster, rbdp_defaults[i].key, buf, sizeof buf) <
                0 ||
            strcmp(buf, rbdp_defaults[i].ceph_default) != 0)
            continue;
        if (rados_conf_set(cluster, rbdp_defaults[i].key,
                           rbdp_defaults[i].value) < 0)
            nbdkit_debug("rados_conf_set %s: failed", rbdp_defaults[i].key);
    }
}

/* keyring= and the other KEY=VALUE of the command line, last so that
 * they win over ceph.conf.
 */
static int
rbdp_set_options(void)
{
    size_t i;
    int r;

    if (keyring) {
        r = rados_conf_set(cluster, "keyring", keyring);
        if (r < 0) {
            nbdkit_error("keyring=%s: %s", keyring, strerror(-r));
            return -1;
        }
    }
    for (i = 0; i < options.len; i++) {
        r = rados_conf_set(cluster, options.ptr[i].key, options.ptr[i].value);
        if (r == -ENOENT) {
            nbdkit_error("unknown parameter '%s' (neither a parameter of the "
                         "plugin nor a Ceph option)",
                         options.ptr[i].key);
            return -1;
        }
        if (r < 0) {
            nbdkit_error("%s=%s: %s", options.ptr[i].key, options.ptr[i].value,
                         strerror(-r));
            return -1;
        }
    }
    return 0;
}

/* Create the cluster handle and configure it: no network yet. */
static int
rbdp_get_ready(void)
{
    int r = rados_create(&cluster, client_id);

    if (r < 0) {
        nbdkit_error("rados_create: %s", strerror(-r));
        return -1;
    }
    if (rbdp_read_conf() == -1)
        return -1;
    rbdp_set_defaults();
    return rbdp_set_options();
}

/* The pool's I/O context (in its namespace) and the image. */
static int
rbdp_open_image(void)
{
    int r = rados_ioctx_create(cluster, pool, &ioctx);

    if (r < 0) {
        nbdkit_error("pool %s: %s", pool,
                     r == -ENOENT ? "no such pool" : strerror(-r));
        return -1;
    }
    if (rados_namespace)
        rados_ioctx_set_namespace(ioctx, rados_namespace);
    r = rbd_open(ioctx, image_name, &image, snapshot);
    if (r < 0) {
        image = NULL; /* nothing to close */
        nbdkit_error("image %s%s%s in pool %s%s%s: %s", image_name,
                     snapshot ? "@" : "", snapshot ? snapshot : "", pool,
                     rados_namespace ? ", namespace " : "",
                     rados_namespace ? rados_namespace : "",
                     r == -ENOENT ? "no such image or snapshot" : strerror(-r));
        return -1;
    }
    return 0;
}

static void
rbdp_cleanup(void)
{
    if (image)
        rbd_close(image);
    if (ioctx)
        rados_ioctx_destroy(ioctx);
    if (cluster)
        rados_shutdown(cluster);
    image = NULL;
    ioctx = NULL;
    cluster = NULL;
}

/* Connect once the server has daemonised, since librados's threads
 * would not survive the fork.  rados_connect gives up after
 * client_mount_timeout seconds.  On failure the server exits at once,
 * without cleanup: librados's threads are stopped here first, or they
 * would run on into the memory that exit's destructors free.
 */
static int
rbdp_after_fork(void)
{
    int r = rados_connect(cluster);

    if (r < 0) {
        nbdkit_error("cannot connect to the Ceph cluster%s%s: %s",
                     conf_file ? " of " : "", conf_file ? conf_file : "",
                     strerror(-r));
        rbdp_cleanup();
        return -1;
    }
    if (rbdp_open_image() == -1) {
        rbdp_cleanup();
        return -1;
    }
    return 0;
}

static void *
rbdp_open_connection(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
rbdp_get_size(void *handle)
{
    uint64_t size;
    int r = rbd_get_size(image, &size);

    if (r < 0) {
        nbdkit_error("rbdp_get_size: %s", strerror(-r));
        return -1;
    }
    return size;
}

/* A snapshot is read-only. */
static int
rbdp_can_write(void *handle)
{
    return snapshot == NULL;
}

/* One image handle for all connections (see image above). */
static int
rbdp_can_multi_conn(void *handle)
{
    return 1;
}

static int
rbdp_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

/* rbd_aio_write_zeroes without its thick-provision flag discards. */
static int
rbdp_can_fast_zero(void *handle)
{
    return 1;
}

/* librbd's negative errno r of operation what: say so, and set errno
 * for the client's NBD error.
 */
static int
rbdp_fail(const char *what, ssize_t r)
{
    nbdkit_error("%s: %s", what, strerror((int)-r));
    nbdkit_set_error((int)-r);
    return -1;
}

/* The asynchronous calls: each request starts one and waits for it, so
 * the server's worker threads (thread model parallel) keep as many
 * requests in flight in librbd as there are clients' requests.
 * Returns what the operation returned (negative errno on error).
 */
enum rbd_op { RBD_READ, RBD_WRITE, RBD_DISCARD, RBD_ZERO, RBD_FLUSH };

static ssize_t
rbdp_aio(enum rbd_op op, void *buf, uint64_t count, uint64_t offset,
         int zero_flags)
{
    rbd_completion_t c;
    ssize_t r = rbd_aio_create_completion(NULL, NULL, &c);

    if (r < 0)
        return r;
    switch (op) {
    case RBD_READ:
        r = rbd_aio_read(image, offset, count, buf, c);
        break;
    case RBD_WRITE:
        r = rbd_aio_write(image, offset, count, buf, c);
        break;
    case RBD_DISCARD:
        r = rbd_aio_discard(image, offset, count, c);
        break;
    case RBD_ZERO:
        r = rbd_aio_write_zeroes(image, offset, count, c, zero_flags, 0);
        break;
    case RBD_FLUSH:
        r = rbd_aio_flush(image, c);
        break;
    }
    if (r == 0) {
        rbd_aio_wait_for_complete(c);
        r = rbd_aio_get_return_value(c);
    }
    rbd_aio_release(c);
    return r;
}

static int
rbdp_flush_image(void *handle, uint32_t flags)
{
    ssize_t r = rbdp_aio(RBD_FLUSH, NULL, 0, 0, 0);

    return r < 0 ? rbdp_fail("rbd_aio_flush", r) : 0;
}

/* After a write, trim or zero: FUA is a flush of the image. */
static int
rbdp_fua(uint32_t flags)
{
    return flags & NBDKIT_FLAG_FUA ? rbdp_flush_image(NULL, 0) : 0;
}

static int
rbdp_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    ssize_t r = rbdp_aio(RBD_READ, buf, count, offset, 0);

    if (r < 0)
        return rbdp_fail("rbd_aio_read", r);
    if ((uint64_t)r < count) /* past the end of an image that shrank */
        memset((char *)buf + r, 0, count - r);
    return 0;
}

static int
rbdp_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    ssize_t r = rbdp_aio(RBD_WRITE, (void *)buf, count, offset, 0);

    return r < 0 ? rbdp_fail("rbd_aio_write", r) : rbdp_fua(flags);
}

static int
rbdp_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    ssize_t r = rbdp_aio(RBD_DISCARD, NULL, count, offset, 0);

    return r < 0 ? rbdp_fail("rbd_aio_discard", r) : rbdp_fua(flags);
}

/* With may_trim, librbd discards (whole objects removed, parts of them
 * zeroed); without it, the thick-provision flag writes zeroes, which is
 * not fast.
 */
static int
rbdp_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    int zero_flags = 0;
    ssize_t r;

    if (!(flags & NBDKIT_FLAG_MAY_TRIM)) {
        if (flags & NBDKIT_FLAG_FAST_ZERO) {
            nbdkit_set_error(ENOTSUP);
            return -1;
        }
        zero_flags = RBD_WRITE_ZEROES_FLAG_THICK_PROVISION;
    }
    r = rbdp_aio(RBD_ZERO, NULL, count, offset, zero_flags);
    return r < 0 ? rbdp_fail("rbd_aio_write_zeroes", r) : rbdp_fua(flags);
}

/* Extents: librbd reports the allocated ranges of [offset, end),
 * possibly from its own threads and in any order, so they are gathered
 * under a lock first, then sorted and added with the holes between.
 */
struct range {
    uint64_t offset, length;
    bool exists;
};
DEFINE_VECTOR_TYPE(range_vector, struct range)

struct diff {
    pthread_mutex_t lock; /* guards ranges and err */
    range_vector ranges;
    int err; /* errno of a failed append, or 0 */
};

static int
rbdp_diff_cb(uint64_t offset, size_t length, int exists, void *arg)
{
    struct diff *d = arg;
    struct range range = {offset, length, exists != 0};
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&d->lock);

    if (range_vector_append(&d->ranges, range) == -1) {
        d->err = errno;
        return -errno;
    }
    return 0;
}

static int
rbdp_range_compare(const void *a, const void *b)
{
    const struct range *x = a, *y = b;

    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Add [*pos, end) of type to extents, if not empty; advance *pos. */
static int
rbdp_add(struct nbdkit_extents *extents, uint64_t *pos, uint64_t end,
         uint32_t type)
{
    if (end <= *pos)
        return 0;
    if (nbdkit_add_extent(extents, *pos, end - *pos, type) == -1)
        return -1;
    *pos = end;
    return 0;
}

static int
rbdp_add_ranges(const range_vector *ranges, uint64_t pos, uint64_t end,
                struct nbdkit_extents *extents)
{
    const uint32_t hole = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
    size_t i;

    for (i = 0; i < ranges->len; i++) {
        const struct range *r = &ranges->ptr[i];
        uint64_t r_end = r->offset + r->length;

        if (r_end > end)
            r_end = end;
        if (rbdp_add(extents, &pos, r->offset, hole) == -1 ||
            rbdp_add(extents, &pos, r_end, r->exists ? 0 : hole) == -1)
            return -1;
    }
    return rbdp_add(extents, &pos, end, hole);
}

static int
rbdp_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents)
{
    struct diff d = {PTHREAD_MUTEX_INITIALIZER, empty_vector, 0};
    int r, ret = -1;

    r = rbd_diff_iterate2(image, NULL, offset, count, 1, 0, rbdp_diff_cb, &d);
    if (r < 0) {
        rbdp_fail("rbd_diff_iterate2", d.err ? -d.err : r);
        goto out;
    }
    if (d.ranges.len > 1) /* qsort may not be given a NULL array */
        qsort(d.ranges.ptr, d.ranges.len, sizeof d.ranges.ptr[0],
              rbdp_range_compare);
    ret = rbdp_add_ranges(&d.ranges, offset, offset + count, extents);
out:
    range_vector_reset(&d.ranges);
    return ret;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "rbd",
    .longname = "nbdx Ceph RBD plugin",
    .version = PACKAGE_VERSION,
    .description = "A Ceph RBD image, through librbd.",
    .unload = rbdp_unload,
    .magic_config_key = "image",
    .config = rbdp_config,
    .config_complete = rbdp_config_complete,
    .config_help = rbdp_config_help,
    .get_ready = rbdp_get_ready,
    .after_fork = rbdp_after_fork,
    .cleanup = rbdp_cleanup,
    .open = rbdp_open_connection,
    .get_size = rbdp_get_size,
    .can_write = rbdp_can_write,
    .can_multi_conn = rbdp_can_multi_conn,
    .can_fua = rbdp_can_fua,
    .can_fast_zero = rbdp_can_fast_zero,
    .pread = rbdp_pread,
    .pwrite = rbdp_pwrite,
    .flush = rbdp_flush_image,
    .trim = rbdp_trim,
    .zero = rbdp_zero,
    .extents = rbdp_extents,
    .errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
