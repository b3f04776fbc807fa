#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# pidfile.sh: -P writes the server's pid once it accepts connections; a
# relative path is relative to where nbdx was started.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

cd "$tmp"
"$NBDX" -f -P rel.pid -U "$sock" memory 1M &
bg=$!
_pids="$_pids $bg"
for _ in $(seq 100); do [ -s rel.pid ] && break; sleep 0.1; done
[ "$(cat rel.pid)" = "$bg" ]
# Ready means a client can connect right away.
[ "$(nbdinfo --size "$uri")" = 1048576 ]
for opt in --pidfile --pid-file; do
    "$NBDX" "$opt" "$tmp/$opt.pid" -U - memory 1M --run 'sleep 0.2'
    grep -Eqx '[0-9]+' "$tmp/$opt.pid"
done
