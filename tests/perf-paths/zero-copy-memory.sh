#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# zero-copy-memory.sh: READs the memory plugin answers straight from its
# pages (nbdx_extension pread_iov) return the data written, across holes,
# allocated zeroes and page boundaries, with structured and simple
# replies, alone and pipelined.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -v -U "$sock" memory 64M
/usr/bin/python3 "$SRCDIR/tests/perf-paths/roundtrip.py" "$uri" $((64 << 20))
# The shortcut was really taken.
grep -q 'pread count=.*(iov)' "$tmp/server.log"
