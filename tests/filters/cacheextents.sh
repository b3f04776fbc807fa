#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cacheextents.sh: block status through the cacheextents filter is the
# plugin's, but the log filter below sees one Extents call where the
# client made many inside the first answer (qemu-img map and nbdsh with
# one extent per request); a write, zero or trim, from this or another
# connection, sends the next request to the plugin again and the
# answer shows the change; the export matches nbdkit's filter.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires qemu-img python3
set -x
same_as_nbdkit --filter=cacheextents "$memory" size=1M

log="$tmp/log"
extents_calls() { grep -c ' Extents id=' "$log" || true; }

# A sparse file: data at 64K..128K and 512K..576K, the rest holes.
truncate -s 1M "$tmp/disk"
python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(65536); f.write(b"d" * 65536)
    f.seek(524288); f.write(b"e" * 65536)
' "$tmp/disk"
cp "$tmp/disk" "$tmp/disk.orig"
start_server -U "$sock" --filter=cacheextents --filter=log file "$tmp/disk" \
    logfile="$log"

# One extent per request across the disk: a single call below.
nbdsh --base-allocation -u "$uri" -c '
def kinds():
    out, at = [], 0
    while at < h.get_size():
        ext = []
        h.block_status(h.get_size() - at, at,
                       lambda m, o, e, err: ext.extend(e),
                       nbd.CMD_FLAG_REQ_ONE)
        assert len(ext) == 2, ext
        out.append((at, ext[0], ext[1] & 1))
        at += ext[0]
    return out
assert kinds() == [(0, 65536, 1), (65536, 65536, 0), (131072, 393216, 1),
                   (524288, 65536, 0), (589824, 458752, 1)], kinds()
'
[ "$(extents_calls)" = 1 ]

# qemu-img map walks the disk: its map is the plugin's, from the cache.
qemu-img map --output=json "$uri" >"$tmp/map"
[ "$(extents_calls)" = 1 ]

# A write drops the cache: the hole it fills shows as data at once.
nbdsh --base-allocation -u "$uri" -c '
def first(off):
    ext = []
    h.block_status(4096, off, lambda m, o, e, err: ext.extend(e))
    return ext[1] & 1
assert first(0) == 1
h.pwrite(b"w" * 4096, 0)
assert first(0) == 0
assert first(4096) == 1
'
[ "$(extents_calls)" = 3 ]
n=$(extents_calls)

# The cache is shared: a trim and zero on another connection drop it.
nbdsh --base-allocation -u "$uri" -c '
ext = []
h.block_status(1 << 20, 0, lambda m, o, e, err: ext.extend(e))
h.block_status(4096, 70000, lambda m, o, e, err: 0)
'
[ "$(extents_calls)" = $((n + 1)) ]
nbdsh -u "$uri" -c 'h.trim(65536, 65536); h.zero(65536, 524288)'
nbdsh --base-allocation -u "$uri" -c '
ext = []
h.block_status(1 << 20, 0, lambda m, o, e, err: ext.extend(e))
assert ext[0:2] == [4096, 0] and ext[3] & 1, ext
'
[ "$(extents_calls)" = $((n + 2)) ]

stop_server
start_server -U "$sock" file "$tmp/disk.orig"
qemu-img map --output=json "$uri" >"$tmp/map.plain"
stop_server
cat "$tmp/map.plain"
grep -q '"start": 524288, "length": 65536,.*"data": true' "$tmp/map.plain"
cmp "$tmp/map" "$tmp/map.plain"
