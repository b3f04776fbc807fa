#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blocksize.sh: the blocksize filter as nbdkit's: random unaligned reads,
# writes and zeroes give the same bytes as a plain memory disk, while the
# log filter below sees only minblock-aligned requests within maxdata and
# maxlen; overlapping read-modify-writes in parallel lose nothing;
# unaligned fast zeroes fail with ENOTSUP; the size rounds down; the
# advertised block sizes; the log filter above sees the client's requests;
# bad parameters are refused by name.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires nbdinfo python3
set -x
for a in "size=1M minblock=512" "size=1M minblock=4k maxdata=8k maxlen=16k" \
    "size=1M maxdata=1k" "size=1000001 minblock=4k"; do
    same_as_nbdkit --filter=blocksize "$memory" $a
done

# The same random requests on a plain disk and through the filter.
plain="$tmp/plain.sock"
start_server -U "$plain" memory 262244
plain_pid=$pid
start_server -U "$sock" --filter=blocksize --filter=log memory 262244 \
    logfile="$tmp/log" minblock=512 maxdata=4k maxlen=8k
nbdsh --base-allocation -u "$uri" -c '
import random
p = nbd.NBD()
p.connect_unix("'"$plain"'")
assert h.get_size() == 262144, h.get_size()       # rounded down to 512
rng = random.Random(11)
size = h.get_size()
for i in range(300):
    n = rng.randint(1, 20000)
    off = rng.randint(0, size - n)
    op = rng.choice(["write", "write", "zero", "read", "cache"])
    if op == "write":
        data = rng.randbytes(n)
        h.pwrite(data, off, nbd.CMD_FLAG_FUA if i % 7 == 0 else 0)
        p.pwrite(data, off)
    elif op == "zero":
        h.zero(n, off)
        p.zero(n, off)
    elif op == "read":
        assert h.pread(n, off) == p.pread(n, off), (i, n, off)
    else:
        h.cache(n, off)
assert h.pread(size, 0) == p.pread(size, 0)
h.trim(5000, 1000)                 # its aligned middle, 1024-5631, only
got = []
h.block_status(30000, 100100, lambda m, off, ents, err: got.extend(ents))
assert 0 < sum(got[0::2]) <= 99840 + 8192 - 100100, got  # maxlen at a time
'
stop_server
python3 - "$tmp/log" <<'PY'
import re, sys
limit = {"Read": 4096, "Write": 4096, "Cache": 4096,
         "Zero": 8192, "Trim": 8192, "Extents": 8192}
seen = {}
for l in open(sys.argv[1]):
    m = re.search(r" (\w+) id=\d+ offset=0x([0-9a-f]+) count=0x([0-9a-f]+)", l)
    if not m:
        continue
    kind, off, n = m[1], int(m[2], 16), int(m[3], 16)
    assert off % 512 == 0 and n % 512 == 0, l
    assert 0 < n <= limit[kind], l
    seen.setdefault(kind, []).append((off, n))
print({k: len(v) for k, v in seen.items()})
assert len(seen["Write"]) > 150 and len(seen["Read"]) > 150, seen.keys()
assert seen["Trim"] == [(1024, 4608)], seen["Trim"]
assert (99840, 8192) in seen["Extents"], seen["Extents"]
PY
kill "$plain_pid"
rm -f "$plain"

# Parallel read-modify-writes of different bytes of the same blocks; the
# delay below widens the window between the read and the write.
start_server -U "$sock" --filter=blocksize --filter=delay "$memory" \
    size=16k minblock=4k maxlen=8k rdelay=5ms
nbdsh_u -c '
import random
rng = random.Random(5)
want = bytearray(16384)
spots = list(range(0, 16384, 64))
rng.shuffle(spots)
cookies = []
for off in spots:
    data = rng.randbytes(64)
    want[off:off + 64] = data
    cookies.append(h.aio_pwrite(data, off))
    if len(cookies) >= 32:
        while not h.aio_command_completed(cookies[0]):
            h.poll(-1)
        cookies.pop(0)
while cookies:
    while not h.aio_command_completed(cookies[0]):
        h.poll(-1)
    cookies.pop(0)
assert h.pread(16384, 0) == want, "a read-modify-write lost an update"
def enotsup(n, off):
    try:
        h.zero(n, off, nbd.CMD_FLAG_FAST_ZERO)
    except nbd.Error as e:
        assert e.errno == "ENOTSUP", e.errno
        return
    raise SystemExit("unaligned fast zero succeeded")
if h.can_fast_zero():
    enotsup(100, 4096)
    enotsup(4096, 100)
    h.zero(8192, 4096, nbd.CMD_FLAG_FAST_ZERO)
    assert h.pread(8192, 4096) == bytes(8192)
    enotsup(16384, 0)                  # larger than maxlen
'
nbdinfo --json "$uri" >"$tmp/info"
stop_server
python3 - "$tmp/info" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["exports"][0]
assert e["block_size_minimum"] == 1, e
assert e["block_size_preferred"] == 4096, e
# The server caps the maximum at the largest request it takes.
assert e["block_size_maximum"] in (4294967295, 33554432), e
PY
"$NBDX" -U - --filter=blocksize "$memory" size=1M minblock=64k \
    --run 'nbdinfo --json "$uri"' | grep '"block_size_preferred": 65536'

# The log filter above sees what the client sent.
start_server -U "$sock" --filter=log --filter=blocksize memory 1M \
    logfile="$tmp/log2" minblock=4k
nbdsh_u -c 'h.pwrite(b"x" * 10, 5); assert h.pread(12, 4) == b"\0" + b"x" * 10 + b"\0"'
stop_server
grep "Write id=1 offset=0x5 count=0xa " "$tmp/log2"

for bad in "minblock=3:power of 2" "minblock=128k:must not exceed 65536" \
    "minblock=512 maxdata=700:maxdata must be a multiple of 512" \
    "minblock=4k maxlen=6k:maxlen must be a multiple of 4096" \
    "maxlen=0:'maxlen' must be non-zero" "maxdata=4G:'maxdata' too large" \
    "minblock=x:could not parse"; do
    args=${bad%%:*} msg=${bad#*:}
    # shellcheck disable=SC2086
    "$NBDX" -U - --filter=blocksize memory 1M $args --run true \
        2>"$tmp/err" && exit 1
    cat "$tmp/err"
    grep -F "$msg" "$tmp/err"
done
