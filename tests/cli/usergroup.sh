#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# usergroup.sh: -u/-g change user and group after binding, drop
# supplementary groups and set no_new_privs; unknown names are errors.
# As root it drops to nobody; otherwise it "changes" to the current ids.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

if [ "$(id -u)" -eq 0 ]; then
    u=nobody; g=$(id -gn nobody)
    chmod 755 "$tmp" # nobody must reach the socket
else
    u=$(id -un); g=$(id -gn)
fi
uid=$(id -u "$u"); gid=$(getent group "$g" | cut -d: -f3)

start_server -u "$u" -g "$g" -U "$sock" memory 1M
grep -E "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid" "/proc/$pid/status"
grep -E "^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid" "/proc/$pid/status"
grep -E "^NoNewPrivs:[[:space:]]+1" "/proc/$pid/status"
if [ "$(id -u)" -eq 0 ]; then
    grep -E "^Groups:[[:space:]]*$gid[[:space:]]*$" "/proc/$pid/status"
fi
[ "$(nbdinfo --size "$uri")" = 1048576 ]
stop_server

# --user alone takes the user's primary group.
rm -f "$sock"
start_server --user "$u" -U "$sock" memory 1M
grep -E "^Gid:[[:space:]]+$(id -g "$u")[[:space:]]" "/proc/$pid/status"
stop_server

fails "$NBDX" -f -u no-such-user-xyz -U "$tmp/s2" memory 1M 2>"$tmp/err"
grep -q "unknown user 'no-such-user-xyz'" "$tmp/err"
fails "$NBDX" -f --group no-such-group-xyz -U "$tmp/s2" memory 1M 2>"$tmp/err"
grep -q "unknown group 'no-such-group-xyz'" "$tmp/err"
