/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-handshake.c: what both handshake styles share.
 *
 * protocol_handshake picks the style; protocol_open_export opens the
 * export the client chose and works out what to advertise for it
 * (size, transmission flags, block size constraints).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "minmax.h"
#include "nbd-protocol.h"

/* The largest READ or WRITE payload we accept, whatever the plugin says:
 * the protocol's default maximum, which every client honours.
 */
#define MAX_REQUEST_SIZE (32 * 1024 * 1024)

int
protocol_handshake(struct connection *conn)
{
    if (opts->oldstyle)
        return protocol_handshake_oldstyle(conn);
    return protocol_handshake_newstyle(conn);
}

/* OR bit into *flags if r (a backend_can_* answer) is true. */
static int
handshake_flag(int r, uint16_t bit, uint16_t *flags)
{
    if (r == -1)
        return -1;
    if (r)
        *flags |= bit;
    return 0;
}

/* Transmission flags for the open context c. */
static int
handshake_eflags(struct connection *conn, struct context *c, uint16_t *eflags)
{
    uint16_t f = NBD_FLAG_HAS_FLAGS;
    int can_write, can_zero;

    can_write = backend_can_write(c);
    if (can_write == -1)
        return -1;
    if (opts->read_only || !can_write)
        f |= NBD_FLAG_READ_ONLY;
    else {
        can_zero = backend_can_zero(c);
        if (handshake_flag(can_zero, NBD_FLAG_SEND_WRITE_ZEROES, &f) == -1)
            return -1;
        if (can_zero && handshake_flag(backend_can_fast_zero(c),
                                       NBD_FLAG_SEND_FAST_ZERO, &f) == -1)
            return -1;
        if (handshake_flag(backend_can_trim(c), NBD_FLAG_SEND_TRIM, &f) ||
            handshake_flag(backend_can_fua(c), NBD_FLAG_SEND_FUA, &f))
            return -1;
    }
    if (handshake_flag(backend_can_flush(c), NBD_FLAG_SEND_FLUSH, &f) ||
        handshake_flag(backend_is_rotational(c), NBD_FLAG_ROTATIONAL, &f) ||
        handshake_flag(backend_can_multi_conn(c), NBD_FLAG_CAN_MULTI_CONN,
                       &f) ||
        handshake_flag(backend_can_cache(c), NBD_FLAG_SEND_CACHE, &f))
        return -1;
    /* DF is only meaningful when a READ can be split into chunks. */
    if (conn->structured_replies)
        f |= NBD_FLAG_SEND_DF;
    *eflags = f;
    return 0;
}

/* Block size constraints: the plugin's, with the maximum payload capped
 * at MAX_REQUEST_SIZE; the protocol defaults if it has none.
 */
static int
handshake_block_size(struct connection *conn, struct context *c)
{
    uint32_t min, pref, max;

    if (backend_block_size(c, &min, &pref, &max) == -1)
        return -1;
    if (min == 0) {
        min = 1;
        pref = 4096;
        max = MAX_REQUEST_SIZE;
    }
    max = MIN(max, (uint32_t)MAX_REQUEST_SIZE);
    pref = MIN(pref, max);
    min = MIN(min, pref);
    conn->block_minimum = min;
    conn->block_preferred = pref;
    conn->block_maximum = max;
    return 0;
}

/* Fill the negotiated fields of conn from the open context c. */
static int
handshake_describe(struct connection *conn, struct context *c)
{
    int64_t size;

    size = backend_get_size(c);
    if (size == -1)
        return -1;
    if (size < 0) {
        nbdkit_error("plugin returned an invalid size %" PRIi64, size);
        return -1;
    }
    if (handshake_eflags(conn, c, &conn->eflags) == -1)
        return -1;
    if (handshake_block_size(conn, c) == -1)
        return -1;
    conn->exportsize = (uint64_t)size;
    return 0;
}

/* Open and prepare exportname for conn.  On success conn->top_context,
 * conn->exportname, exportsize, eflags and block_* are set.  On failure
 * nothing is left open and -1 is returned (the error is logged).
 */
int
protocol_open_export(struct connection *conn, const char *exportname)
{
    struct context *c;
    char *name;

    /* The empty name means the default export: the plugin names it, and
     * .open and nbdkit_export_name see that name, as in nbdkit.
     */
    if (*exportname == '\0') {
        exportname =
            backend_default_export(top, opts->read_only, conn->using_tls);
        if (exportname == NULL)
            return -1;
    }
    name = strdup(exportname);
    if (name == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    free(conn->exportname);
    conn->exportname = name;

    c = backend_open(top, opts->read_only, name, conn->using_tls, conn);
    if (c == NULL)
        return -1;
    if (backend_prepare(c) == -1) {
        backend_close(c);
        return -1;
    }
    if (handshake_describe(conn, c) == -1) {
        backend_finalize(c);
        backend_close(c);
        return -1;
    }
    conn->top_context = c;
    return 0;
}

/* Close what protocol_open_export opened (after NBD_OPT_INFO). */
void
protocol_close_export(struct connection *conn)
{
    if (conn->top_context == NULL)
        return;
    backend_finalize(conn->top_context);
    backend_close(conn->top_context);
    conn->top_context = NULL;
}
