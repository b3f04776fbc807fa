#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-features.sh: the memory plugin offers multi-conn, FUA, flush,
# cache and fast zero, and a preferred block size of one page; fast zero
# and cache requests succeed.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

start_server -U "$sock" memory 16M
nbdsh_u -c '
assert h.can_multi_conn()
assert h.can_fua()
assert h.can_flush()
assert h.can_cache()
assert h.can_fast_zero()
assert h.can_zero()
assert h.can_trim()
assert not h.is_read_only()
assert h.get_block_size(nbd.SIZE_MINIMUM) == 1
assert h.get_block_size(nbd.SIZE_PREFERRED) == 32768
assert h.get_block_size(nbd.SIZE_MAXIMUM) >= 32 << 20
h.pwrite(b"\xaa" * 100000, 5)
h.zero(100000, 5, nbd.CMD_FLAG_FAST_ZERO)
h.cache(1 << 20, 0)
assert h.pread(100010, 0) == bytes(100010)
'
