#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-parallel.sh: many requests in flight on several connections at
# once (disjoint writes that add pages, then reads) leave the memory
# plugin with exactly the data written.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy
set -x
export uri tmp

head -c 48M /dev/urandom >"$tmp/src"
truncate -s +16M "$tmp/src"                     # a zero tail
start_server -U "$sock" memory 64M
nbdcopy --connections=4 --requests=64 --request-size=65536 \
    "$tmp/src" "$uri"
nbdcopy --connections=4 --requests=64 "$uri" "$tmp/dst"
cmp "$tmp/src" "$tmp/dst"
# Small unaligned requests from several handles at once.
nbdsh_u -c '
import os
hs = [nbd.NBD() for _ in range(4)]
for x in hs:
    x.connect_uri(os.environ["uri"])
src = open(os.environ["tmp"] + "/src", "rb").read()
cookies = []
for i in range(2000):
    x = hs[i % 4]
    off = (i * 7919) % (60 << 20)
    buf = nbd.Buffer(4093)
    cookies.append((x, x.aio_pread(buf, off), buf, off))
for x in hs:
    while x.aio_in_flight() > 0:
        x.poll(-1)
for x, c, buf, off in cookies:
    assert x.aio_command_completed(c)
    assert bytes(buf.to_bytearray()) == src[off:off + 4093], off
'
