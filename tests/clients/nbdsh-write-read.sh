#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdsh-write-read.sh: data written with nbdsh reads back byte for byte,
# at aligned and unaligned offsets, and survives a new connection.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh
set -x

export tmp
start_server -U "$sock" memory 8M
nbdsh_u -c '
import os
size = h.get_size()
assert size == 8 * 1048576, size
global want
want = {}
for off, n in [(0, 512), (4096, 65536), (70001, 777), (size - 513, 513),
               (3 * 1048576 + 1, 1048576)]:
    buf = os.urandom(n)
    h.pwrite(buf, off)
    want[off] = buf
for off, buf in want.items():
    got = h.pread(len(buf), off)
    assert got == buf, ("mismatch at", off)
# A read spanning written and unwritten bytes.
got = h.pread(600, 4096 - 88)
assert got[:88] == bytes(88), "unwritten bytes not zero"
assert got[88:] == want[4096][:512]
with open(os.environ["tmp"] + "/tail", "wb") as f:
    f.write(want[size - 513])
'
# The data belongs to the export, not the connection.
nbdsh_u -c '
import os
want = open(os.environ["tmp"] + "/tail", "rb").read()
assert h.pread(513, h.get_size() - 513) == want
'
# Out-of-bounds I/O fails cleanly and the connection stays usable.
# Strict mode off, so that the server (not libnbd) has to refuse it.
nbdsh_u -c '
h.set_strict_mode(0)
try:
    h.pread(1024, h.get_size() - 512)
    assert False, "read past the end succeeded"
except nbd.Error as e:
    print("expected error:", e)
assert len(h.pread(512, 0)) == 512
'
