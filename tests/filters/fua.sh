#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# fua.sh: every fuamode as nbdkit's filter; emulate turns FUA into a
# flush below, force sets FUA on every write and drops flushes, discard
# drops both, none hides FUA.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
# (nbdkit 1.32 refuses fuamode=none, its documented default; nbdx takes it.)
for m in "" emulate native force pass discard; do
    same_as_nbdkit --filter=fua "$memory" size=1M ${m:+fuamode=$m}
done
# log_of MODE PYTHON: the log of what reaches the layer below.
log_of() {
    start_server -U "$sock" --filter=fua --filter=log "$memory" size=1M \
        fuamode="$1" logfile="$tmp/$1.log"
    nbdsh_u -c "$2"
    stop_server
    cat "$tmp/$1.log"
}
log_of emulate 'h.pwrite(b"a" * 512, 0, nbd.CMD_FLAG_FUA)' >"$tmp/out"
grep ' Write .* fua=0 ' "$tmp/out"
grep ' Flush id=' "$tmp/out"
log_of force 'h.pwrite(b"a" * 512, 0); h.flush()' >"$tmp/out"
grep ' Write .* fua=1 ' "$tmp/out"
fails grep ' Flush id=' "$tmp/out"
log_of discard 'h.pwrite(b"a" * 512, 0, nbd.CMD_FLAG_FUA); h.flush()' >"$tmp/out"
grep ' Write .* fua=0 ' "$tmp/out"
fails grep ' Flush id=' "$tmp/out"
for m in "" fuamode=none; do
    start_server -U "$sock" --filter=fua "$memory" size=1M $m
    nbdinfo "$uri" | grep 'can_fua: false'
    stop_server
done
fails "$NBDX" -U - --filter=fua "$memory" fuamode=bogus --run true
