#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nozero.sh: every zeromode and fastzeromode as nbdkit's filter; emulate
# writes zero bytes below (the log sees writes, not zeroes), notrim
# drops may-trim, slow fails fast zeroes with ENOTSUP.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
for z in "" zeromode=none zeromode=emulate zeromode=notrim zeromode=plugin; do
    for f in "" fastzeromode=none fastzeromode=slow fastzeromode=ignore \
        fastzeromode=default; do
        same_as_nbdkit --filter=nozero "$memory" size=1M $z $f
    done
done
start_server -U "$sock" --filter=nozero --filter=log "$memory" size=4M \
    zeromode=emulate logfile="$tmp/log"
nbdsh_u -c '
h.pwrite(b"x" * 3145728, 0)
h.zero(3 * 1024 * 1024, 0)
assert h.pread(3145728, 0) == bytes(3145728)
try:
    h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)
    raise SystemExit("fast zero succeeded")
except nbd.Error as e:
    assert e.errno == "ENOTSUP", e.errno
'
stop_server
[ "$(grep -c 'Write id=.* count=0x100000 ' "$tmp/log")" -ge 3 ]
fails grep -q ' Zero ' "$tmp/log"
start_server -U "$sock" --filter=nozero --filter=log "$memory" size=1M \
    zeromode=notrim logfile="$tmp/log2"
nbdsh_u -c 'h.zero(4096, 0)'
stop_server
grep ' Zero .* trim=0 ' "$tmp/log2"
fails "$NBDX" -U - --filter=nozero "$memory" zeromode=bogus --run true
