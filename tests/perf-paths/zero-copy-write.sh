#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# zero-copy-write.sh: WRITE payloads the server receives straight into
# fresh pages of the memory plugin (nbdx_extension write_begin and
# write_commit) land exactly where they should, with slow and racing
# clients, and a vanishing client's never do (zcwrite.py).
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -v -U "$sock" memory 256M
/usr/bin/python3 "$SRCDIR/tests/perf-paths/zcwrite.py" "$sock" $((256 << 20))
# The shortcut was really taken, and the vanished client's write was
# really staged and then dropped.
grep -q 'pwrite count=.*(iov)' "$tmp/server.log"
grep -q 'pwrite commit (iov)' "$tmp/server.log"
grep -q 'pwrite abort (iov)' "$tmp/server.log"
