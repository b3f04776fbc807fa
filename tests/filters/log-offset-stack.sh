#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-offset-stack.sh: filters stack in command-line order, the first
# --filter= outermost.  With log above offset the log sees the client's
# offsets; with offset above log it sees them shifted by the offset.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

truncate -s 4M "$tmp/disk"
ops='
h.pwrite(b"x" * 512, 4096)
h.pread(1024, 8192)
'

start_server -U "$sock" --filter=log --filter=offset file "$tmp/disk" \
    offset=1M range=2M logfile="$tmp/outer.log"
nbdsh_u -c "$ops"
stop_server
rm -f "$sock"
cat "$tmp/outer.log"
grep -q ' connection=1 Connect export="" .* size=0x200000 ' "$tmp/outer.log"
grep -q ' Write id=1 offset=0x1000 count=0x200 ' "$tmp/outer.log"
grep -q ' Read id=2 offset=0x2000 count=0x400 ' "$tmp/outer.log"

start_server -U "$sock" --filter=offset --filter=log file "$tmp/disk" \
    offset=1M range=2M logfile="$tmp/inner.log"
nbdsh_u -c "$ops"
stop_server
rm -f "$sock"
cat "$tmp/inner.log"
grep -q ' connection=1 Connect export="" .* size=0x400000 ' "$tmp/inner.log"
grep -q ' Write id=1 offset=0x101000 count=0x200 ' "$tmp/inner.log"
grep -q ' Read id=2 offset=0x102000 count=0x400 ' "$tmp/inner.log"

# Both runs wrote through to the same file byte.
[ "$(od -An -c -j $((1048576 + 4096)) -N 1 "$tmp/disk" | tr -d ' ')" = x ]
