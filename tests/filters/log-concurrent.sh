#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-concurrent.sh: many requests in flight on several connections give
# whole, well-formed lines, and every start has exactly one end.
. "$SRCDIR/tests/lib.sh"
requires nbdsh python3
set -x

truncate -s 8M "$tmp/disk"
start_server -U "$sock" --filter=log file "$tmp/disk" logfile="$tmp/log"
script='
import nbd
buf = nbd.Buffer(4096)
for i in range(64):
    h.aio_pwrite(bytearray(b"y" * 4096), i * 4096)
    h.aio_pread(buf, i * 4096)
while h.aio_in_flight() > 0:
    h.poll(-1)
'
clients=""
for i in 1 2 3; do
    nbdsh_u -c "$script" &
    clients="$clients $!"
done
for c in $clients; do wait "$c"; done
stop_server
rm -f "$sock"
python3 - "$tmp/log" <<'PY'
import re, sys, collections
lines = open(sys.argv[1]).read().splitlines()
starts = collections.Counter()
ends = collections.Counter()
conns = set()
pat = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} connection=(\d+) "
                 r"(?:(\w+) id=(\d+) offset=0x[0-9a-f]+ count=0x1000( fua=0)? \.\.\."
                 r"|\.\.\.(\w+) id=(\d+) return=0"
                 r"|Connect .*|Disconnect transactions=128)$")
for l in lines:
    if not l.split(" ", 3)[2].startswith("connection="):
        continue
    m = pat.match(l)
    assert m, ("malformed line", l)
    conns.add(m[1])
    if m[2]:
        starts[(m[1], m[3])] += 1
    elif m[5]:
        ends[(m[1], m[6])] += 1
assert len(conns) == 3, conns
assert len(starts) == 3 * 128, len(starts)
assert all(v == 1 for v in starts.values())
assert starts == ends
PY
