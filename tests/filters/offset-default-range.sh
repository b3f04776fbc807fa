#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# offset-default-range.sh: without range=, the offset filter serves from
# offset to the end of the disk, and zero/trim are shifted too.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh cmp
set -x

head -c 1048576 /dev/urandom >"$tmp/disk"
cp "$tmp/disk" "$tmp/orig"
start_server -U "$sock" --filter=offset file "$tmp/disk" offset=4096

size=$(nbdinfo --size "$uri")
[ "$size" = $((1048576 - 4096)) ] || { echo "FAIL: size $size"; exit 1; }

nbdsh_u -c 'h.zero(8192, 0)'
# Bytes [4096, 12288) of the file are now zero, the rest untouched.
cmp -n 4096 "$tmp/disk" "$tmp/orig"
head -c 8192 /dev/zero >"$tmp/zeroes"
cmp -n 8192 -i 4096:0 "$tmp/disk" "$tmp/zeroes"
cmp -i 12288 "$tmp/disk" "$tmp/orig"
