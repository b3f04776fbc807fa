#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# refuse-no-client-cert.sh: under --tls-verify-peer a client without a
# certificate is refused; one with a certificate from the CA gets in.
# Without --tls-verify-peer the certificate-less client is served.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
set -x

make_pki "$tmp/pki"
mkdir "$tmp/anon"
cp "$tmp/pki/ca-cert.pem" "$tmp/anon/"
anon="nbds+unix:///?socket=$sock&tls-certificates=$tmp/anon"

start_server --tls=require --tls-certificates="$tmp/pki" --tls-verify-peer \
    -U "$sock" memory 1M
fails nbdinfo --size "$anon"
kill -0 "$pid"
grep 'TLS handshake' "$tmp/server.log"
[ "$(nbdinfo --size \
    "nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client")" = 1048576 ]
stop_server

start_server --tls=require --tls-certificates="$tmp/pki" -U "$sock" memory 1M
[ "$(nbdinfo --size "$anon")" = 1048576 ]
