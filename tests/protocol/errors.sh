#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Plugin errors reach the client with the right errno: the full plugin
# fails writes with ENOSPC, in both reply styles.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" full 1M
for sr in True False; do
URI="$uri" SR="$sr" nbdsh -c '
import errno, os
h.set_request_structured_replies(os.environ["SR"] == "True")
h.connect_uri(os.environ["URI"])
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "write to the full plugin succeeded"
except nbd.Error as e:
    assert e.errnum == errno.ENOSPC, e
assert h.pread(512, 0) == bytearray(512)
'
done
