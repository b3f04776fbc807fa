#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# stats.sh: the stats file lists the requests a client made, by kind,
# with the right counts and bytes and the size breakdown, in nbdkit's
# layout; statsappend= adds to it, statsthreshold=0 drops the
# breakdown; stacked under offset it sees the shifted offsets; a
# missing or bad parameter is refused, naming it.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
st="$tmp/stats.txt"
client='
for i in range(20):
    h.pread(4096, i * 4096)
for i in range(3):
    h.pread(65536, 65536)
h.pread(1000, 3)
h.pwrite(b"x" * 8192, 8192)
h.pwrite(b"y" * 512, 512)
h.zero(4096, 0)
h.trim(65536, 131072)
h.flush()
h.cache(4096, 0)
h.block_status(4096, 0, lambda *a: 0)
'
"$NBDX" -U - --filter=stats "$memory" size=1M statsfile="$st" \
    --run 'nbdsh --base-allocation -u "$uri" -c '"'$client'"
cat "$st"
python3 - "$st" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
lines = t.splitlines()
m = re.fullmatch(r"total: (\d+) ops, [\d.]+ s, (.*), .*/s", lines[0])
assert m and m.group(1) == "30" and m.group(2) == "349.48 KiB", lines[0]
def op(name, n, size):
    m = re.search(r"^%s: (\d+) ops, [\d.]+ s, ([^,]+), .*/s op, .*/s total$"
                  % name, t, re.M)
    assert m, name
    assert (m.group(1), m.group(2)) == (str(n), size), (name, m.groups())
op("read", 24, "272.98 KiB")
op("write", 2, "8.50 KiB")
op("zero", 1, "4.00 KiB")
op("trim", 1, "64.00 KiB")
op("extents", 1, "4.00 KiB")
op("cache", 1, "4.00 KiB")
op("flush", 1, "0 bytes")
order = [l.split(":")[0] for l in lines if re.match(r"^\w+: \d+ ops", l)]
assert order == ["total", "read", "write", "trim", "zero", "extents",
                 "cache", "flush"], order
read = t[t.index("\nread:"):t.index("\nwrite:")]
assert read == """
read: %s
  Request size and alignment breakdown:
    12 bits: 83.3%% (20 reqs, 80.00 KiB total)
         12 bit aligned: 100.0%% (20)
         13 bit aligned:  50.0%% (10)
         14 bit aligned:  25.0%% (5)
         15 bit aligned:  15.0%% (3)
         16 bit aligned:  10.0%% (2)
    16 bits: 12.5%% (3 reqs, 192.00 KiB total)
         16 bit aligned: 100.0%% (3)
    other sizes:  4.2%% (1 reqs, 1000 bytes total)
""" % lines[1][len("read: "):], read
write = t[t.index("\nwrite:"):t.index("\ntrim:")]
assert "    13 bits: 50.0% (1 reqs, 8.00 KiB total)\n" \
       "         13 bit aligned: 100.0% (1)\n" in write, write
assert "     9 bits: 50.0% (1 reqs, 512 bytes total)\n" in write, write
PY
# Appended, without the breakdown; the offset filter above shifts offsets.
"$NBDX" -U - --filter=offset --filter=stats "$memory" size=1M offset=1 \
    statsfile="$st" statsappend=true statsthreshold=0 \
    --run 'nbdsh -u "$uri" -c "h.pread(4096, 4095); h.pwrite(b\"z\", 0)"'
cat "$st"
[ "$(grep -c '^total: ' "$st")" = 2 ]
tail -3 "$st" >"$tmp/last"
grep -x 'total: 2 ops, [0-9.]* s, 4.00 KiB, .*/s' "$tmp/last"
grep -x 'read: 1 ops, [0-9.]* s, 4.00 KiB, .*/s op, .*/s total' "$tmp/last"
grep -x 'write: 1 ops, [0-9.]* s, 1 bytes, .*/s op, .*/s total' "$tmp/last"
# A failed request is not counted; zero-copy writes are.
"$NBDX" -U - --filter=stats "$memory" size=1M statsfile="$st" \
    --run 'nbdcopy -- [ nbdkit --exit-with-parent pattern 1M ] "$uri" &&
           nbdsh -u "$uri" -c "
try:
    h.pread(4096, 1048576 - 512)
except nbd.Error:
    pass
"'
grep -x 'write: [0-9]* ops, [0-9.]* s, 1.00 MiB, .*/s op, .*/s total' "$st"
fails grep '^read:' "$st"
# Parameters.
"$NBDX" -U - --filter=stats "$memory" size=1M --run true 2>"$tmp/err" && exit 1
grep "statsfile" "$tmp/err"
"$NBDX" -U - --filter=stats "$memory" size=1M statsfile="$st" \
    statsthreshold=101 --run true 2>"$tmp/err" && exit 1
grep "statsthreshold must be between 0 and 100" "$tmp/err"
"$NBDX" -U - --filter=stats "$memory" size=1M statsfile="$st" \
    statsappend=maybe --run true 2>"$tmp/err" && exit 1
cat "$tmp/err"
"$NBDX" -U - --filter=stats "$memory" size=1M statsfile="$tmp/no/such" \
    --run true 2>"$tmp/err" && exit 1
grep "$tmp/no/such" "$tmp/err"
