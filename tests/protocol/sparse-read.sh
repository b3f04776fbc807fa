#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A large READ over a sparse export (answered with OFFSET_HOLE chunks)
# returns the right bytes to libnbd, with and without DF.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 4M
nbdsh_u -c '
h.pwrite(b"\x55" * 4096, 65536)
h.pwrite(b"\xaa" * 100, 3 * 1048576 + 7)
want = bytearray(4 * 1048576)
want[65536:65536 + 4096] = b"\x55" * 4096
want[3 * 1048576 + 7:3 * 1048576 + 107] = b"\xaa" * 100
assert h.pread(4 * 1048576, 0) == want
chunks = []
buf = h.pread_structured(1048576, 0,
                         lambda sub, off, st, err: chunks.append(st),
                         nbd.CMD_FLAG_DF)
assert buf == want[:1048576]
assert chunks == [nbd.READ_DATA], chunks
assert h.pread(65536 * 2, 32768) == want[32768:32768 + 131072]
'
