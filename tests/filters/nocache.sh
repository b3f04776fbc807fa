#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nocache.sh: cachemode=none hides NBD_CMD_CACHE, emulate reads the range
# from the layer below, nop accepts and ignores it; each as nbdkit's.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
for m in "" cachemode=none cachemode=emulate cachemode=nop; do
    same_as_nbdkit --filter=nocache "$memory" size=1M $m
done
# emulate reads what the client asks to cache: the log below sees reads.
start_server -U "$sock" --filter=nocache --filter=log "$memory" size=4M \
    cachemode=emulate logfile="$tmp/log"
nbdsh_u -c 'h.cache(3 * 1024 * 1024, 4096)'
stop_server
grep 'Read id=.* offset=0x1000 count=0x100000 ' "$tmp/log"
grep 'Read id=.* offset=0x201000 count=0x100000 ' "$tmp/log"
fails grep -q ' Cache id=' "$tmp/log"
# nop: nothing reaches the layer below.
start_server -U "$sock" --filter=nocache --filter=log "$memory" size=4M \
    cachemode=nop logfile="$tmp/log2"
nbdsh_u -c 'h.cache(4096, 0)'
stop_server
fails grep -q ' Read id=\| Cache id=' "$tmp/log2"
fails "$NBDX" -U - --filter=nocache "$memory" cachemode=bogus --run true
