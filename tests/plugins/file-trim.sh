#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-trim.sh: trim on the file plugin punches a hole: the file uses
# fewer blocks afterwards, the range reads as zeroes, and its size and
# the data around it are unchanged.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export tmp

head -c 8M /dev/urandom >"$tmp/disk"
cp "$tmp/disk" "$tmp/orig"
sync "$tmp/disk"
before=$(stat -c %b "$tmp/disk")
start_server -U "$sock" file "$tmp/disk"
nbdsh_u -c '
import os
assert h.can_trim()
h.trim(4 << 20, 2 << 20)
h.trim(1000, 7 << 20, nbd.CMD_FLAG_FUA)          # unaligned: zeroes or not
h.flush()
orig = open(os.environ["tmp"] + "/orig", "rb").read()
assert h.pread(4 << 20, 2 << 20) == bytes(4 << 20), "trimmed range"
assert h.pread(2 << 20, 0) == orig[:2 << 20], "data before"
assert h.pread(1 << 20, 6 << 20) == orig[6 << 20:7 << 20], "data after"
'
after=$(stat -c %b "$tmp/disk")
echo "blocks before $before, after $after"
# 4 MiB is 8192 blocks of 512 bytes.
[ $((before - after)) -ge 8000 ]
[ "$(stat -c %s "$tmp/disk")" = 8388608 ]
