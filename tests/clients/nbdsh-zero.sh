#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdsh-zero.sh: write_zeroes (plain, NO_HOLE, FAST_ZERO if offered)
# zeroes exactly the requested range.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh
set -x

start_server -U "$sock" memory 2M
nbdsh_u -c '
assert h.can_zero()
h.pwrite(b"\x11" * 1048576, 0)
h.zero(4096, 8192)
h.zero(3000, 100000, nbd.CMD_FLAG_NO_HOLE)
buf = h.pread(131072, 0)
assert buf[:8192] == b"\x11" * 8192
assert buf[8192:12288] == bytes(4096)
assert buf[12288:100000] == b"\x11" * (100000 - 12288)
assert buf[100000:103000] == bytes(3000)
assert buf[103000:] == b"\x11" * (131072 - 103000)
if h.can_fast_zero():
    try:
        h.zero(65536, 524288, nbd.CMD_FLAG_FAST_ZERO)
        assert h.pread(65536, 524288) == bytes(65536)
    except nbd.Error as e:
        # A fast zero may be refused, but only with ENOTSUP.
        assert e.errno == "ENOTSUP", e
# Zeroing the whole disk in one request.
h.zero(h.get_size(), 0)
assert h.pread(1048576, 0) == bytes(1048576)
'
