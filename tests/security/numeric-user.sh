#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# numeric-user.sh: as root, -u with a number that has no passwd entry
# (so no group to take) still drops root's supplementary groups, sets
# no_new_privs and serves clients as that uid.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
uid=54321
! getent passwd "$uid" || { echo "SKIP: uid $uid exists"; exit 77; }

start_server -u "$uid" -U "$sock" memory 1M
grep -E "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid" "/proc/$pid/status"
grep -E "^Groups:[[:space:]]*$" "/proc/$pid/status"
grep -E "^NoNewPrivs:[[:space:]]+1" "/proc/$pid/status"
[ "$(nbdinfo --size "$uri")" = 1048576 ]
