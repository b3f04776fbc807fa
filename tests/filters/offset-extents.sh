#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# offset-extents.sh: block status through the offset filter reports the
# file's holes and data shifted down by the offset.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo python3 dd truncate
set -x

K=1024
M=$((1024 * K))
# 4M sparse file with data at [1M+256K, 1M+512K) and [3M, 3M+64K).
truncate -s 4M "$tmp/disk"
head -c $((256 * K)) /dev/urandom |
    dd of="$tmp/disk" bs=$K seek=$((M / K + 256)) conv=notrunc status=none
head -c $((64 * K)) /dev/urandom |
    dd of="$tmp/disk" bs=$K seek=$((3 * M / K)) conv=notrunc status=none

# Skip if this file system does not report holes.
if [ "$(stat -c %b "$tmp/disk")" -ge $((4 * M / 512)) ]; then
    echo "SKIP: $tmp does not support sparse files"
    exit 77
fi

start_server -U "$sock" --filter=offset file "$tmp/disk" offset=1M range=2M
nbdinfo --map --json "$uri" | tee "$tmp/map.json"
python3 - "$tmp/map.json" <<'PY'
import json, sys
K = 1024
M = 1024 * K
m = json.load(open(sys.argv[1]))
pos = 0
for e in m:
    assert e["offset"] == pos, ("gap or overlap at", pos, e)
    pos += e["length"]
assert pos == 2 * M, ("map does not end at the range", pos)
def hole(off):
    for e in m:
        if e["offset"] <= off < e["offset"] + e["length"]:
            return e["type"] & 1 == 1
    raise AssertionError(("offset not mapped", off))
# Data at [256K, 512K) in the window, holes elsewhere; the data at 3M in
# the file is outside the window and must not show up at 2M-anything.
assert hole(0) and hole(256 * K - 1), m
assert not hole(256 * K) and not hole(512 * K - 1), m
assert hole(512 * K) and hole(2 * M - 1), m
PY
