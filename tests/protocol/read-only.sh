#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# With -r the export is read-only: READ_ONLY is set, write-side flags are
# not, and writes, trims and zeroes fail with EPERM.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" -r memory 1M
nbdsh_u -c '
import errno
assert h.is_read_only()
assert not h.can_trim() and not h.can_zero() and not h.can_fua()
assert not h.can_fast_zero()
h.set_strict_mode(0)
for f in (lambda: h.pwrite(b"x" * 512, 0),
          lambda: h.trim(512, 0),
          lambda: h.zero(512, 0)):
    try:
        f()
        assert False, "write on a read-only export succeeded"
    except nbd.Error as e:
        assert e.errnum == errno.EPERM, e
assert h.pread(512, 0) == bytearray(512)
'
