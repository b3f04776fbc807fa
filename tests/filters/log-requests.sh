#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-requests.sh: the log filter writes a Connect line, a start and an end
# line for every request with matching ids, offsets, counts and flags,
# and a Disconnect line with the number of requests.
. "$SRCDIR/tests/lib.sh"
requires nbdsh python3
set -x

truncate -s 1M "$tmp/disk"
start_server -U "$sock" --filter=log file "$tmp/disk" logfile="$tmp/log"
nbdsh --base-allocation -u "nbd+unix:///myexport?socket=$sock" -c '
import nbd
h.pread(512, 0)
h.pwrite(b"x" * 4096, 8192, nbd.CMD_FLAG_FUA)
h.zero(65536, 131072)
h.trim(4096, 262144)
h.flush()
if h.can_cache():
    h.cache(1024, 4096)
h.block_status(65536, 0, lambda *a: 0)
h.shutdown()
'
stop_server
rm -f "$sock"
cat "$tmp/log"
python3 - "$tmp/log" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} "
for l in lines:
    assert re.match(stamp, l), ("no timestamp", l)
body = [l[27:] for l in lines]
conn = [b for b in body if b.startswith("connection=")]
assert conn, "no connection lines"
assert all(b.startswith("connection=1 ") for b in conn), conn
ev = [b[len("connection=1 "):] for b in conn]
assert re.match(r'Connect export=myexport tls=0 size=0x100000 .*write=1 ', ev[0]), ev[0]
assert ev[-1].startswith("Disconnect transactions="), ev[-1]
starts = {}
ends = {}
for e in ev[1:-1]:
    m = re.match(r"\.\.\.(\w+) id=(\d+) (.*)$", e)
    if m:
        ends[int(m[2])] = (m[1], m[3])
        continue
    m = re.match(r"(\w+) id=(\d+) ?(.*) \.\.\.$", e)
    assert m, ("unparsed", e)
    assert int(m[2]) not in starts, ("duplicate id", e)
    starts[int(m[2])] = (m[1], m[3])
assert sorted(starts) == list(range(1, len(starts) + 1)), starts
assert sorted(ends) == sorted(starts), (starts, ends)
n = int(ev[-1].split("=")[1])
assert n == len(starts), (n, starts)
for i, (act, res) in ends.items():
    assert act == starts[i][0], (i, act, starts[i])
    assert res.endswith("return=0"), (i, res)
seen = {act: args for act, args in starts.values()}
assert seen["Read"] == "offset=0x0 count=0x200", seen
assert seen["Write"] == "offset=0x2000 count=0x1000 fua=1", seen
assert seen["Zero"] == "offset=0x20000 count=0x10000 trim=1 fua=0 fast=0", seen
assert seen["Trim"] == "offset=0x40000 count=0x1000 fua=0", seen
assert seen["Flush"] == "", seen
assert seen["Extents"] == "offset=0x0 count=0x10000 req_one=0", seen
if "Cache" in seen:
    assert seen["Cache"] == "offset=0x1000 count=0x400", seen
# The extents end line lists extents that start at the request offset.
ext = [r for a, r in ends.values() if a == "Extents"][0]
assert re.match(r'extents=\(0x0 0x[0-9a-f]+ "[a-z,]*"', ext), ext
# Requests ran in order on this single-threaded client.
order = [starts[i][0] for i in sorted(starts)]
expect = ["Read", "Write", "Zero", "Trim", "Flush"]
assert order[:5] == expect, order
PY
