#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sigterm.sh: SIGTERM, SIGHUP, SIGINT and SIGQUIT shut the server down cleanly
# (exit status 0, plugin cleaned up), even with a client connected.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

for sig in TERM HUP INT QUIT; do
    rm -f "$sock" "$tmp/pid" "$tmp/err"
    "$NBDX" -f -v -P "$tmp/pid" -U "$sock" memory 1M 2>"$tmp/err" &
    bg=$!
    _pids="$_pids $bg"
    for _ in $(seq 100); do [ -s "$tmp/pid" ] && break; sleep 0.1; done
    # An idle client that stays connected.
    nbdsh -u "$uri" -c 'import time; time.sleep(30)' &
    client=$!
    _pids="$_pids $client"
    for _ in $(seq 100); do
        grep -q 'memory.*open' "$tmp/err" && break
        sleep 0.1
    done
    kill -"$sig" "$bg"
    rc=0
    # wait returns when the server exits; the client must not hold it up.
    timeout 10 tail --pid="$bg" -f /dev/null || { echo "server hung" >&2; exit 1; }
    wait "$bg" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$tmp/err"; exit 1; }
    grep -q 'cleanup' "$tmp/err"
    kill "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
done
