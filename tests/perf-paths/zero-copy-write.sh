#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# zero-copy-write.sh: WRITE payloads the server receives straight into the
# memory plugin's pages (nbdx_extension pwrite_iov) land exactly where
# they should, with slow, vanishing and racing clients (zcwrite.py).
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -v -U "$sock" memory 256M
/usr/bin/python3 "$SRCDIR/tests/perf-paths/zcwrite.py" "$sock" $((256 << 20))
# The shortcut was really taken, and the slow client's rest really went
# through a buffer.
grep -q 'pwrite count=.*(iov)' "$tmp/server.log"
grep -q 'pwrite count=.*fua=0$' "$tmp/server.log"
