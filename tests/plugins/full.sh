#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# full.sh: the full plugin reads zeroes, and every write, trim and zero
# fails with ENOSPC; flush succeeds; block status is all hole and zero.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

start_server -U "$sock" full 1M
nbdsh --base-allocation -u "$uri" -c '
assert h.get_size() == 1 << 20
assert not h.is_read_only()
assert h.pread(4096, 1 << 19) == bytes(4096)

def enospc(f):
    try:
        f()
    except nbd.Error as e:
        assert e.errno == "ENOSPC", e
        return
    assert False, "expected ENOSPC"

enospc(lambda: h.pwrite(b"x" * 512, 0))
enospc(lambda: h.pwrite(b"x", 1000, nbd.CMD_FLAG_FUA))
enospc(lambda: h.trim(4096, 0))
enospc(lambda: h.zero(4096, 0))
h.flush()
ext = []
h.block_status(1 << 20, 0, lambda m, o, e, err: ext.extend(e))
assert ext == [1 << 20, nbd.STATE_HOLE | nbd.STATE_ZERO], ext
'
# size= is required.
if "$NBDX" -f -U "$tmp/sock2" full 2>"$tmp/err"; then exit 1; fi
cat "$tmp/err"
grep -q 'size=' "$tmp/err"
