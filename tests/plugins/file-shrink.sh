#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-shrink.sh: when the served file shrinks under a connection, a read
# past its new end fails with an error (it does not hang or return
# garbage), and the connection keeps working for the part that is left.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export tmp

head -c 1M /dev/urandom >"$tmp/disk"
start_server -U "$sock" file "$tmp/disk"
timeout 30 /usr/bin/nbdsh -u "$uri" -c '
import os
assert h.get_size() == 1 << 20
head = h.pread(4096, 0)
os.truncate(os.environ["tmp"] + "/disk", 256 << 10)
try:
    h.pread(4096, 512 << 10)
    assert False, "read past the end of the shrunk file succeeded"
except nbd.Error as e:
    print("expected error:", e)
assert h.pread(4096, 0) == head
'
