#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# error.sh: the error filter's parameters as nbdkit's filter; each kind
# of request fails with its own code at rate 1, never at rate 0, only
# while error-file exists, and sometimes at 50%; bad codes are refused.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
for a in error-rate=0 "error-pwrite-rate=1 error-pwrite=ENOSPC" \
    "error-zero-rate=100% error-zero=EPERM error-trim-rate=1" \
    "error-extents-rate=1 error-cache-rate=1 error=EINVAL"; do
    same_as_nbdkit --filter=error "$memory" size=1M $a
done
start_server -U "$sock" --filter=error memory 1M error-rate=1 error=ENOMEM \
    error-pread=EPERM error-zero=ENOSPC error-trim-rate=0 \
    error-extents-file="$tmp/now" error-cache-rate=50%
nbdsh --base-allocation -u "$uri" -c '
import os
def fails(fn, code):
    try:
        fn()
    except nbd.Error as e:
        assert e.errno == code, (e.errno, code)
        return
    raise SystemExit("no error injected")
fails(lambda: h.pread(512, 0), "EPERM")
fails(lambda: h.pwrite(b"x" * 512, 0), "ENOMEM")
fails(lambda: h.zero(512, 0), "ENOSPC")
h.trim(512, 0)
h.flush()
h.block_status(512, 0, lambda *a: 0)
open("'"$tmp/now"'", "w").close()
fails(lambda: h.block_status(512, 0, lambda *a: 0), "ENOMEM")
os.unlink("'"$tmp/now"'")
h.block_status(512, 0, lambda *a: 0)
ok = bad = 0
for i in range(200):
    try:
        h.cache(512, 0)
        ok += 1
    except nbd.Error as e:
        assert e.errno == "ENOMEM", e.errno
        bad += 1
print("cache at 50%:", ok, "ok", bad, "failed")
assert 40 < ok < 160, ok
'
stop_server
grep -c "injecting ENOMEM error into pwrite" "$tmp/server.log"
for bad in error=EAGAIN error-rate=2 error-pread-rate=-1%; do
    "$NBDX" -U - --filter=error memory 1M $bad --run true 2>"$tmp/err" &&
        exit 1
    cat "$tmp/err"
    grep -E "error|rate" "$tmp/err"
done
