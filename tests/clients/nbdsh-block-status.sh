#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdsh-block-status.sh: base:allocation block status of a sparse memory
# disk: data where written, holes elsewhere, and REQ_ONE honoured.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh
set -x

start_server -U "$sock" memory 4M
nbdsh --base-allocation -u "$uri" -c '
assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
h.pwrite(b"\x01" * 65536, 2 * 1048576)
size = h.get_size()
got = []
def cb(metacontext, offset, entries, err):
    assert metacontext == nbd.CONTEXT_BASE_ALLOCATION, metacontext
    got.append((offset, list(entries)))
h.block_status(size, 0, cb)
assert len(got) == 1, got
off, ents = got[0]
assert off == 0
pairs = list(zip(ents[0::2], ents[1::2]))
print(pairs)
total = sum(n for n, _ in pairs)
assert 0 < total <= size, total
# Walk the whole disk, recording the state of each offset of interest.
states = {}
pos = 0
while pos < size:
    got.clear()
    h.block_status(size - pos, pos, cb)
    ents = got[0][1]
    n, flags = ents[0], ents[1]
    assert n > 0
    for probe in (0, 2 * 1048576, 2 * 1048576 + 65535, 3 * 1048576):
        if pos <= probe < pos + n:
            states[probe] = flags
    pos += n
print(states)
assert states[2 * 1048576] & nbd.STATE_HOLE == 0
assert states[2 * 1048576 + 65535] & nbd.STATE_HOLE == 0
assert states[0] & nbd.STATE_HOLE
assert states[3 * 1048576] & nbd.STATE_HOLE
# REQ_ONE: exactly one extent, not beyond the request.
got.clear()
h.block_status(4 * 65536, 2 * 1048576 - 65536, cb, nbd.CMD_FLAG_REQ_ONE)
ents = got[0][1]
assert len(ents) == 2, ents
assert 0 < ents[0] <= 4 * 65536, ents
'
