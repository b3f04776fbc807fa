#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vmdk-write.sh: random writes from libnbd, from one and from four
# connections at once, land in monolithicSparse (new grains, in both
# grain tables), twoGbMaxExtentSparse and the flat subformats: qemu-img
# check is clean and qemu-img compare matches the same writes made to a
# raw copy.  streamOptimized and readonly=true serve read-only.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/vmdk/vmdk-lib.sh"
set -x

make_raw "$tmp/base" 16
seed=1
for f in monolithicSparse twoGbMaxExtentSparse monolithicFlat \
    twoGbMaxExtentFlat; do
    for threads in 1 4; do
        seed=$((seed + 1))
        cp "$tmp/base" "$tmp/raw"
        vmdk_of "$tmp/raw" "$f" "$tmp/$f.vmdk"
        serve "$tmp/$f.vmdk"
        nbdinfo "$uri" | grep 'is_read_only: false'
        /usr/bin/python3 "$ops" write "$uri" "$tmp/raw" $seed 200 $threads
        stop_server
        qemu-img check "$tmp/$f.vmdk"
        qemu-img compare -f vmdk -F raw "$tmp/$f.vmdk" "$tmp/raw"
        # And through the plugin again, after a restart.
        serve -r "$tmp/$f.vmdk"
        nbdcopy "$uri" "$tmp/out"
        cmp "$tmp/raw" "$tmp/out"
        stop_server
    done
done

# A sparse file grows by whole grains, and holes stay holes.
cp "$tmp/base" "$tmp/raw"
vmdk_of "$tmp/raw" monolithicSparse "$tmp/s.vmdk"
before=$(stat -c %s "$tmp/s.vmdk")
serve "$tmp/s.vmdk"
nbdsh_u -c 'h.pwrite(b"x" * 512, 15 * 1024 * 1024 + 4096)' -c 'h.flush()'
nbdinfo --map "$uri" >"$tmp/map"
stop_server
after=$(stat -c %s "$tmp/s.vmdk")
[ $((after - before)) -le $((65536 + 2 * 2048)) ]
[ $((after - before)) -ge 65536 ]
grep 'hole,zero' "$tmp/map"
qemu-img check "$tmp/s.vmdk"
printf x%.0s $(seq 512) | dd of="$tmp/raw" bs=512 seek=$(((15 * 1024 * 1024 + 4096) / 512)) conv=notrunc status=none
qemu-img compare -f vmdk -F raw "$tmp/s.vmdk" "$tmp/raw"

# FUA writes are durable writes: the call succeeds.
serve "$tmp/s.vmdk"
nbdsh_u -c 'h.pwrite(b"y" * 4096, 0, nbd.CMD_FLAG_FUA)' \
    -c 'assert h.pread(4096, 0) == b"y" * 4096'
stop_server

# Read-only: streamOptimized always, any disk with readonly=true, or a
# file the server cannot write.  A write then fails with EPERM.
vmdk_of "$tmp/base" streamOptimized "$tmp/so.vmdk"
cp "$tmp/so.vmdk" "$tmp/so.copy"
for args in "$tmp/so.vmdk" "$tmp/s.vmdk readonly=true"; do
    serve $args
    nbdinfo "$uri" | grep 'is_read_only: true'
    nbdsh_u -c '
try:
    h.pwrite(b"z" * 512, 0)
    raise SystemExit("the write succeeded")
except nbd.Error as e:
    assert e.errno == "EPERM", e.errno
'
    stop_server
done
cmp "$tmp/so.vmdk" "$tmp/so.copy"
