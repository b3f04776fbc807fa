/* SPDX-License-Identifier: BSD-3-Clause */
/* tlsinfo-plugin.c: a plugin for the TLS tests.
 *
 * The disk (4096 bytes, read-only) holds text describing the client as
 * .open saw it:
 *
 *   tls=0|1
 *   dn=SUBJECT DN
 *   issuer=ISSUER DN
 *
 * padded with zero bytes, so a test reads what nbdkit_is_tls,
 * nbdkit_peer_tls_dn and nbdkit_peer_tls_issuer_dn returned.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define SIZE 4096
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static void *
tlsinfo_open(int readonly)
{
    char *disk = calloc(1, SIZE);
    char *dn = NULL, *issuer = NULL;
    int is_tls = nbdkit_is_tls();

    if (disk == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    dn = nbdkit_peer_tls_dn();
    issuer = nbdkit_peer_tls_issuer_dn();
    if (is_tls == -1 || dn == NULL || issuer == NULL) {
        free(dn);
        free(issuer);
        free(disk);
        return NULL;
    }
    snprintf(disk, SIZE, "tls=%d\ndn=%s\nissuer=%s\n", is_tls, dn, issuer);
    free(dn);
    free(issuer);
    return disk;
}

static void
tlsinfo_close(void *handle)
{
    free(handle);
}

static int64_t
tlsinfo_get_size(void *handle)
{
    return SIZE;
}

static int
tlsinfo_can_write(void *handle)
{
    return 0;
}

static int
tlsinfo_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    memcpy(buf, (char *)handle + offset, count);
    return 0;
}

static struct nbdkit_plugin plugin = {
    .name = "tlsinfo",
    .open = tlsinfo_open,
    .close = tlsinfo_close,
    .get_size = tlsinfo_get_size,
    .can_write = tlsinfo_can_write,
    .pread = tlsinfo_pread,
};
NBDKIT_REGISTER_PLUGIN(plugin)
