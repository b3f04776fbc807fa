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

start_server -U "$sock" vmdk file="$tmp/monolithicSparse.vmdk"
nbdinfo "$uri" | grep -E 'block_size_minimum: *512$'
attach
check_files rw
teardown
stop_server
qemu-img check "$tmp/monolithicSparse.vmdk"
changed_only_inside "$tmp/seed.raw" "$tmp/monolithicSparse.vmdk"
fails qemu-img compare -q "$tmp/copy.vmdk" "$tmp/monolithicSparse.vmdk"

start_server -r -U "$sock" vmdk "$tmp/streamOptimized.vmdk"
attach -r
check_files
teardown
stop_server
