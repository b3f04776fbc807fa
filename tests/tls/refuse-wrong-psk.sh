#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# refuse-wrong-psk.sh: a client with the right username but the wrong key
# is refused, and the server keeps serving clients with the right key.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
set -x

make_psk "$tmp/server.psk" alice
make_psk "$tmp/wrong.psk" alice
! cmp -s "$tmp/server.psk" "$tmp/wrong.psk"

start_server --tls=require --tls-psk="$tmp/server.psk" -U "$sock" memory 1M
base="nbds+unix://alice@/?socket=$sock&tls-psk-file"
fails nbdinfo --size "$base=$tmp/wrong.psk"
kill -0 "$pid"
grep 'TLS handshake' "$tmp/server.log"
[ "$(nbdinfo --size "$base=$tmp/server.psk")" = 1048576 ]
