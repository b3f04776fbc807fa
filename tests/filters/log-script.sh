#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-script.sh: logscript= runs the script for every event with $type,
# $act, $connection, $id, $return, $error and the event's own keys as
# shell variables (lists as bash arrays), with or without logfile=.
. "$SRCDIR/tests/lib.sh"
requires nbdsh bash
set -x

out="$tmp/events"
script='echo "$type|$act|${connection-}|${id-}|${offset-}|${count-}|${return-}|${error-}|${export-}|${extents[*]-}" >>'"$out"

# wait_lines N: the scripts run in the background; wait for N lines
# (not counting Fork, which depends on whether the server forks).
wait_lines() {
    for _ in $(seq 100); do
        [ "$(grep -vc '^PRINT|Fork|' "$out" 2>/dev/null)" -ge "$1" ] && return 0
        sleep 0.1
    done
    cat "$out"
    echo "FAIL: fewer than $1 events" >&2
    return 1
}

start_server -U "$sock" --filter=log full 1M logscript="$script"
fails nbdsh -u "nbd+unix:///exp?socket=$sock" -c '
assert h.pread(512, 1024) == bytes(512)
h.pwrite(b"x" * 512, 4096)
'
stop_server
rm -f "$sock"
# Ready, Preconnect x2, Connect, Read x2, Write x2, Disconnect.
wait_lines 9
cat "$out"
grep -qx 'PRINT|Ready||||||||' "$out"
grep -qx 'ENTER|Preconnect||1||||||' "$out"
grep -qx 'LEAVE|Preconnect||1|||0|||' "$out"
grep -qx 'PRINT|Connect|1||||||exp|1' "$out"
grep -qx 'ENTER|Read|1|1|0x400|0x200||||' "$out"
grep -qx 'LEAVE|Read|1|1|||0|||' "$out"
grep -qx 'ENTER|Write|1|2|0x1000|0x200||||' "$out"
grep -qx 'LEAVE|Write|1|2|||-1|ENOSPC||' "$out"
grep -qx 'PRINT|Disconnect|1|||||||' "$out"

# Extents arrive as an array of offset, length, type triples, and the
# log file is written as well.
: >"$out"
start_server -U "$sock" --filter=log memory 1M logscript="$script" \
    logfile="$tmp/log"
nbdsh --base-allocation -u "$uri" -c '
h.pwrite(b"x" * 65536, 0)
h.block_status(131072, 0, lambda *a: 0)
'
stop_server
wait_lines 9
cat "$out"
grep -E '^LEAVE\|Extents\|1\|2\|\|\|0\|\|\|0x0 0x10000  0x10000 0x10000 hole,zero' "$out"
grep -q ' connection=1 \.\.\.Extents id=2 extents=(0x0 0x10000 "" 0x10000 0x10000 "hole,zero") return=0$' "$tmp/log"
