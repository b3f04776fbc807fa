#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdinfo-plain.sh: nbdinfo shows the size and flags of a writable and a
# read-only memory export.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo
set -x

start_server -U "$sock" memory 1M
nbdinfo "$uri" >"$tmp/out"
cat "$tmp/out"
grep -Eq '^protocol: newstyle-fixed' "$tmp/out"
grep -Eq '^[[:space:]]*export-size: 1048576( |$)' "$tmp/out"
grep -Eq '^[[:space:]]*is_read_only: false$' "$tmp/out"
grep -Eq '^[[:space:]]*can_flush: true$' "$tmp/out"
grep -Eq '^[[:space:]]*can_trim: true$' "$tmp/out"
grep -Eq '^[[:space:]]*can_zero: true$' "$tmp/out"
stop_server; rm -f "$sock"

# -r: the same plugin, now read-only; write flags must disappear.
start_server -r -U "$sock" memory 2M
nbdinfo "$uri" >"$tmp/out"
cat "$tmp/out"
grep -Eq '^[[:space:]]*export-size: 2097152( |$)' "$tmp/out"
grep -Eq '^[[:space:]]*is_read_only: true$' "$tmp/out"
grep -Eq '^[[:space:]]*can_trim: false$' "$tmp/out"
grep -Eq '^[[:space:]]*can_zero: false$' "$tmp/out"

# The one-value queries agree.
expect_eq "nbdinfo --size" 2097152 "$(nbdinfo --size "$uri")"
nbdinfo --is readonly "$uri"
