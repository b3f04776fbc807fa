#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# base:allocation: holes and data show up in NBD_CMD_BLOCK_STATUS, REQ_ONE
# returns one extent, and writing, trimming and zeroing change the map.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 1M
nbdsh --base-allocation -u "$uri" -c '
assert h.can_meta_context("base:allocation")
h.pwrite(b"d" * 65536, 262144)
def extents(count, offset, flags=0):
    out = []
    def cb(ctx, off, ents, err):
        assert ctx == "base:allocation"
        out.extend(ents)
    h.block_status(count, offset, cb, flags)
    return out
e = extents(1048576, 0)
# Pairs (length, flags): a hole, the data, then a hole to the end.
assert e[0] == 262144 and e[1] == 3, e
assert e[2] == 65536 and e[3] == 0, e
assert sum(e[0::2]) == 1048576, e
one = extents(1048576, 0, nbd.CMD_FLAG_REQ_ONE)
assert len(one) == 2 and one[0] <= 262144 and one[1] == 3, one
h.trim(65536, 262144)
e = extents(1048576, 0)
assert all(f & 2 for f in e[1::2]), e
'
