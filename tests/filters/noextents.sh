#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# noextents.sh: with the noextents filter a sparse export maps as one data
# extent, and it looks to a client as it does with nbdkit's filter.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
same_as_nbdkit --filter=noextents "$memory" size=1M
truncate -s 8M "$tmp/sparse"
start_server -U "$sock" --filter=noextents file "$tmp/sparse"
nbdinfo --map "$uri" | tee "$tmp/map"
[ "$(wc -l <"$tmp/map")" = 1 ]
grep -E '^ +0 +8388608 +0 +data$' "$tmp/map"
