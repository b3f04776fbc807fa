#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# single.sh: -s serves one client on stdin/stdout, started by the client
# itself, and the data path works over the pipe.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

for opt in -s --single --stdin; do
    nbdsh -c '
h.connect_command(["'"$NBDX"'", "'"$opt"'", "memory", "1M"])
assert h.get_size() == 1048576
h.pwrite(b"single" * 100, 4096)
assert h.pread(600, 4096) == b"single" * 100
'
done
