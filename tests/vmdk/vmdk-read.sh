#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vmdk-read.sh: every subformat qemu-img writes reads back byte for byte
# through nbdcopy; holes are holes in nbdinfo --map; a renamed
# monolithicSparse still reads itself; the export is 512-byte aligned.
# Small reads, in runs through a grain and backwards, read compressed
# grains in pieces.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/vmdk/vmdk-lib.sh"
set -x

make_raw "$tmp/raw" 16
for f in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
    twoGbMaxExtentFlat streamOptimized; do
    vmdk_of "$tmp/raw" "$f" "$tmp/$f.vmdk"
    serve -r "$tmp/$f.vmdk"
    [ "$(nbdinfo --size "$uri")" = $((16 << 20)) ]
    nbdcopy "$uri" "$tmp/out"
    cmp "$tmp/raw" "$tmp/out"
    /usr/bin/python3 "$ops" check "$uri" "$tmp/raw" 3 200
    nbdinfo --map "$uri" >"$tmp/map"
    cat "$tmp/map"
    case "$f" in
    *Sparse | streamOptimized)
        # make_raw leaves most grains unwritten.
        grep -q 'hole,zero' "$tmp/map"
        grep -q ' data' "$tmp/map"
        ;;
    esac
    stop_server
done

# VMware's streamOptimized layout: the header says the directory is at
# the end, the footer says where.  qemu-img reads it the same.
/usr/bin/python3 "$ops" stream "$tmp/raw" "$tmp/vmware.vmdk"
qemu-img compare -f vmdk -F raw "$tmp/vmware.vmdk" "$tmp/raw"
serve -r "$tmp/vmware.vmdk"
nbdcopy "$uri" "$tmp/out"
cmp "$tmp/raw" "$tmp/out"
nbdinfo --map "$uri" | grep 'hole,zero'
stop_server

# Many clients at once, reading the compressed disk in parallel.
serve -r "$tmp/streamOptimized.vmdk"
copies=""
for i in 1 2 3 4; do
    nbdcopy "$uri" "$tmp/out.$i" &
    copies="$copies $!"
done
for i in 1 2 3 4; do
    /usr/bin/python3 "$ops" check "$uri" "$tmp/raw" $i 100 &
    copies="$copies $!"
done
for c in $copies; do wait "$c"; done
for i in 1 2 3 4; do cmp "$tmp/raw" "$tmp/out.$i"; done
stop_server

# Copied under another name: the embedded descriptor still names the
# old file, which must not be the one served.
cp "$tmp/monolithicSparse.vmdk" "$tmp/renamed.vmdk"
head -c 1M /dev/urandom | dd of="$tmp/monolithicSparse.vmdk" bs=64k \
    seek=4 conv=notrunc status=none
serve -r "$tmp/renamed.vmdk"
nbdcopy "$uri" "$tmp/out"
cmp "$tmp/raw" "$tmp/out"
nbdinfo "$uri" | grep -E 'block_size_minimum: *512$'
nbdinfo "$uri" | grep -E 'block_size_preferred: *65536$'
stop_server

# file= may be left out; --dump-plugin and --help name the parameters.
"$NBDX" "$vmdk" --dump-plugin | grep '^name=vmdk'
"$NBDX" "$vmdk" --help | grep 'readonly=true'
