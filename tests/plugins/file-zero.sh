#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-zero.sh: zero on the file plugin, on a file system with
# FALLOC_FL_ZERO_RANGE (ext4, xfs): with or without holes allowed, and as
# a fast zero, the range reads back as zeroes and the rest is untouched.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export tmp

case "$(stat -f -c %T "$tmp")" in
ext2/ext3|xfs) ;;
*) echo "SKIP: $tmp is not ext4 or xfs"; exit 77 ;;
esac
head -c 4M /dev/urandom >"$tmp/disk"
cp "$tmp/disk" "$tmp/orig"
start_server -U "$sock" file "$tmp/disk"
nbdsh_u -c '
import os
ref = bytearray(open(os.environ["tmp"] + "/orig", "rb").read())
def zero(n, off, flags):
    h.zero(n, off, flags)
    ref[off:off + n] = bytes(n)
assert h.can_zero() and h.can_fast_zero()
zero(65536, 0, 0)
zero(100000, 1 << 20, nbd.CMD_FLAG_NO_HOLE)
zero(3000, (2 << 20) + 5, nbd.CMD_FLAG_FAST_ZERO)
zero(4096, 3 << 20, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
zero(512, (4 << 20) - 512, nbd.CMD_FLAG_FUA)
assert h.pread(4 << 20, 0) == ref
'
[ "$(stat -c %s "$tmp/disk")" = 4194304 ]
