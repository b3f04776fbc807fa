#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdfuse-mount.sh: an ext4 filesystem made through nbdfuse + a loop device
# on a file-plugin export survives a server restart: write a file, tear
# everything down, serve the same backing file from a NEW server, mount
# again and read the file back.  Needs root, FUSE and loop devices.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdfuse fusermount3 losetup mkfs.ext4 mount umount
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (mount, losetup)"; exit 77; fi
[ -c /dev/fuse ] || { echo "SKIP: /dev/fuse is not available"; exit 77; }
[ -c /dev/loop-control ] ||
    { echo "SKIP: /dev/loop-control is not available"; exit 77; }
set -x

loop=""
fuse_pid=""
mkdir "$tmp/mnt" "$tmp/fs"

# Undo whatever is still set up, innermost first.
teardown() {
    if mountpoint -q "$tmp/fs"; then umount "$tmp/fs"; fi
    if [ -n "$loop" ]; then losetup -d "$loop"; loop=""; fi
    # The loop device may let go of the FUSE file a moment after -d.
    for _ in $(seq 50); do
        mountpoint -q "$tmp/mnt" || break
        fusermount3 -u "$tmp/mnt" && break
        sleep 0.1
    done
    if [ -n "$fuse_pid" ]; then
        for _ in $(seq 100); do
            kill -0 "$fuse_pid" 2>/dev/null || break
            sleep 0.1
        done
        fuse_pid=""
    fi
}
cleanup_fn teardown

# attach SOCKET: nbdfuse the export at $tmp/mnt/disk, then a loop device.
attach() {
    rm -f "$tmp/fuse.pid"
    nbdfuse -P "$tmp/fuse.pid" "$tmp/mnt/disk" "nbd+unix:///?socket=$1" &
    fuse_pid=$!
    for _ in $(seq 100); do
        [ -s "$tmp/fuse.pid" ] && break
        kill -0 "$fuse_pid" || { echo "nbdfuse died" >&2; exit 1; }
        sleep 0.1
    done
    [ -s "$tmp/fuse.pid" ] || { echo "nbdfuse not ready in 10 s" >&2; exit 1; }
    expect_eq "size of the FUSE file" $((64 * 1048576)) \
        "$(stat -c %s "$tmp/mnt/disk")"
    loop=$(losetup -f --show "$tmp/mnt/disk")
}

truncate -s 64M "$tmp/backing"
head -c 200000 /dev/urandom >"$tmp/payload"

start_server -U "$tmp/sock1" file "$tmp/backing"
attach "$tmp/sock1"
mkfs.ext4 -q -F "$loop"
mount "$loop" "$tmp/fs"
cp "$tmp/payload" "$tmp/fs/payload"
mkdir "$tmp/fs/dir"
echo "hello from nbdx" >"$tmp/fs/dir/hello.txt"
sync
teardown
stop_server

# The ext4 superblock magic (0xEF53 at byte 1080) reached the backing file.
expect_eq "ext4 magic in the backing file" "53ef" \
    "$(od -An -tx1 -j1080 -N2 "$tmp/backing" | tr -d ' ')"

start_server -U "$tmp/sock2" file "$tmp/backing"
attach "$tmp/sock2"
mount -o ro "$loop" "$tmp/fs"
same_files "$tmp/payload" "$tmp/fs/payload"
expect_eq "hello.txt" "hello from nbdx" "$(cat "$tmp/fs/dir/hello.txt")"
teardown
stop_server
