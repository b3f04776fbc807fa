#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# offset-out-of-range.sh: a window that does not fit inside the disk is an
# error when a client connects, reported in the server log; a window that
# ends exactly at the end of the disk is fine.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

truncate -s 1M "$tmp/disk"

# offset+range one byte too large.
start_server -U "$sock" --filter=offset file "$tmp/disk" offset=512K range=524289
fails nbdinfo --size "$uri"
stop_server
rm -f "$sock"
grep -q 'offset+range' "$tmp/server.log"

# offset alone past the end.
: >"$tmp/server.log"
start_server -U "$sock" --filter=offset file "$tmp/disk" offset=2M
fails nbdinfo --size "$uri"
stop_server
rm -f "$sock"
grep -q 'larger than the size' "$tmp/server.log"

# Exactly fitting windows work.
start_server -U "$sock" --filter=offset file "$tmp/disk" offset=512K range=512K
[ "$(nbdinfo --size "$uri")" = 524288 ]
stop_server
rm -f "$sock"
start_server -U "$sock" --filter=offset file "$tmp/disk" offset=1M
[ "$(nbdinfo --size "$uri")" = 0 ]
