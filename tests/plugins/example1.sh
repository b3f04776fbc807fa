#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# example1.sh: the example1 plugin serves a read-only 100 MiB disk whose
# first sector is an MBR with one Linux partition at sector 128 and whose
# other bytes are zero; the bytes and the flags nbdinfo shows are those
# of nbdkit's example1 plugin when it is installed (nbdx's server also
# sends block size limits, which nbdkit 1.32 does not: not compared).
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh nbdcopy
set -x

start_server -U "$sock" example1
nbdsh_u -c '
assert h.get_size() == 104857600
assert h.is_read_only()
assert not h.can_multi_conn()
mbr = h.pread(512, 0)
assert mbr[0x1fe:] == b"\x55\xaa"
assert mbr[0x1b8:0x1bc] == b"\xe1\x5b\x02\x00"
part = mbr[0x1be:0x1ce]
assert part[4] == 0x83, part
assert int.from_bytes(part[8:12], "little") == 128
assert int.from_bytes(part[12:16], "little") == 204545
assert mbr[0x4b:0x1b8] == bytes(0x1b8 - 0x4b)
# Reads straddling the end of the MBR, far inside and at the very end.
assert h.pread(8, 0x1fc) == b"\x00\x00\x55\xaa" + bytes(4)
assert h.pread(65536, 50 << 20) == bytes(65536)
assert h.pread(1, 104857599) == b"\x00"
try:
    h.pwrite(b"x", 0)
    assert False, "write succeeded"
except nbd.Error:
    pass
'
nbdcopy "$uri" "$tmp/ours"
nbdinfo "$uri" | grep -Ev 'uri:|block_size_' >"$tmp/ours.info"
grep -q 'DOS/MBR boot sector; partition 1 : ID=0x83' "$tmp/ours.info"
stop_server

# The same bytes and flags as nbdkit's example1.
if nbdkit example1 --dump-plugin >/dev/null 2>&1; then
    NBDX=nbdkit start_server -U "$sock" example1
    nbdcopy "$uri" "$tmp/theirs"
    nbdinfo "$uri" | grep -Ev 'uri:|block_size_' >"$tmp/theirs.info"
    stop_server
    cmp "$tmp/ours" "$tmp/theirs"
    diff -u "$tmp/theirs.info" "$tmp/ours.info"
else
    echo "nbdkit's example1 plugin is not installed: not compared"
fi
