#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-extents.sh: block status of the memory plugin follows writes and
# trims: unwritten and trimmed pages are holes, written pages are data,
# zero-data writes allocate nothing, and an allocated page that became
# all zero is reported as zero.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

start_server -U "$sock" memory 1G
nbdsh --base-allocation -u "$uri" -c '
page = 32768
HZ = nbd.STATE_HOLE | nbd.STATE_ZERO

def extents(off, n):
    out = []
    def cb(meta, offset, e, err):
        out.extend(zip(e[0::2], e[1::2]))
    h.block_status(n, off, cb)
    return out

assert extents(0, 1 << 30) == [(1 << 30, HZ)], extents(0, 1 << 30)

h.pwrite(b"\x01" * (2 * page), 4 * page)       # pages 4 and 5
h.pwrite(b"\x00" * (4 * page), 16 * page)      # zeroes: no allocation
h.pwrite(b"x", 9 * page + 100)                 # page 9
got = extents(0, 32 * page)
assert got == [(4 * page, HZ), (2 * page, 0), (3 * page, HZ),
               (page, 0), (22 * page, HZ)], got

h.trim(page, 5 * page)                          # frees page 5
h.zero(1, 9 * page + 100)                       # page 9 all zero: freed
got = extents(0, 32 * page)
assert got == [(4 * page, HZ), (page, 0), (27 * page, HZ)], got

h.pwrite(b"\x00" * 10, 4 * page)                # allocated, not all zero
# A page a WRITE leaves all zero reads as zero: allocated (ZERO, when
# the payload was copied into it) or given back (HOLE|ZERO, when it was
# received into the page, which is then dropped), never DATA.
h.pwrite(b"\x00" * page, 4 * page)
got = extents(4 * page, page)
assert got[0] in [(page, nbd.STATE_ZERO), (page, HZ)], got

# The end of a huge hole is reported without a walk over every page.
got = extents((1 << 30) - 100, 100)
assert got == [(100, HZ)], got
'
