#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# delay.sh: the delay filter's parameters as nbdkit's filter; each kind
# of request waits at least its delay, delay-fast-zero=false fails fast
# zeroes at once with ENOTSUP, delay-open delays the handshake, and a
# quit cuts a long delay short.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
for a in rdelay=10ms wdelay=10ms "delay-zero=10ms delay-fast-zero=false" \
    "delay-extents=10ms delay-cache=10ms delay-trim=10ms"; do
    same_as_nbdkit --filter=delay "$memory" size=1M $a
done
start_server -U "$sock" --filter=delay memory 1M rdelay=1 wdelay=500ms \
    delay-extents=300ms delay-cache=300ms delay-fast-zero=false
nbdsh --base-allocation -u "$uri" -c '
import time
def took(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t
assert took(lambda: h.pread(512, 0)) >= 0.95
assert took(lambda: h.pwrite(b"x" * 512, 0)) >= 0.45
assert took(lambda: h.zero(512, 0)) >= 0.45
assert took(lambda: h.trim(512, 0)) >= 0.45
assert took(lambda: h.cache(512, 0)) >= 0.25
assert took(lambda: h.block_status(512, 0, lambda *a: 0)) >= 0.25
assert took(h.flush) < 0.25
assert h.can_fast_zero()
t = time.monotonic()
try:
    h.zero(512, 0, nbd.CMD_FLAG_FAST_ZERO)
    raise SystemExit("a fast zero succeeded")
except nbd.Error as e:
    assert e.errno == "ENOTSUP", e.errno
assert time.monotonic() - t < 0.45
'
stop_server
start_server -U "$sock" --filter=delay memory 1M delay-open=1
nbdsh -c '
import time
t = time.monotonic()
h.connect_unix("'"$sock"'")
assert time.monotonic() - t >= 0.95
'
stop_server
# A read waiting out a 60 s delay ends when the server is told to quit.
start_server -U "$sock" --filter=delay memory 1M rdelay=60
nbdsh_u -c 'h.pread(512, 0)' 2>"$tmp/err" &
reader=$!
sleep 0.5
start=$SECONDS
kill -TERM "$pid"
wait "$reader" && exit 1
[ $((SECONDS - start)) -lt 30 ]
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid" 2>/dev/null
"$NBDX" -U - --filter=delay memory 1M rdelay=soon --run true 2>"$tmp/err" &&
    exit 1
grep rdelay "$tmp/err"
