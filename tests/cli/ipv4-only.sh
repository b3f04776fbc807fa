#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ipv4-only.sh: -4 with no -i listens on IPv4 only, -6 on IPv6 only.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo python3
set -x

port=$(free_port 127.0.0.1)
python3 "$SRCDIR/tests/helpers/free-port.py" ::1 >/dev/null ||
    { echo "SKIP: no IPv6 loopback"; exit 77; }

start_server -4 -p "$port" memory 1M
expect_eq "-4 on IPv4" 1048576 "$(nbdinfo --size "nbd://127.0.0.1:$port")"
fails nbdinfo --size "nbd://[::1]:$port"
stop_server

port=$(free_port ::1)
start_server -6 -p "$port" memory 1M
expect_eq "-6 on IPv6" 1048576 "$(nbdinfo --size "nbd://[::1]:$port")"
fails nbdinfo --size "nbd://127.0.0.1:$port"
