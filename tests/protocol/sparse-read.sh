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
stop_server

# The plan path (a plugin without zero-copy reads, here sparse-random):
# a map of 4 KiB runs makes hundreds of small data chunks, which the
# transport holds back, between hole chunks.  Every chunk must come
# before the DONE one and cover the read exactly once, and the stream
# must stay in step for the reads pipelined after it.
start_server -U "$sock" sparse-random size=10000005 seed=5 percent=33.3 \
    runlength=4096 random-content=true
nbdsh_u -c '
off, n = 65793, 3486312
chunks = []
def got(sub, o, st, err):
    chunks.append((o, len(sub), st))
    return 0
buf = h.pread_structured(n, off, got)
chunks.sort()
pos = off
for o, ln, st in chunks:
    assert o == pos, ("gap or overlap", pos, o)
    pos += ln
assert pos == off + n, (pos, off + n)
assert sum(st == nbd.READ_HOLE for _, _, st in chunks) > 100, len(chunks)
assert h.pread_structured(n, off, lambda *a: 0, nbd.CMD_FLAG_DF) == buf
simple = nbd.NBD()
simple.set_request_structured_replies(False)
simple.connect_uri(h.get_uri())
assert simple.pread(n, off) == buf
pending = {h.aio_pread(nbd.Buffer(n), off + 4096 * i) for i in range(8)}
while pending:
    h.poll(-1)
    pending = {c for c in pending if not h.aio_command_completed(c)}
assert h.pread(4096, 0) == simple.pread(4096, 0)
'
