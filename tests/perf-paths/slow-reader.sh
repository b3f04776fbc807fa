#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# slow-reader.sh: a client that stops reading in the middle of large
# zero-copy READs does not hold the memory plugin's lock: another client
# can still add pages, and the stalled READs still return the right data
# once the client reads again.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
export uri
start_server -U "$sock" memory 256M
nbdsh_u -c '
import os, time
h.pwrite(os.urandom(32 << 20), 0)
h.pwrite(os.urandom(32 << 20), 32 << 20)
ref = h.pread(32 << 20, 0) + h.pread(32 << 20, 32 << 20)
slow = nbd.NBD()
slow.connect_uri(os.environ["uri"])
bufs = [nbd.Buffer(32 << 20) for _ in range(2)]
cs = [slow.aio_pread(b, i * (32 << 20)) for i, b in enumerate(bufs)]
time.sleep(0.5)                   # replies stall in the socket
t = time.monotonic()
h.pwrite(b"\x01" * 4096, 200 << 20)     # needs a new page
assert time.monotonic() - t < 5, "writer waited for the stalled reader"
for c in cs:
    while not slow.aio_command_completed(c):
        slow.poll(-1)
assert bytes(bufs[0].to_bytearray()) + bytes(bufs[1].to_bytearray()) == ref
'
