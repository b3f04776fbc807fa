#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# zero.sh: the zero plugin serves a read-only export of size 0, and
# takes no parameters.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

start_server -U "$sock" zero
nbdsh_u -c '
assert h.get_size() == 0
assert h.is_read_only()
try:
    h.pread(1, 0)
    assert False, "read past the end succeeded"
except nbd.Error:
    pass
'
fails "$NBDX" -f -U "$tmp/sock2" zero size=1M
