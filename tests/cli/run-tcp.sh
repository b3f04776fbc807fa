#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# run-tcp.sh: --run with -p listens on TCP and sets $port, an empty
# $unixsocket and an nbd:// $uri.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo python3
set -x

port=$(free_port 127.0.0.1)
"$NBDX" -p "$port" memory 1M --run '
    echo "$uri" >'"$tmp"'/uri
    echo "$port" >'"$tmp"'/port
    echo "[$unixsocket]" >'"$tmp"'/unixsocket
    nbdinfo --size "nbd://127.0.0.1:$port" >'"$tmp"'/size
'
expect_eq uri "nbd://localhost:$port" "$(cat "$tmp/uri")"
expect_eq port "$port" "$(cat "$tmp/port")"
expect_eq unixsocket "[]" "$(cat "$tmp/unixsocket")"
expect_eq size 1048576 "$(cat "$tmp/size")"
