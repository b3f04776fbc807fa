#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-append.sh: logappend=true keeps earlier runs; the default truncates;
# without logfile= the filter does nothing.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

truncate -s 64K "$tmp/disk"
echo "old line" >"$tmp/log"
start_server -U "$sock" --filter=log file "$tmp/disk" logfile="$tmp/log" logappend=true
nbdsh_u -c 'h.pread(512, 0)'
stop_server
rm -f "$sock"
head -n1 "$tmp/log" | grep -qx "old line"
grep -q 'connection=1 \.\.\.Read id=1 return=0' "$tmp/log"

start_server -U "$sock" --filter=log file "$tmp/disk" logfile="$tmp/log"
nbdsh_u -c 'h.pread(512, 4096)'
stop_server
rm -f "$sock"
cat "$tmp/log"
fails grep -q "old line" "$tmp/log"
fails grep -q "offset=0x0 " "$tmp/log"
grep -q 'Read id=1 offset=0x1000 count=0x200' "$tmp/log"

# Without logfile= the filter is inactive, as in nbdkit: the server runs
# and writes no log anywhere.
before=$(ls -A "$tmp" | grep -v '^server')
cd "$tmp"
start_server -U "$sock" --filter=log file "$tmp/disk"
nbdsh_u -c 'assert h.pread(512, 0) == bytes(512)'
stop_server
rm -f "$sock"
after=$(ls -A "$tmp" | grep -v '^server')
[ "$before" = "$after" ] || { echo "FAIL: new files: $after"; exit 1; }
