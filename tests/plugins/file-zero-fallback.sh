#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-zero-fallback.sh: on tmpfs, which cannot FALLOC_FL_ZERO_RANGE, a
# zero that must not leave a hole is done by writing zeroes, a fast zero
# of that kind fails at once with ENOTSUP, and a zero that may trim
# punches a hole.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] ||
    { echo "SKIP: no tmpfs at /dev/shm"; exit 77; }
shm=$(mktemp -d /dev/shm/nbdx-test.XXXXXX)
rmshm() { rm -rf "$shm"; }
cleanup_fn rmshm
export shm

head -c 4M /dev/urandom >"$shm/disk"
start_server -U "$sock" file "$shm/disk"
nbdsh_u -c '
import os
orig = open(os.environ["shm"] + "/disk", "rb").read()
try:
    h.zero(65536, 0, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
    assert False, "fast zero without ZERO_RANGE succeeded"
except nbd.Error as e:
    assert e.errno == "ENOTSUP", e
assert h.pread(65536, 0) == orig[:65536], "failed fast zero changed data"
h.zero(65536, 0, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(65536, 0) == bytes(65536)
h.zero(2 << 20, 1 << 20, nbd.CMD_FLAG_FAST_ZERO)  # may trim: a hole
assert h.pread(2 << 20, 1 << 20) == bytes(2 << 20)
assert h.pread(1 << 20, 3 << 20) == orig[3 << 20:]
'
blocks=$(stat -c %b "$shm/disk")
echo "blocks: $blocks"
[ "$blocks" -le 4200 ]            # 4 MiB is 8192 blocks; 2 MiB punched
