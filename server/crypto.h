/* SPDX-License-Identifier: BSD-3-Clause */
/* crypto.h: the TLS layer (crypto.c), for main.c, the newstyle
 * handshake and public.c.
 */

#ifndef NBDX_CRYPTO_H
#define NBDX_CRYPTO_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Settle TLS from the --tls* options before privileges are dropped:
 * load the credentials and compile the priority string.  o->tls == -1
 * (no --tls given) becomes 1 if credentials are found, else 0.  Exits
 * with a one-line message if the files or the priority string are bad.
 */
void crypto_init(struct options *o);

/* After the STARTTLS ACK: run the TLS handshake on conn's socket and
 * route conn->recv/send/shut_writes/close through TLS.  On -1 the
 * connection must be dropped; conn's I/O functions are unchanged.
 */
int crypto_negotiate_tls(struct connection *conn);

/* The start of conn->crypto_session: the verified client certificate's
 * subject and issuer DN (RFC 4514), NULL if there is none.  Set once by
 * the TLS handshake and constant until the connection closes.
 */
struct crypto_peer {
    char *dn;
    char *issuer_dn;
};

/* The subject (or issuer) DN, "" if there is none: malloc'd, or NULL
 * with errno set.  Inline so public.c needs no more of the TLS layer.
 */
static inline char *
crypto_peer_dn(const struct connection *conn, bool issuer)
{
    const struct crypto_peer *peer = conn->crypto_session;
    const char *dn = NULL;

    if (peer != NULL)
        dn = issuer ? peer->issuer_dn : peer->dn;
    return strdup(dn ? dn : "");
}

#endif /* NBDX_CRYPTO_H */
