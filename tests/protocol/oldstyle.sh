#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# -o: the oldstyle handshake serves the default export with its flags.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" -o memory 1M
nbdsh_u -c '
assert h.get_protocol() == "oldstyle"
assert h.get_size() == 1048576
assert h.can_flush() and h.can_trim()
h.pwrite(b"old", 4096)
assert h.pread(3, 4096) == b"old"
'
