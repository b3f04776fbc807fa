#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-img-map.sh: qemu-img map (block status with REQ_ONE) reports data
# where it was written and zeroes elsewhere.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires qemu-img qemu-io python3
set -x

start_server -U "$sock" memory 4M
nbd="nbd:unix:$sock"
qemu-io -f raw -c 'write -P 0x33 1M 512k' "$nbd"
qemu-img map --output=json -f raw "$nbd" | tee "$tmp/map.json"
python3 - "$tmp/map.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
pos = 0
for e in m:
    assert e["start"] == pos, ("gap at", pos, e)
    pos += e["length"]
assert pos == 4 * 1048576, pos
def at(off):
    return next(e for e in m if e["start"] <= off < e["start"] + e["length"])
for off in (1048576, 1048576 + 524287):
    assert at(off)["data"] and not at(off)["zero"], at(off)
for off in (0, 2 * 1048576, 4 * 1048576 - 1):
    assert at(off)["zero"], at(off)
PY
