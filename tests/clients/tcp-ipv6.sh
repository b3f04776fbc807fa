#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tcp-ipv6.sh: nbdinfo reaches a server listening on [::1] and a free port.
# Skips when the machine has no IPv6 loopback.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo nbdsh python3
set -x

port=$(free_port ::1)
start_server -i ::1 -p "$port" memory 1M
expect_eq "size over IPv6" 1048576 \
    "$(nbdinfo --size "nbd://[::1]:$port")"
nbdsh -u "nbd://[::1]:$port" -c '
h.pwrite(b"tcp6" * 128, 0)
assert h.pread(512, 0) == b"tcp6" * 128
'
