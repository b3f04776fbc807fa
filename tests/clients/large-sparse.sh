#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# large-sparse.sh: an 8 GiB sparse memory export, with data around the
# 4 GiB boundary and at the very end: nbdinfo --map, qemu-img map and a
# nbdcopy to a second 8 GiB export all agree on where the data is and
# copy it exactly (block status lengths above 32 bits).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh nbdinfo nbdcopy qemu-img python3
set -x

G=$((1024 * 1048576))
size=$((8 * G))
start_server -U "$sock" memory 8G
start_server -U "$tmp/sock2" memory 8G
uri2="nbd+unix:///?socket=$tmp/sock2"
export tmp
nbdsh_u -c '
import os
G = 1 << 30
chunks = {4 * G - 65536: os.urandom(131072),   # straddles 4 GiB
          8 * G - 4096: os.urandom(4096),       # the last block
          123 * 65536: os.urandom(65536)}
for off, buf in chunks.items():
    h.pwrite(buf, off)
with open(os.environ["tmp"] + "/chunks", "w") as f:
    for off, buf in chunks.items():
        f.write("%d %s\n" % (off, buf.hex()))
'

check_map() { # FILE: JSON list with offset/start, length, data-ness
    python3 - "$1" "$size" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
size = int(sys.argv[2])
G = 1 << 30
ext = []
for e in m:
    off = e.get("offset", e.get("start"))
    data = e["data"] if "data" in e else not (e["type"] & 1)
    ext.append((off, e["length"], data))
pos = 0
for off, n, _ in ext:
    assert off == pos, ("gap", pos, off)
    pos += n
assert pos == size, (pos, size)
def data_at(x):
    return next(d for o, n, d in ext if o <= x < o + n)
for x in (4 * G - 65536, 4 * G - 1, 4 * G, 4 * G + 65535, 8 * G - 1, 123 * 65536):
    assert data_at(x), ("no data at", x)
for x in (0, 2 * G, 6 * G):
    assert not data_at(x), ("data at", x)
print("map ok:", len(ext), "extents")
PY
}

nbdinfo --map --json "$uri" >"$tmp/map.json"
check_map "$tmp/map.json"
qemu-img map --output=json -f raw "nbd:unix:$sock" >"$tmp/qmap.json"
check_map "$tmp/qmap.json"

timeout 120 nbdcopy "$uri" "$uri2"
nbdsh -u "$uri2" -c '
import os
for line in open(os.environ["tmp"] + "/chunks"):
    off, hexbuf = line.split()
    buf = bytes.fromhex(hexbuf)
    assert h.pread(len(buf), int(off)) == buf, ("copy differs at", off)
assert h.pread(65536, 6 << 30) == bytes(65536)
'
nbdinfo --map --json "$uri2" >"$tmp/map2.json"
check_map "$tmp/map2.json"
