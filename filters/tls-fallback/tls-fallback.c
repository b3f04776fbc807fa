/* SPDX-License-Identifier: BSD-3-Clause */
/* tls-fallback.c: serve plaintext clients a small read-only message
 * instead of the plugin.
 *
 * With --tls=on, a client that did not negotiate TLS gets, whatever
 * export it asks for, a single read-only export "" of 512 bytes: the
 * first 512 bytes of tlsreadme=, padded with NUL bytes, as nbdkit.  For
 * such a client .open never calls next, so nothing below this filter is
 * opened, and every callback answers by itself.  TLS clients pass
 * straight through.
 */

#include <stdint.h>
#include <string.h>

#include <nbdkit-filter.h>

/* Written by config only, then read-only. */
static const char *message =
    "This NBD server requires TLS authentication before it will serve "
    "useful data.\n"; /* tlsreadme= */

/* The handle of a plaintext connection; TLS connections get
 * NBDKIT_HANDLE_NOT_NEEDED.
 */
static char plaintext_marker;
#define PLAINTEXT ((void *)&plaintext_marker)

static int
tlsf_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
            const char *value)
{
    if (strcmp(key, "tlsreadme") == 0) {
        message = value;
        return 0;
    }
    return next(nxdata, key, value);
}

#define tlsf_config_help                                                       \
    "tlsreadme=<MESSAGE>  Alternative contents for the plaintext dummy "       \
    "export."

/* A plaintext client holding its connection open would starve every
 * other client of a plugin that serializes connections.
 */
static int
tlsf_get_ready(int thread_model)
{
    if (thread_model == NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS) {
        nbdkit_error("the plugin serializes connections; this filter "
                     "needs a plugin that serves connections in parallel");
        return -1;
    }
    return 0;
}

static int
tlsf_list_exports(nbdkit_next_list_exports *next, nbdkit_backend *nxdata,
                  int readonly, int is_tls, struct nbdkit_exports *exports)
{
    if (is_tls)
        return next(nxdata, readonly, exports);
    return nbdkit_add_export(exports, "", NULL);
}

static const char *
tlsf_default_export(nbdkit_next_default_export *next, nbdkit_backend *nxdata,
                    int readonly, int is_tls)
{
    if (is_tls)
        return next(nxdata, readonly);
    return "";
}

static void *
tlsf_open(nbdkit_next_open *next, nbdkit_context *nxdata, int readonly,
          const char *exportname, int is_tls)
{
    if (!is_tls) {
        nbdkit_debug("tls-fallback: plaintext client, serving tlsreadme "
                     "instead of export \"%s\"",
                     exportname);
        return PLAINTEXT;
    }
    if (next(nxdata, readonly, exportname) == -1)
        return NULL;
    return NBDKIT_HANDLE_NOT_NEEDED;
}

#define PLAINTEXT_SIZE 512

static int64_t
tlsf_get_size(nbdkit_next *next, void *handle)
{
    if (handle != PLAINTEXT)
        return next->get_size(next);
    return PLAINTEXT_SIZE;
}

static const char *
tlsf_export_description(nbdkit_next *next, void *handle)
{
    if (handle != PLAINTEXT)
        return next->export_description(next);
    return NULL;
}

static int
tlsf_block_size(nbdkit_next *next, void *handle, uint32_t *minimum,
                uint32_t *preferred, uint32_t *maximum)
{
    if (handle != PLAINTEXT)
        return next->block_size(next, minimum, preferred, maximum);
    *minimum = *preferred = *maximum = 0; /* no constraints */
    return 0;
}

/* tlsf_NAME: the answer of the layer below for TLS clients, 0 (no,
 * none) for plaintext ones.
 */
#define TLSF_CAN(name)                                                         \
    static int tlsf_##name(nbdkit_next *next, void *handle)                    \
    {                                                                          \
        if (handle != PLAINTEXT)                                               \
            return next->name(next);                                           \
        return 0;                                                              \
    }

TLSF_CAN(can_write)
TLSF_CAN(can_flush)
TLSF_CAN(is_rotational)
TLSF_CAN(can_trim)
TLSF_CAN(can_zero)
TLSF_CAN(can_fast_zero)
TLSF_CAN(can_extents)
TLSF_CAN(can_fua)
TLSF_CAN(can_multi_conn)
TLSF_CAN(can_cache)

/* Plaintext reads: the message, then NUL bytes.  The server keeps
 * [offset, offset + count) inside PLAINTEXT_SIZE.
 */
static int
tlsf_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    size_t len, n = 0;

    if (handle != PLAINTEXT)
        return next->pread(next, buf, count, offset, flags, err);
    len = strnlen(message, PLAINTEXT_SIZE);
    if (offset < len) {
        n = len - offset < count ? len - offset : count;
        memcpy(buf, message + offset, n);
    }
    memset((char *)buf + n, 0, count - n);
    return 0;
}

/* The plaintext export is read-only with no extents, FUA, trim, zero or
 * cache, so the server sends no other data call for it; those calls go
 * to the layer below for TLS clients.
 */
static struct nbdkit_filter filter = {
    .name = "tls-fallback",
    .longname = "nbdx tls-fallback filter",
    .config = tlsf_config,
    .config_help = tlsf_config_help,
    .get_ready = tlsf_get_ready,
    .list_exports = tlsf_list_exports,
    .default_export = tlsf_default_export,
    .open = tlsf_open,
    .get_size = tlsf_get_size,
    .export_description = tlsf_export_description,
    .block_size = tlsf_block_size,
    .can_write = tlsf_can_write,
    .can_flush = tlsf_can_flush,
    .is_rotational = tlsf_is_rotational,
    .can_trim = tlsf_can_trim,
    .can_zero = tlsf_can_zero,
    .can_fast_zero = tlsf_can_fast_zero,
    .can_extents = tlsf_can_extents,
    .can_fua = tlsf_can_fua,
    .can_multi_conn = tlsf_can_multi_conn,
    .can_cache = tlsf_can_cache,
    .pread = tlsf_pread,
};

NBDKIT_REGISTER_FILTER(filter)
