#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# keepalive.sh: --keepalive sets SO_KEEPALIVE on accepted TCP sockets
# (ss shows a keepalive timer on the server side); without it none.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh ss python3
set -x

# capture [OPTIONS]: start a TCP server, connect an idle client and save
# the server side of the connection as ss shows it in $tmp/ss.
capture() {
    local port
    port=$(free_port 127.0.0.1)
    start_server "$@" -i 127.0.0.1 -p "$port" memory 1M
    nbdsh -u "nbd://127.0.0.1:$port" -c 'import time; time.sleep(3)' &
    local client=$!
    _pids="$_pids $client"
    sleep 1
    ss -tnoH state established "( sport = :$port )" >"$tmp/ss"
    cat "$tmp/ss"
    [ -s "$tmp/ss" ]
    kill "$client"; wait "$client" || true
    stop_server
}
capture --keepalive
grep -q 'timer:(keepalive' "$tmp/ss"
capture --keep-alive
grep -q 'timer:(keepalive' "$tmp/ss"
capture
fails grep -q 'keepalive' "$tmp/ss"
