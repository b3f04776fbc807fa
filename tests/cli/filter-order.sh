#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# filter-order.sh: --filter=NAME finds filters by short name (build tree,
# then $NBDX_FILTER_PATH first); the first --filter on the command line is
# the outermost layer, and filters get their parameters.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

# --dump-plugin lists the layers from the plugin outward.
"$NBDX" --filter=log --filter=offset memory --dump-plugin >"$tmp/out"
grep -E '^(path|[a-z]+_path)=' "$tmp/out" | cut -d= -f1 >"$tmp/layers"
printf '%s\n' path offset_path log_path | diff -u - "$tmp/layers"
"$NBDX" --filter=offset --filter=log memory --dump-plugin >"$tmp/out"
grep -E '^(path|[a-z]+_path)=' "$tmp/out" | cut -d= -f1 >"$tmp/layers"
printf '%s\n' path log_path offset_path | diff -u - "$tmp/layers"

# Parameters reach the filter: offset=1M of a 3M disk leaves 2M.
"$NBDX" -U - --filter=offset memory 3M offset=1M \
    --run 'nbdinfo --size "$uri" >'"$tmp"'/size'
[ "$(cat "$tmp/size")" = 2097152 ]

# $NBDX_FILTER_PATH comes first.
mkdir "$tmp/f"
ln -s "$BUILDDIR/filters/log/nbdkit-log-filter.so" \
    "$tmp/f/nbdkit-offset-filter.so"
NBDX_FILTER_PATH="$tmp/f" "$NBDX" --filter=offset memory --dump-plugin \
    >"$tmp/out"
grep -qx "log_path=$tmp/f/nbdkit-offset-filter.so" "$tmp/out"
