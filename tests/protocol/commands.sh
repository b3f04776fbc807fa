#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# WRITE_ZEROES with NO_HOLE and FAST_ZERO, TRIM, FLUSH, CACHE and FUA all
# succeed and have the documented effect on the data.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 1M
nbdsh_u -c '
h.pwrite(b"\xff" * 8192, 0, nbd.CMD_FLAG_FUA)
h.zero(4096, 0, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(8192, 0) == bytearray(4096) + b"\xff" * 4096
h.zero(4096, 4096, nbd.CMD_FLAG_FAST_ZERO)
assert h.pread(8192, 0) == bytearray(8192)
h.pwrite(b"\x01" * 65536, 65536)
h.trim(65536, 65536, nbd.CMD_FLAG_FUA)
h.flush()
h.cache(4096, 0)
h.pwrite(b"end", 1048576 - 3)
assert h.pread(3, 1048576 - 3) == b"end"
'
