/* SPDX-License-Identifier: BSD-3-Clause */
/* public-plugin.c: a test plugin that reports, as the content of its
 * disk, what the server's nbdkit_* functions told it inside .open.  It
 * proves the functions see the real connection: export name, TLS flag,
 * peer credentials, and strings interned for the connection.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#define DISK_SIZE 4096

struct handle {
    char report[DISK_SIZE]; /* zero-padded text */
};

static int
public_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    if (nbdkit_add_export(exports, "listed", "a listed export") == -1)
        return -1;
    return nbdkit_use_default_export(exports);
}

static const char *
public_default_export(int readonly, int is_tls)
{
    /* Interned inside the connection: freed when it closes. */
    return nbdkit_printf_intern("default-%d", is_tls);
}

static void *
public_open(int readonly)
{
    struct handle *h = calloc(1, sizeof *h);
    const char *name = nbdkit_export_name();
    const char *copy = name ? nbdkit_strdup_intern(name) : NULL;
    char *dn = nbdkit_peer_tls_dn();

    if (h == NULL || copy == NULL || dn == NULL) {
        nbdkit_error("public test plugin: open failed");
        free(h);
        free(dn);
        return NULL;
    }
    snprintf(h->report, sizeof h->report,
             "export=%s tls=%d pid=%" PRIi64 " uid=%" PRIi64 " gid=%" PRIi64
             " dn=[%s]",
             copy, nbdkit_is_tls(), nbdkit_peer_pid(), nbdkit_peer_uid(),
             nbdkit_peer_gid(), dn);
    free(dn);
    return h;
}

static void
public_close(void *handle)
{
    free(handle);
}

static int64_t
public_get_size(void *handle)
{
    return DISK_SIZE;
}

static int
public_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    struct handle *h = handle;

    memcpy(buf, h->report + offset, count);
    return 0;
}

static struct nbdkit_plugin plugin = {
    .name = "public",
    .list_exports = public_list_exports,
    .default_export = public_default_export,
    .open = public_open,
    .close = public_close,
    .get_size = public_get_size,
    .pread = public_pread,
};

NBDKIT_REGISTER_PLUGIN(plugin)
