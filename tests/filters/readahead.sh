#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# readahead.sh: the readahead filter as nbdkit's: nbdcopy through it gets
# the very bytes of the file, while the log filter below sees a cache
# request for what follows each read; the window grows, holds and
# resets exactly as nbdkit's does (the same cache requests from both
# servers); without native caching or a parallel thread model it warns
# and does nothing.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires nbdcopy python3 cmp
set -x
same_as_nbdkit --filter=readahead "$memory" size=1M

# nbdcopy through the filter, with the log filter below it.
head -c 3000000 /dev/urandom >"$tmp/disk"
start_server -U "$sock" --filter=readahead --filter=log file "$tmp/disk" \
    logfile="$tmp/log"
nbdcopy "$uri" "$tmp/copy"
stop_server
cmp "$tmp/disk" "$tmp/copy"
python3 - "$tmp/log" <<'PY'
import re, sys
reads, caches = set(), []
for l in open(sys.argv[1]):
    m = re.search(r" (Read|Cache) id=\d+ offset=0x([0-9a-f]+) count=0x([0-9a-f]+)", l)
    if not m:
        continue
    off, n = int(m[2], 16), int(m[3], 16)
    if m[1] == "Read":
        reads.add(off + n)
    else:
        caches.append((off, n))
print(len(reads), "reads,", len(caches), "prefetches")
assert caches, "no prefetch reached the plugin"
for off, n in caches:
    assert off in reads, ("a prefetch not after a read", off)
    assert 0 < n <= 4 << 20 and off + n <= 3000000, (off, n)
PY

# The window, read by read, against nbdkit's own filter: reads jumping
# ahead double it, forward reads keep it, a read going back resets it.
pattern='
import time
h.pwrite(b"d" * 4194304, 0)
for off in [0, 1 << 20, 2 << 20, 3 << 20, 0, 65536, 131072, 0]:
    h.pread(65536, off)
    time.sleep(0.2)
'
caches_of() {
    grep -o "Cache id=[0-9]* offset=0x[0-9a-f]* count=0x[0-9a-f]*" "$1" |
        sed 's/id=[0-9]* //'
}
start_server -U "$sock" --filter=readahead --filter=log "$memory" size=8M \
    logfile="$tmp/ours"
nbdsh_u -c "$pattern"
stop_server
export pattern
nbdkit -U - --filter=readahead --filter=log "$memory" size=8M \
    logfile="$tmp/theirs" --run 'nbdsh -u "$uri" -c "$pattern"'
caches_of "$tmp/ours" >"$tmp/ours.c"
caches_of "$tmp/theirs" >"$tmp/theirs.c"
cat "$tmp/ours.c"
diff "$tmp/theirs.c" "$tmp/ours.c"
grep -x "Cache offset=0x310000 count=0x20000" "$tmp/ours.c"   # 128k by then
grep -x "Cache offset=0x10000 count=0x40000" "$tmp/ours.c"    # 256k, then reset
grep -x "Cache offset=0x20000 count=0x8000" "$tmp/ours.c"

# Over a layer that cannot cache, or with serialized requests: a warning,
# and reads still work.
start_server -U "$sock" --filter=readahead --filter=nocache --filter=log \
    memory 1M logfile="$tmp/nc"
nbdsh_u -c 'h.pwrite(b"n" * 65536, 0); assert h.pread(65536, 0) == b"n" * 65536'
stop_server
grep "readahead: warning: underlying plugin does not support NBD_CMD_CACHE" \
    "$tmp/server.log"
grep "readahead: try adding --filter=cache after this filter" "$tmp/server.log"
fails grep "Cache id" "$tmp/nc"
: >"$tmp/server.log"
start_server -U "$sock" --filter=readahead --filter=noparallel --filter=log \
    memory 1M logfile="$tmp/np" serialize=requests
nbdsh_u -c 'h.pwrite(b"s" * 65536, 0); assert h.pread(65536, 0) == b"s" * 65536'
stop_server
grep "PARALLEL thread model, so the filter won't do anything" "$tmp/server.log"
fails grep "try adding --filter=cache" "$tmp/server.log"
fails grep "Cache id" "$tmp/np"
