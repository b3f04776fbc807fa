#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-extents.sh: block status of a sparse file, found with SEEK_DATA and
# SEEK_HOLE, shows its holes and data where they are (nbdinfo --map).
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

truncate -s 16M "$tmp/disk"
head -c 1M /dev/urandom | dd of="$tmp/disk" bs=1M seek=4 conv=notrunc
head -c 64K /dev/urandom | dd of="$tmp/disk" bs=64K seek=160 conv=notrunc
sync "$tmp/disk"
# Skip where the file system does not keep the file sparse.
[ "$(stat -c %b "$tmp/disk")" -lt 4096 ] ||
    { echo "SKIP: $tmp does not support sparse files"; exit 77; }

start_server -U "$sock" file "$tmp/disk"
nbdinfo --map "$uri" | awk '{print $1, $2, $3}' >"$tmp/map"
cat "$tmp/map"
cat >"$tmp/expected" <<'MAP'
0 4194304 3
4194304 1048576 0
5242880 5242880 3
10485760 65536 0
10551296 6225920 3
MAP
diff -u "$tmp/expected" "$tmp/map"
