#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tcp-ipv4.sh: nbdinfo reaches a server listening on 127.0.0.1 and a free port.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo nbdsh python3
set -x

port=$(free_port 127.0.0.1)
start_server -i 127.0.0.1 -p "$port" memory 1M
expect_eq "size over IPv4" 1048576 \
    "$(nbdinfo --size "nbd://127.0.0.1:$port")"
nbdsh -u "nbd://127.0.0.1:$port" -c '
h.pwrite(b"tcp4" * 128, 0)
assert h.pread(512, 0) == b"tcp4" * 128
'
