#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# null.sh: the null plugin has the size asked for (default 0), reads
# zeroes, accepts and forgets writes, trims and zeroes, and reports the
# whole disk as a hole reading as zero.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdinfo
set -x

start_server -U "$sock" null 1E
nbdsh --base-allocation -u "$uri" -c '
size = h.get_size()
assert size == 1 << 60, size
h.pwrite(b"\xff" * 65536, 12345)
h.pwrite(b"x", size - 1, nbd.CMD_FLAG_FUA)
assert h.pread(65536, 12345) == bytes(65536), "a write stuck"
assert h.pread(1, size - 1) == b"\0"
h.trim(1 << 20, 0)
h.zero(1 << 20, 0, nbd.CMD_FLAG_FAST_ZERO)
h.flush()
h.cache(4096, 0)
assert h.can_multi_conn() and h.can_fua() and h.can_fast_zero()
ext = []
h.block_status(1 << 30, 1 << 40, lambda m, o, e, err: ext.extend(e))
assert ext[1] == nbd.STATE_HOLE | nbd.STATE_ZERO, ext
assert ext[0] >= 1 << 30, ext
'
start_server -U "$tmp/sock2" null
[ "$(nbdinfo --size "nbd+unix:///?socket=$tmp/sock2")" = 0 ]
