#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# retry-request.sh: the retry-request filter's parameters as nbdkit's
# filter; stacked over the error filter, requests that fail while a
# trigger file exists succeed once it is removed during the retries,
# and fail with the plugin's error when the retries run out.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
same_as_nbdkit --filter=retry-request "$memory" size=1M
same_as_nbdkit --filter=retry-request "$memory" size=1M \
    retry-request-retries=1 retry-request-delay=1 retry-request-open=false
trig="$tmp/trigger"
start_server -U "$sock" -v --filter=retry-request --filter=error memory 1M \
    error-rate=1 error-file="$trig" retry-request-retries=5 \
    retry-request-delay=1
nbdsh --base-allocation -u "$uri" -c '
import os, threading, time
trig = "'"$trig"'"
def heal_later(fn):
    open(trig, "w").close()
    threading.Timer(1.5, os.unlink, [trig]).start()
    t = time.monotonic()
    r = fn()
    took = time.monotonic() - t
    assert took >= 1.4, took
    assert not os.path.exists(trig)
    return r
heal_later(lambda: h.pwrite(b"a" * 512, 0))
assert heal_later(lambda: h.pread(512, 0)) == b"a" * 512
heal_later(lambda: h.block_status(4096, 0, lambda *a: 0))
heal_later(lambda: h.zero(512, 512))
assert h.pread(1024, 0) == b"a" * 512 + bytes(512)
'
stop_server
grep "pread failed: retry 1 of 5" "$tmp/server.log"
grep "extents failed: retry" "$tmp/server.log"
# Out of retries: the client sees the error filter's EIO.
touch "$trig"
start_server -U "$sock" --filter=retry-request --filter=error memory 1M \
    error-rate=1 error-file="$trig" retry-request-retries=1 \
    retry-request-delay=1
nbdsh_u -c '
import time
t = time.monotonic()
try:
    h.pread(512, 0)
    raise SystemExit("the read succeeded")
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
took = time.monotonic() - t
assert 0.9 <= took < 10, took
'
stop_server
# retry-request-retries=0: no retry at all.
start_server -U "$sock" --filter=retry-request --filter=error memory 1M \
    error-rate=1 error-file="$trig" retry-request-retries=0
nbdsh_u -c '
try:
    h.pread(512, 0)
    raise SystemExit("the read succeeded")
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
'
stop_server
for bad in retry-request-retries=-1 retry-request-delay=2s \
    retry-request-open=maybe; do
    "$NBDX" -U - --filter=retry-request memory 1M $bad --run true \
        2>"$tmp/err" && exit 1
    cat "$tmp/err"
    grep "${bad%%=*}\|maybe" "$tmp/err"
done
