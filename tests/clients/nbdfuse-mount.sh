#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdfuse-mount.sh: an ext4 filesystem made through nbdfuse + a loop device
# on a file-plugin export survives a server restart: write a file, tear
# everything down, serve the same backing file from a NEW server, mount
# again and read the file back.  Needs root, FUSE and loop devices.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/fuse-loop.sh"
requires mkfs.ext4
set -x

# attach SOCKET: the export on SOCKET as a loop device, in $loop.
attach() {
    fuse_attach "nbd+unix:///?socket=$1" $((64 * 1048576))
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
fuse_teardown
stop_server

# The ext4 superblock magic (0xEF53 at byte 1080) reached the backing file.
expect_eq "ext4 magic in the backing file" "53ef" \
    "$(od -An -tx1 -j1080 -N2 "$tmp/backing" | tr -d ' ')"

start_server -U "$tmp/sock2" file "$tmp/backing"
attach "$tmp/sock2"
mount -o ro "$loop" "$tmp/fs"
same_files "$tmp/payload" "$tmp/fs/payload"
expect_eq "hello.txt" "hello from nbdx" "$(cat "$tmp/fs/dir/hello.txt")"
fuse_teardown
stop_server
