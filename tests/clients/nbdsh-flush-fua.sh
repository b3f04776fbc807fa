#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdsh-flush-fua.sh: flush and FUA writes succeed and are advertised;
# data written with FUA is readable on a second connection.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh
set -x

start_server -U "$sock" memory 1M
nbdsh_u -c '
assert h.can_flush()
assert h.can_fua()
h.pwrite(b"A" * 4096, 0, nbd.CMD_FLAG_FUA)
h.pwrite(b"B" * 4096, 4096)
h.flush()
h2 = nbd.NBD()
h2.connect_uri(h.get_uri())
assert h2.pread(8192, 0) == b"A" * 4096 + b"B" * 4096
h2.shutdown()
'
