#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# seed-vmdk.sh: the seed's scenario with the vmdk plugin.  qemu-img makes
# 1 GiB VMDKs of a DOS disk with one ext4 partition at sector 2048;
# nbdx vmdk -> nbdfuse -> losetup -P -b 512 -> fdisk -l -> mount.  The
# monolithicSparse disk is written (touch, a new file), then qemu-img
# check is clean and qemu reads back a clean ext4 with the new files, the
# partition table unchanged.  The streamOptimized disk mounts read-only.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/guests/mount-lib.sh"
set -x

seed_disk
for f in monolithicSparse streamOptimized; do
    qemu-img convert -f raw -O vmdk -o subformat=$f "$tmp/seed.raw" \
        "$tmp/$f.vmdk"
done
cp "$tmp/monolithicSparse.vmdk" "$tmp/copy.vmdk"

scenario_rw "$tmp/monolithicSparse.vmdk" vmdk file="$tmp/monolithicSparse.vmdk"
fails qemu-img compare -q "$tmp/copy.vmdk" "$tmp/monolithicSparse.vmdk"
scenario_ro vmdk "$tmp/streamOptimized.vmdk"
