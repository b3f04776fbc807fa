#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# seed-vddk.sh: the seed's scenario through the vddk plugin and the
# stand-in libvixDiskLib.so.8 (tests/vddk), which opens VMDK files as
# VDDK does: nbdx vddk libdir=STAND-IN file=disk.vmdk -> nbdfuse ->
# losetup -P -b 512 -> fdisk -l -> mount, write, then qemu-img check and
# a clean ext4 as qemu reads it.  streamOptimized mounts read-only.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/guests/mount-lib.sh"
standin="$BUILDDIR/tests/vddk/libvixDiskLib-full.so"
if [ ! -f "$standin" ]; then
    echo "SKIP: the vddk plugin or its stand-in was not built"
    exit 77
fi
set -x
mkdir "$tmp/vddk"
ln -s "$standin" "$tmp/vddk/libvixDiskLib.so.8"

seed_disk
for f in monolithicSparse streamOptimized; do
    qemu-img convert -f raw -O vmdk -o subformat=$f "$tmp/seed.raw" \
        "$tmp/$f.vmdk"
done

scenario_rw "$tmp/monolithicSparse.vmdk" -v vddk libdir="$tmp/vddk" \
    file="$tmp/monolithicSparse.vmdk"
scenario_ro vddk libdir="$tmp/vddk" file="$tmp/streamOptimized.vmdk"
