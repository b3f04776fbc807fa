#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-roundtrip.sh: data written to the memory plugin reads back,
# at any alignment and across page boundaries, and zero and trim clear
# exactly the bytes asked for; a second connection sees the same disk.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export uri tmp

start_server -U "$sock" memory 64M
nbdsh_u -c '
import os
page = 32768
ref = bytearray(4 << 20)

def write(buf, off):
    h.pwrite(buf, off)
    ref[off:off + len(buf)] = buf

def clear(n, off, how):
    how(n, off)
    ref[off:off + n] = bytes(n)

write(os.urandom(4096), 0)
write(os.urandom(1 << 20), 3 * page - 7)        # unaligned, many pages
write(os.urandom(100), page - 50)               # straddles one boundary
write(b"\x00" * page, 2 << 20)                  # zeroes into a hole
write(os.urandom(3), (4 << 20) - 3)             # last bytes of the range
clear(5000, 1000, h.zero)                       # inside one page
clear(page * 3 + 11, page - 5, h.trim)          # partial + whole pages
clear(70000, 3 * page + 1, lambda n, o: h.zero(n, o, nbd.CMD_FLAG_NO_HOLE))
write(os.urandom(page), 10 * page)
h.pwrite(bytes(ref[10 * page:11 * page]), 10 * page, nbd.CMD_FLAG_FUA)
h.flush()
assert h.pread(len(ref), 0) == ref, "content differs from reference"

h2 = nbd.NBD()
h2.connect_uri(os.environ["uri"])
assert h2.pread(len(ref), 0) == ref, "second connection sees other data"
h2.pwrite(b"from h2", 12345)
assert h.pread(7, 12345) == b"from h2"
'
