#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# guestfish.sh: libguestfs as the consumer.  One appliance (TCG: KVM
# hangs in nested VMs) opens two nbdx exports of the same ext4-in-DOS
# disk made by qemu-img, a monolithicSparse and a streamOptimized VMDK,
# both through the vmdk plugin; list-filesystems sees both partitions
# and cat and checksum read files back from each.
. "$SRCDIR/tests/lib.sh"
requires guestfish qemu-img sfdisk mke2fs
if ! ls /boot/vmlinuz-* >/dev/null 2>&1; then
    echo "SKIP: no kernel for the libguestfs appliance (linux-image-amd64)"
    exit 77
fi
set -x
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
export LIBGUESTFS_CACHEDIR="$tmp/cache"
mkdir "$tmp/cache" "$tmp/files"

echo "hello from nbdx $RANDOM" >"$tmp/files/hello.txt"
head -c 200000 /dev/urandom | base64 >"$tmp/files/big.txt"
bash "$SRCDIR/tests/guests/mkdisk.sh" "$tmp/disk.raw" $((64 << 20)) "$tmp/files"
for f in monolithicSparse streamOptimized; do
    qemu-img convert -f raw -O vmdk -o subformat=$f \
        "$tmp/disk.raw" "$tmp/$f.vmdk"
done

start_server -r -U "$tmp/sparse.sock" vmdk file="$tmp/monolithicSparse.vmdk"
start_server -r -U "$tmp/stream.sock" vmdk "$tmp/streamOptimized.vmdk"

# --format=raw is needed: libguestfs 1.48 probes the format of an nbd://
# drive by running qemu-img info on it as a local file name, and fails.
guestfish --ro --format=raw -a "nbd://?socket=$tmp/sparse.sock" \
    -a "nbd://?socket=$tmp/stream.sock" >"$tmp/out" <<GF
run
list-filesystems
mount /dev/sda1 /
cat /hello.txt
checksum sha256 /big.txt
umount /
mount /dev/sdb1 /
cat /hello.txt
checksum sha256 /big.txt
GF
cat "$tmp/out"
want_sum=$(sha256sum <"$tmp/files/big.txt" | cut -d' ' -f1)
# guestfish's cat ends what it prints with a newline of its own.
diff -u - "$tmp/out" <<OUT
/dev/sda1: ext4
/dev/sdb1: ext4
$(cat "$tmp/files/hello.txt")

$want_sum
$(cat "$tmp/files/hello.txt")

$want_sum
OUT
