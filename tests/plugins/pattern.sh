#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# pattern.sh: every 8-byte word of the pattern plugin holds its own offset
# big-endian, for reads at any alignment, up to a size that is not a
# multiple of 8; the export is read-only.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

start_server -U "$sock" pattern size=1000003
nbdsh_u -c '
import struct
size = h.get_size()
assert size == 1000003, size
assert h.is_read_only()
expect = b"".join(struct.pack(">Q", i) for i in range(0, size + 8, 8))[:size]
assert h.pread(size, 0) == expect, "whole-disk read"
for off, n in [(1, 1), (3, 13), (7, 9), (8, 8), (999990, 13), (4095, 4099),
               (size - 1, 1), (size - 3, 3)]:
    assert h.pread(n, off) == expect[off:off + n], (off, n)
try:
    h.pwrite(b"x", 0)
    assert False, "write to the pattern succeeded"
except nbd.Error:
    pass
'
# A large size costs nothing; check a word near the end.
start_server -U "$tmp/sock2" pattern 1P
nbdsh -u "nbd+unix:///?socket=$tmp/sock2" -c '
import struct
off = (1 << 50) - 16
assert h.pread(16, off) == struct.pack(">QQ", off, off + 8)
'
# size= is required.
if "$NBDX" -f -U "$tmp/sock3" pattern 2>"$tmp/err"; then exit 1; fi
cat "$tmp/err"
grep -q 'size=' "$tmp/err"
