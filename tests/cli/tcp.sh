#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tcp.sh: -i ADDR -p PORT listens on that address only, on 127.0.0.1 and
# [::1], and --print-uri names it.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo python3
set -x

p4=$(free_port 127.0.0.1)
start_server -i 127.0.0.1 -p "$p4" --print-uri memory 1M >"$tmp/uri4"
expect_eq "IPv4 URI" "nbd://127.0.0.1:$p4" "$(cat "$tmp/uri4")"
expect_eq "IPv4 size" 1048576 "$(nbdinfo --size "nbd://127.0.0.1:$p4")"
stop_server

p6=$(free_port ::1)
start_server -i ::1 -p "$p6" --print-uri memory 2M >"$tmp/uri6"
expect_eq "IPv6 URI" "nbd://[::1]:$p6" "$(cat "$tmp/uri6")"
expect_eq "IPv6 size" 2097152 "$(nbdinfo --size "nbd://[::1]:$p6")"
# Listening on ::1 only: 127.0.0.1 is refused.
fails nbdinfo --size "nbd://127.0.0.1:$p6"
