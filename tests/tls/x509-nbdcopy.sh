#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# x509-nbdcopy.sh: nbdcopy writes a file through TLS (several connections,
# many requests in flight, 32 MiB requests) and reads it back unchanged.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdcopy
set -x

make_pki "$tmp/pki"
random_file "$tmp/in" 32768

start_server --tls=require --tls-certificates="$tmp/pki" -U "$sock" memory 32M
u="nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client"
nbdcopy --request-size=33554432 "$tmp/in" "$u"
nbdcopy "$u" "$tmp/out"
same_files "$tmp/in" "$tmp/out"
nbdcopy --connections=1 --requests=1 --request-size=4096 "$u" "$tmp/out2"
same_files "$tmp/in" "$tmp/out2"
