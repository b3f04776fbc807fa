#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdsh-trim.sh: trim is advertised, succeeds, and a trimmed range of the
# memory plugin reads back as zeroes without disturbing its neighbours.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh
set -x

start_server -U "$sock" memory 1M
nbdsh_u -c '
assert h.can_trim()
h.pwrite(b"\xff" * 262144, 0)
h.trim(65536, 65536)
buf = h.pread(262144, 0)
assert buf[:65536] == b"\xff" * 65536, "bytes before the trim changed"
assert buf[65536:131072] == bytes(65536), "trimmed range not zero"
assert buf[131072:] == b"\xff" * 131072, "bytes after the trim changed"
# Unaligned trim, and trim with FUA.
h.trim(1000, 200000, nbd.CMD_FLAG_FUA)
assert h.pread(1000, 200000) == bytes(1000)
'
# A read-only export does not offer trim.
start_server -r -U "$tmp/sock2" memory 1M
nbdsh -u "nbd+unix:///?socket=$tmp/sock2" -c 'assert not h.can_trim()'
