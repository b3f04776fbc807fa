# SPDX-License-Identifier: BSD-3-Clause
# mount-lib.sh: the seed's scenario, sourced by the tests that run it
# after tests/lib.sh.  An export on $sock goes through nbdfuse to a loop
# device with partitions (losetup -P -b 512); fdisk sees the partition,
# mount reads and (if writable) writes its files.
. "$SRCDIR/tests/helpers/fuse-loop.sh"
requires fdisk qemu-img sfdisk mke2fs e2fsck debugfs nbdinfo

# seed_disk: $tmp/seed.raw, 1 GiB, a DOS partition table with one ext4
# partition from sector 2048 holding $tmp/files (hello.txt, big.bin).
seed_disk() {
    mkdir -p "$tmp/files/dir"
    echo "hello from nbdx $RANDOM" >"$tmp/files/hello.txt"
    head -c 3000000 /dev/urandom >"$tmp/files/dir/big.bin"
    bash "$SRCDIR/tests/guests/mkdisk.sh" "$tmp/seed.raw" $((1 << 30)) \
        "$tmp/files"
}

# attach [-r]: the export on $sock as a loop device of 512-byte sectors
# with its partitions scanned, in $loop, and its partition 1.
attach() {
    fuse_attach "$uri" $((1 << 30)) "$@" -P -b 512
    part_node "$loop" 1
}

# part_node DEV N: wait for partition N of DEV.  In a container the
# kernel's scan may not run and no udev makes the node: add the
# partitions with partx (BLKPG) and make the node from sysfs.
part_node() {
    local dev=$1 n=$2 sys
    sys="/sys/class/block/$(basename "$dev")p$n"
    for _ in $(seq 20); do [ -b "${dev}p$n" ] && return 0; sleep 0.1; done
    [ -e "$sys" ] || partx -a "$dev"
    for _ in $(seq 20); do [ -e "$sys/dev" ] && break; sleep 0.1; done
    [ -b "${dev}p$n" ] ||
        mknod "${dev}p$n" b $(tr : ' ' <"$sys/dev")
    [ -b "${dev}p$n" ] || { echo "no ${dev}p$n" >&2; return 1; }
}

# check_files [rw]: fdisk lists the partition at sector 2048; mount it,
# compare the files, and with rw touch new.txt; unmount.
check_files() {
    fdisk -l "$loop" | tee "$tmp/fdisk"
    grep -E "^${loop}p1 +2048 +2097151 +2095104 .* 83 Linux$" "$tmp/fdisk"
    if [ "${1:-}" = rw ]; then
        mount "${loop}p1" "$tmp/fs"
    else
        mount -o ro,noload "${loop}p1" "$tmp/fs"
    fi
    ls -lR "$tmp/fs"
    cmp "$tmp/files/hello.txt" "$tmp/fs/hello.txt"
    cmp "$tmp/files/dir/big.bin" "$tmp/fs/dir/big.bin"
    if [ "${1:-}" = rw ]; then
        touch "$tmp/fs/new.txt"
        echo "written through nbdx" >"$tmp/fs/dir/written.txt"
    fi
    umount "$tmp/fs"
}

# changed_only_inside RAW_BEFORE IMAGE: IMAGE (any format qemu reads)
# holds a clean ext4 with the new files, its partition table is the one
# of RAW_BEFORE, and every byte that differs lies inside the partition.
changed_only_inside() {
    local before=$1 image=$2 l
    qemu-img convert -O raw "$image" "$tmp/after.raw"
    cmp -n $((2048 * 512)) "$before" "$tmp/after.raw"
    fails qemu-img compare -q -f raw -F raw "$before" "$tmp/after.raw"
    l=$(losetup -f --show -r -o $((2048 * 512)) "$tmp/after.raw")
    e2fsck -fn "$l" && rc=0 || rc=$?
    debugfs -R 'cat /dir/written.txt' "$l" >"$tmp/written" 2>/dev/null || true
    debugfs -R 'stat /new.txt' "$l" >"$tmp/new" 2>/dev/null || true
    losetup -d "$l"
    [ "$rc" = 0 ]
    [ "$(cat "$tmp/written")" = "written through nbdx" ]
    grep -q 'Size: 0' "$tmp/new"
    rm -f "$tmp/after.raw"
}

# scenario_rw IMAGE NBDX-ARGS...: serve IMAGE with NBDX-ARGS, mount it
# through nbdfuse and a loop device, write, unmount; then qemu-img check
# is clean and qemu reads back what was written (changed_only_inside).
scenario_rw() {
    local image=$1
    shift
    start_server -U "$sock" "$@"
    nbdinfo "$uri" | grep -E 'block_size_minimum: *512$'
    attach
    check_files rw
    fuse_teardown
    stop_server
    qemu-img check "$image"
    changed_only_inside "$tmp/seed.raw" "$image"
}

# scenario_ro NBDX-ARGS...: the same read-only, mounted ro.
scenario_ro() {
    start_server -r -U "$sock" "$@"
    attach -r
    check_files
    fuse_teardown
    stop_server
}
