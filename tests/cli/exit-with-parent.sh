#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# exit-with-parent.sh: with --exit-with-parent the server exits when the
# process that started it dies, and does not daemonise.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

# A parent shell starts the server, reports its pid, then sleeps until
# we kill it.
bash -c '"$1" --exit-with-parent -P "$2" -U "$3" memory 1M &
         exec sleep 60' _ "$NBDX" "$tmp/pid" "$sock" &
parent=$!
_pids="$_pids $parent"
for _ in $(seq 100); do [ -s "$tmp/pid" ] && break; sleep 0.1; done
pid=$(cat "$tmp/pid")
_pids="$_pids $pid"
# Not daemonised: still the child of the parent.
[ "$(awk '{print $4}' "/proc/$pid/stat")" = "$parent" ]
[ "$(nbdinfo --size "$uri")" = 1048576 ]

kill -9 "$parent"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fails kill -0 "$pid" 2>/dev/null
