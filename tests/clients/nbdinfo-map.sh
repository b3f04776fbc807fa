#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdinfo-map.sh: nbdinfo --map covers the whole export and reports data
# exactly where it was written to a sparse memory disk.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo nbdsh python3
set -x

start_server -U "$sock" memory 4M
# Write 64 KiB of data at 1 MiB; everything else stays unallocated.
nbdsh_u -c 'h.pwrite(b"\x5a" * 65536, 1048576)'
nbdinfo --map --json "$uri" >"$tmp/map.json"
cat "$tmp/map.json"
python3 - "$tmp/map.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
# Extents are contiguous and cover [0, 4M).
pos = 0
for e in m:
    assert e["offset"] == pos, ("gap or overlap at", pos, e)
    assert e["length"] > 0, e
    pos += e["length"]
assert pos == 4 * 1048576, pos
def state(off):
    for e in m:
        if e["offset"] <= off < e["offset"] + e["length"]:
            return e["type"]
# bit 0 = hole, bit 1 = zero (base:allocation)
for off in (1048576, 1048576 + 65535):
    assert state(off) & 1 == 0, ("written data reported as hole", off)
for off in (0, 3 * 1048576):
    assert state(off) & 1 == 1, ("unwritten area not a hole", off)
PY

# The text form agrees: first line starts at 0.
nbdinfo --map "$uri" | tee "$tmp/map.txt"
read -r first _ <"$tmp/map.txt"
expect_eq "first extent offset" 0 "$first"
