#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --mask-handshake=0: no fixed newstyle, so the client falls back to
# NBD_OPT_EXPORT_NAME (with the 124 zero bytes) and still connects.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" --mask-handshake=0 memory 1M
nbdsh_u -c '
assert h.get_protocol() == "newstyle"
assert h.get_handshake_flags() == 0
assert h.get_size() == 1048576
h.pwrite(b"mask", 0)
assert h.pread(4, 0) == b"mask"
'
