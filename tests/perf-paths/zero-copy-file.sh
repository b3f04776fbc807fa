#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# zero-copy-file.sh: large READs the file plugin answers with sendfile
# (nbdx_extension pread_fd) return the data written, holes included, with
# structured and simple replies; with cache=none it falls back to pread.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
truncate -s 64M "$tmp/disk"
start_server -v -U "$sock" file "$tmp/disk"
/usr/bin/python3 "$SRCDIR/tests/perf-paths/roundtrip.py" "$uri" $((64 << 20))
grep -q 'pread count=.*(fd)' "$tmp/server.log"
stop_server
rm -f "$tmp/disk" "$tmp/server.log"
truncate -s 64M "$tmp/disk"
start_server -v -U "$sock" file "$tmp/disk" cache=none
/usr/bin/python3 "$SRCDIR/tests/perf-paths/roundtrip.py" "$uri" $((64 << 20))
