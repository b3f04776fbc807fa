/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-handshake-oldstyle.c: the oldstyle handshake (-o).
 *
 * The server speaks alone: it opens the default export and sends its size
 * and flags in one 152-byte message.  No options, no export names, no TLS.
 */

#include <endian.h>
#include <string.h>

#include "internal.h"
#include "nbd-protocol.h"

/* Shared by the protocol-handshake*.c files. */

int
protocol_handshake_oldstyle(struct connection *conn)
{
    struct nbd_old_handshake h;

    if (protocol_open_export(conn, "") == -1)
        return -1;

    memset(&h, 0, sizeof h);
    h.nbdmagic = htobe64(NBD_MAGIC);
    h.version = htobe64(NBD_OLD_VERSION);
    h.exportsize = htobe64(conn->exportsize);
    h.gflags = 0;
    h.eflags = htobe16(conn->eflags);
    if (conn->send(conn, &h, sizeof h, 0) == -1) {
        nbdkit_error("oldstyle handshake: write: %m");
        return -1;
    }
    return 0;
}
