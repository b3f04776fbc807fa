#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# daemonise.sh: without -f the server forks: the command returns 0 at
# once, the pidfile holds the daemon (a new session, cwd /), and it serves.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

"$NBDX" -P "$tmp/pid" -U "$sock" memory 1M
for _ in $(seq 100); do [ -s "$tmp/pid" ] && break; sleep 0.1; done
pid=$(cat "$tmp/pid")
_pids="$_pids $pid"
[ "$(readlink "/proc/$pid/cwd")" = / ]
# Field 6 of /proc/PID/stat is the session id.
[ "$(awk '{print $6}' "/proc/$pid/stat")" = "$pid" ]
[ "$(nbdinfo --size "$uri")" = 1048576 ]
kill "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fails kill -0 "$pid" 2>/dev/null
