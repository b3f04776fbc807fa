#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdfuse-command.sh: nbdfuse --command runs nbdx in -s (stdin/stdout) mode
# and exposes the export as a file: writes through the file read back, the
# size is right, and the server exits when the file system is unmounted.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdfuse fusermount3
[ -c /dev/fuse ] || { echo "SKIP: /dev/fuse is not available"; exit 77; }
[ -r /dev/fuse ] && [ -w /dev/fuse ] ||
    { echo "SKIP: no permission to use /dev/fuse"; exit 77; }
set -x

mkdir "$tmp/mnt"
unmount() {
    for _ in $(seq 50); do
        mountpoint -q "$tmp/mnt" || return 0
        fusermount3 -u "$tmp/mnt" && return 0
        sleep 0.1
    done
}
cleanup_fn unmount

nbdfuse -P "$tmp/fuse.pid" "$tmp/mnt/disk" --command "$NBDX" -s memory 16M &
fuse_pid=$!
for _ in $(seq 100); do
    [ -s "$tmp/fuse.pid" ] && break
    kill -0 "$fuse_pid" || { echo "nbdfuse died" >&2; exit 1; }
    sleep 0.1
done
[ -s "$tmp/fuse.pid" ] || { echo "nbdfuse not ready in 10 s" >&2; exit 1; }

expect_eq "size" $((16 * 1048576)) "$(stat -c %s "$tmp/mnt/disk")"
random_file "$tmp/data" 1024
dd if="$tmp/data" of="$tmp/mnt/disk" bs=64k seek=48 conv=notrunc,fsync status=none
dd if="$tmp/mnt/disk" of="$tmp/back" bs=64k skip=48 count=16 iflag=direct status=none
same_files "$tmp/data" "$tmp/back"
# Bytes before the write are still zero.
expect_eq "zero prefix" 0 "$(head -c 3145728 "$tmp/mnt/disk" | tr -d '\0' | wc -c)"

unmount
# nbdfuse exits, and with it the server it started.
for _ in $(seq 100); do kill -0 "$fuse_pid" 2>/dev/null || break; sleep 0.1; done
fails kill -0 "$fuse_pid" 2>/dev/null
if pgrep -f -x "$NBDX -s memory 16M" >/dev/null; then
    echo "FAIL: nbdx -s still running after unmount" >&2
    exit 1
fi
