#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# offset-window.sh: --filter=offset offset=1M range=2M exposes exactly the
# bytes [1M, 3M) of the file: the size is 2M, reads return the file's bytes
# from +1M, and writes land at +1M without touching anything outside.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh cmp dd
set -x

M=1048576
head -c $((4 * M)) /dev/urandom >"$tmp/disk"
cp "$tmp/disk" "$tmp/orig"
start_server -U "$sock" --filter=offset file "$tmp/disk" offset=1M range=2M

size=$(nbdinfo --size "$uri")
[ "$size" = $((2 * M)) ] || { echo "FAIL: size $size, expected $((2 * M))"; exit 1; }

# Reads come from +1M.
nbdsh_u -c "open('$tmp/read', 'wb').write(h.pread(2 * $M, 0))"
dd if="$tmp/orig" of="$tmp/expect" bs=$M skip=1 count=2 status=none
cmp "$tmp/read" "$tmp/expect"

# Writes at the first and last bytes of the window, and one in the middle.
nbdsh_u -c "
h.pwrite(b'A' * 512, 0)
h.pwrite(b'B' * 4096, 65536)
h.pwrite(b'C' * 512, 2 * $M - 512)
h.flush()
"
dd if="$tmp/disk" bs=512 skip=$((M / 512)) count=1 status=none >"$tmp/got"
head -c 512 /dev/zero | tr '\0' A >"$tmp/want"
cmp "$tmp/got" "$tmp/want"
dd if="$tmp/disk" bs=4096 skip=$(((M + 65536) / 4096)) count=1 status=none >"$tmp/got"
head -c 4096 /dev/zero | tr '\0' B >"$tmp/want"
cmp "$tmp/got" "$tmp/want"
dd if="$tmp/disk" bs=512 skip=$((3 * M / 512 - 1)) count=1 status=none >"$tmp/got"
head -c 512 /dev/zero | tr '\0' C >"$tmp/want"
cmp "$tmp/got" "$tmp/want"

# Nothing outside the window changed.
cmp -n $M "$tmp/disk" "$tmp/orig"
cmp -i $((3 * M)) "$tmp/disk" "$tmp/orig"

# A request past the window is refused by the server, not passed down.
fails nbdsh_u -c "h.pread(512, 2 * $M)"
cmp -i $((3 * M)) "$tmp/disk" "$tmp/orig"
