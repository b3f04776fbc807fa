#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# rate.sh: reads and writes take at least the time their bits need at
# the rate, past the burst the bucket starts with; zero and trim are
# free; reads and writes have buckets of their own (write-rate= slows
# only writes); connection-rate= limits each of two parallel clients
# but not their sum, rate= their sum; a change of rate-file= is picked
# up within about a second; bad values are refused, naming them.
# The bounds are lower bounds the filter must cause (unfiltered, the
# same transfers take a few milliseconds) with generous upper bounds.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
export PATH=/usr/bin:$PATH

# timed.py URI KIND KIB [SLEEP]: after SLEEP seconds, KIB KiB of KIND
# (read, write, zero) in 64 KiB requests; prints the seconds taken.
cat >"$tmp/timed.py" <<'PY'
import nbd, sys, time
uri, kind, kib = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = nbd.NBD(); h.connect_uri(uri)
time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 0)
t = time.monotonic()
for i in range(kib // 64):
    off = (i * 65536) % h.get_size()
    if kind == "read":
        h.pread(65536, off)
    elif kind == "write":
        h.pwrite(b"x" * 65536, off)
    else:
        h.zero(65536, off)
print("%.3f" % (time.monotonic() - t))
PY
timed() { python3 "$tmp/timed.py" "$uri" "$@"; }
# between LO HI VALUE: LO <= VALUE < HI.
between() {
    python3 -c "import sys; v = float(sys.argv[3]); \
assert float(sys.argv[1]) <= v < float(sys.argv[2]), sys.argv[1:]" "$@"
}
uri="nbd+unix:///?socket=$sock"

# 4 Mbit/s with the default 2 s burst: the first MiB (8 Mbit) comes at
# once, the second needs 2 s.  Zeroing 64 MiB is free.
start_server -U "$sock" --filter=rate "$memory" size=1M rate=4M
t=$(timed read 1024); between 0 1.2 "$t"
t=$(timed read 1024); between 1.6 10 "$t"
t=$(timed zero 65536); between 0 1.5 "$t"
stop_server

# A 0.5 s burst (2 Mbit): 1 MiB of writes needs 1.5 s; reads stay fast
# under write-rate=.
start_server -U "$sock" --filter=rate "$memory" size=1M write-rate=4M \
    burstiness=0.5
t=$(timed read 4096); between 0 1 "$t"
t=$(timed write 1024); between 1.2 10 "$t"
stop_server

# Two clients at once, 1 MiB each, 0.5 s bursts.  Per connection each
# needs 1.5 s side by side; against one server bucket they need
# (16 - 2) Mbit / 4 Mbit/s = 3.5 s together.
parallel() {
    timed read 1024 >"$tmp/a" &
    local a=$!
    timed read 1024 >"$tmp/b"
    wait "$a"
    cat "$tmp/a" "$tmp/b"
}
start_server -U "$sock" --filter=rate "$memory" size=1M \
    connection-rate=4M burstiness=0.5
parallel
between 1.2 3 "$(cat "$tmp/a")"; between 1.2 3 "$(cat "$tmp/b")"
stop_server
start_server -U "$sock" --filter=rate "$memory" size=1M rate=4M \
    burstiness=0.5
parallel
python3 -c "import sys; assert max(map(float, sys.argv[1:])) >= 3.0" \
    "$(cat "$tmp/a")" "$(cat "$tmp/b")"
stop_server

# rate-file= wins over rate= at startup and is read again while the
# server runs: at 1 Mbit/s, 256 KiB past a 0.5 Mbit burst takes 1.5 s;
# once the file says 1G, 4 MiB is quick.  A bad value in the file is
# ignored.
echo 1M >"$tmp/rate"
start_server -U "$sock" --filter=rate "$memory" size=1M rate=2M \
    rate-file="$tmp/rate" burstiness=0.5
t=$(timed read 256); between 1.2 10 "$t"
echo 1G >"$tmp/rate.new"; mv "$tmp/rate.new" "$tmp/rate"
t=$(timed read 4096 1.5); between 0 1 "$t"
echo junk >"$tmp/rate.new"; mv "$tmp/rate.new" "$tmp/rate"
t=$(timed read 4096 1.5); between 0 1 "$t"
stop_server
# connection-rate-file=, absent at first: connection-rate= holds.
start_server -U "$sock" --filter=rate "$memory" size=1M \
    connection-rate=4M connection-rate-file="$tmp/none" burstiness=0.5
t=$(timed read 1024); between 1.2 10 "$t"
stop_server

# Bad values, each named.
for a in rate=0 rate=-1 rate=fast connection-rate=0 read-rate=x \
    connection-write-rate=-5 burstiness=0 burstiness=-1 burstiness=x; do
    fails "$NBDX" --filter=rate "$memory" size=1M "$a" --run true \
        2>"$tmp/err"
    cat "$tmp/err"
    grep -q "^nbdx: rate: " "$tmp/err"
done
grep -q "burstiness" "$tmp/err"
"$NBDX" --filter=rate "$memory" size=1M rate=0 --run true 2>&1 |
    grep -q "rate cannot be set to 0"
