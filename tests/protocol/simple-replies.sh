#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Structured replies are negotiated by default and simple replies work
# when the client does not ask for them (no DF, no meta contexts then).
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 1M
URI="$uri" nbdsh -c '
import os
h.set_request_structured_replies(False)
h.add_meta_context("base:allocation")
h.connect_uri(os.environ["URI"])
assert not h.get_structured_replies_negotiated()
assert not h.can_df()
assert not h.can_meta_context("base:allocation")
h.pwrite(b"simple" * 100, 1000)
assert h.pread(600, 1000) == b"simple" * 100
h.set_strict_mode(0)
try:
    h.pread(1024, 1048576 - 512)
    assert False, "READ past the end succeeded"
except nbd.Error as e:
    import errno
    assert e.errnum == errno.EINVAL, e
assert h.pread(6, 1000) == b"simple"
'
