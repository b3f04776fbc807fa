#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# zero-copy-filters.sh: the zero-copy READs and WRITEs go through the
# offset and log filters (which forward them with their mapping), land
# where the ordinary path puts them (zcfilters.py), and are really taken
# (the plugin's debug lines); a filter stack through the log filter
# logs them like any request.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
size=$((32 << 20))
head=4097

# memory: staged WRITEs and pieces for READs, at an unaligned offset.
start_server -v -U "$sock" --filter=log --filter=offset \
    memory $((size + head + 5000)) offset=$head range=$size \
    logfile="$tmp/log"
/usr/bin/python3 "$SRCDIR/tests/perf-paths/zcfilters.py" "$uri" $size
grep -q 'memory: pread count=.*(iov)' "$tmp/server.log"
grep -q 'memory: pwrite commit (iov)' "$tmp/server.log"
grep -q 'offset: pread count=.*(iov)' "$tmp/server.log"
grep -q 'connection=1 Write id=.* count=0x100000 fua=0 \.\.\.$' "$tmp/log"
stop_server

# file: WRITEs spliced from a pipe, READs sent with sendfile, checked
# against the file itself.
rm -f "$tmp/server.log"
truncate -s $((size + head)) "$tmp/disk"
start_server -v -U "$sock" --filter=offset --filter=log \
    file "$tmp/disk" offset=$head logfile="$tmp/log2"
/usr/bin/python3 "$SRCDIR/tests/perf-paths/zcfilters.py" "$uri" $size \
    "$tmp/disk" $head
grep -q 'file: pread count=.*(fd)' "$tmp/server.log"
grep -q 'file: pwrite count=.*(pipe)' "$tmp/server.log"
grep -q 'log: pwrite count=.*(pipe)' "$tmp/server.log"
