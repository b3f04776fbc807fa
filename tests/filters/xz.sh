#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# xz.sh: a 4 MiB image (random and compressible parts) compressed with
# 1 MiB blocks, served by the file plugin under the xz filter: nbdcopy
# gives back the image, random-offset reads match it with a cache of one
# block or eight, a file of several streams with padding reads whole, as
# with nbdkit's filter; the connection is read-only; a file that is not
# xz, a damaged index, a block over xz-max-block are refused when the
# client connects, a damaged block fails its read; bad parameters are
# refused by name.  Stacked under the offset filter.  Blocks decode only
# as far as reads need and on from there; many parallel requests over
# two cache slots read the image; a damaged block check fails the read
# of the block's end.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires xz nbdcopy
[ -f "$BUILDDIR/filters/xz/nbdkit-xz-filter.so" ] ||
    { echo "SKIP: the xz filter was not built (no liblzma)"; exit 77; }
set -x
fileso="${memory%/*}/nbdkit-file-plugin.so"

{ head -c $((2 << 20)) /dev/urandom; yes 'nbdx xz test line' |
    head -c $((2 << 20)); } >"$tmp/disk"
xz -k -c --block-size=1MiB "$tmp/disk" >"$tmp/disk.xz"
[ "$(xz --robot --list "$tmp/disk.xz" | awk '$1 == "totals" {print $3}')" = 4 ]

start_server -U "$sock" --filter=xz file "$tmp/disk.xz"
reads_match "$tmp/disk"
read_only
nbdsh_u -c '
disk = open("'"$tmp/disk"'", "rb").read()
assert h.pread(1, len(disk) - 1) == disk[-1:]
h.cache(len(disk), 0)
assert h.pread(3 << 20, 1 << 20) == disk[1 << 20:]
'
stop_server

# One cached block: reads that straddle blocks still match.
start_server -U "$sock" --filter=xz file "$tmp/disk.xz" xz-max-depth=1
nbdsh_u -c '
disk = open("'"$tmp/disk"'", "rb").read()
M = 1 << 20
for off in (M - 10, 3 * M - 5, 10, 2 * M + 7, M - 10):
    assert h.pread(M + 20 if off + M + 20 <= len(disk) else 5, off) == \
        disk[off:off + (M + 20 if off + M + 20 <= len(disk) else 5)]
'
stop_server
same_as_nbdkit -r --filter=xz "$fileso" file="$tmp/disk.xz"

# Two streams, the second with stream padding, and one empty stream.
head -c 300000 /dev/urandom >"$tmp/part2"
xz -c --block-size=64KiB "$tmp/part2" >"$tmp/multi.xz"
xz -c </dev/null >>"$tmp/multi.xz"
cat "$tmp/disk.xz" >>"$tmp/multi.xz"
head -c 8 /dev/zero >>"$tmp/multi.xz"
start_server -U "$sock" --filter=xz file "$tmp/multi.xz"
nbdcopy "$uri" "$tmp/out"
stop_server
cmp "$tmp/out" <(cat "$tmp/part2" "$tmp/disk")

# Stacked: the offset filter cuts 1 MiB out of the middle.
start_server -U "$sock" --filter=offset --filter=xz file "$tmp/disk.xz" \
    offset=1536K range=1M
nbdcopy "$uri" "$tmp/out"
stop_server
cmp "$tmp/out" <(dd if="$tmp/disk" bs=512K skip=3 count=2 status=none)

# refused FILE MESSAGE [PARAMS]: the client cannot connect; the log says why.
refused() {
    start_server -U "$sock" --filter=xz file "$1" "${@:3}"
    fails nbdinfo "$uri"
    stop_server
    grep -F "$2" "$tmp/server.log"
}
refused "$tmp/disk" "xz: not an xz file"
: >"$tmp/empty"
refused "$tmp/empty" "xz: not an xz file"
refused "$tmp/disk.xz" "largest block is bigger than maxblock" xz-max-block=512K
# A damaged index (its last bytes, before the 12-byte footer).
size=$(stat -c %s "$tmp/disk.xz")
cp "$tmp/disk.xz" "$tmp/badindex.xz"
printf '\377\377\377\377' |
    dd of="$tmp/badindex.xz" bs=1 seek=$((size - 16)) conv=notrunc status=none
refused "$tmp/badindex.xz" "xz: corrupt index"
# A damaged footer magic.
cp "$tmp/disk.xz" "$tmp/badfooter.xz"
printf 'XX' | dd of="$tmp/badfooter.xz" bs=1 seek=$((size - 2)) \
    conv=notrunc status=none
refused "$tmp/badfooter.xz" "xz: not an xz file"
# A damaged stream header.
cp "$tmp/disk.xz" "$tmp/badheader.xz"
printf '\1' | dd of="$tmp/badheader.xz" bs=1 seek=7 conv=notrunc status=none
refused "$tmp/badheader.xz" "bad stream header"

# Damaged data in the compressible part (block 4): only its reads fail.
cp "$tmp/disk.xz" "$tmp/baddata.xz"
off=$(xz --robot -vv --list "$tmp/disk.xz" |
    awk '$1 == "block" && $3 == 4 {print $5 + 100}')
printf 'garbage!' | dd of="$tmp/baddata.xz" bs=1 seek="$off" conv=notrunc \
    status=none
start_server -U "$sock" --filter=xz file "$tmp/baddata.xz"
nbdsh_u -c '
disk = open("'"$tmp/disk"'", "rb").read()
assert h.pread(4096, 0) == disk[:4096]
try:
    h.pread(4096, 3 << 20)
    raise SystemExit("a read of a damaged block succeeded")
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
'
stop_server
grep -F "xz: corrupt block 4" "$tmp/server.log"

# A block is decoded only as far as reads need, then on from there: in
# one slot, reads forward, backward and across blocks all match.
start_server -U "$sock" --filter=xz file "$tmp/disk.xz" xz-max-depth=1
nbdsh_u -c '
disk = open("'"$tmp/disk"'", "rb").read()
M = 1 << 20
for off in (M + 100, 2 * M - 4096, M + 8192, 3 * M + 5, M + 3, 2 * M - 1):
    n = min(4096, len(disk) - off)
    assert h.pread(n, off) == disk[off:off + n], off
'
stop_server

# Many requests in parallel over few slots, on several connections.
start_server -U "$sock" --filter=xz file "$tmp/disk.xz" xz-max-depth=2
nbdcopy --connections=4 --requests=16 --request-size=65536 "$uri"     "$tmp/out"
cmp "$tmp/out" "$tmp/disk"
stop_server

# A damaged check (the CRC64 at the end of block 2): the block's start
# decodes, but a read of its end fails, and so does reading it all.
cp "$tmp/disk.xz" "$tmp/badcheck.xz"
off=$(xz --robot -vv --list "$tmp/disk.xz" |
    awk '$1 == "block" && $4 == 2 {print $5 + $7 - 8}')
printf '\377\377\377\377' |
    dd of="$tmp/badcheck.xz" bs=1 seek="$off" conv=notrunc status=none
start_server -U "$sock" --filter=xz file "$tmp/badcheck.xz"
nbdsh_u -c '
disk = open("'"$tmp/disk"'", "rb").read()
M = 1 << 20
assert h.pread(4096, M) == disk[M:M + 4096]
try:
    h.pread(4096, 2 * M - 4096)
    raise SystemExit("a read of a block with a bad check succeeded")
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
assert h.pread(4096, 0) == disk[:4096]
'
stop_server
grep -F "xz: corrupt block 2" "$tmp/server.log"

for bad in xz-max-depth=0 xz-max-depth=x xz-max-block=1 xz-max-block=x; do
    "$NBDX" -U - --filter=xz "$memory" size=1M $bad --run true \
        2>"$tmp/err" && exit 1
    grep -F "${bad%%=*}" "$tmp/err"
done
