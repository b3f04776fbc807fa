#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# run-vars.sh: --run defaults to a private unix socket and sets $uri,
# $nbd, $port, $unixsocket, $exportname (and leaves $tls unset), and a
# client can use $uri while the command runs.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

"$NBDX" memory 1M --run '
    echo "$uri" >'"$tmp"'/uri
    echo "$nbd" >'"$tmp"'/nbd
    echo "[$port]" >'"$tmp"'/port
    echo "$unixsocket" >'"$tmp"'/unixsocket
    echo "[$exportname]" >'"$tmp"'/exportname
    echo "${tls-unset}" >'"$tmp"'/tls
    nbdinfo --size "$uri" >'"$tmp"'/size
'
s=$(cat "$tmp/unixsocket")
case "$s" in /*/socket) ;; *) exit 1 ;; esac
[ "$(cat "$tmp/uri")" = "nbd+unix://?socket=$s" ]
[ "$(cat "$tmp/nbd")" = "$(cat "$tmp/uri")" ]
[ "$(cat "$tmp/port")" = "[]" ]
[ "$(cat "$tmp/exportname")" = "[]" ]
[ "$(cat "$tmp/tls")" = unset ]
[ "$(cat "$tmp/size")" = 1048576 ]
# The private socket is gone after the server exits.
[ ! -e "$s" ]
