#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# x509-nbdinfo.sh: with --tls=require and X.509 certificates, nbdinfo
# connects over nbds+unix:// and nbds:// (127.0.0.1) URIs carrying
# tls-certificates=, and the handshake really is TLS.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
set -x

make_pki "$tmp/pki"
cli="$tmp/pki/client"

start_server --tls=require --tls-certificates="$tmp/pki" -U "$sock" memory 1M
nbdinfo "nbds+unix:///?socket=$sock&tls-certificates=$cli" >"$tmp/out"
cat "$tmp/out"
grep -q 'with TLS' "$tmp/out"
grep -q 'export-size: 1048576' "$tmp/out"
stop_server

port=$(free_port 127.0.0.1)
start_server --tls=require --tls-certificates="$tmp/pki" -i 127.0.0.1 \
    -p "$port" memory 2M
size=$(nbdinfo --size "nbds://127.0.0.1:$port/?tls-certificates=$cli")
expect_eq "size over nbds://" 2097152 "$size"
