#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# refuse-wrong-ca.sh: a client that trusts another CA does not accept the
# server's certificate; a server that trusts another CA refuses a client
# certificate under --tls-verify-peer.  The server survives both.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
set -x

make_pki "$tmp/pki"
make_pki "$tmp/other"

# The client trusts the other CA (with its own valid client certificate).
# Over TCP: libnbd 1.14 checks the server certificate only when it has a
# host name to check it against.
port=$(free_port 127.0.0.1)
start_server --tls=require --tls-certificates="$tmp/pki" -i 127.0.0.1 \
    -p "$port" memory 1M
fails nbdinfo --size "nbds://localhost:$port/?tls-certificates=$tmp/other/client"
kill -0 "$pid"
[ "$(nbdinfo --size \
    "nbds://localhost:$port/?tls-certificates=$tmp/pki/client")" = 1048576 ]
stop_server

# The server trusts the other CA: its own client certificate is refused.
mkdir "$tmp/mixed"
cp "$tmp/pki/server-cert.pem" "$tmp/pki/server-key.pem" "$tmp/mixed/"
cp "$tmp/other/ca-cert.pem" "$tmp/mixed/"
start_server --tls=require --tls-certificates="$tmp/mixed" --tls-verify-peer \
    -U "$sock" memory 1M
fails nbdinfo --size \
    "nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client"
kill -0 "$pid"
grep 'TLS handshake' "$tmp/server.log"
