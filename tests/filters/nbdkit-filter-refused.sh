#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-filter-refused.sh: as nbdx-filter(3) promises, a filter binary
# built for nbdkit is refused at start-up with a message that says so,
# rather than loaded and misread.
. "$SRCDIR/tests/lib.sh"
set -x

so=$(ls /usr/lib/*/nbdkit/filters/nbdkit-offset-filter.so 2>/dev/null | head -n1)
if [ -z "$so" ]; then
    echo "SKIP: Debian's nbdkit filters are not installed"
    exit 77
fi
fails "$NBDX" -f -U "$sock" --filter="$so" null 1M 2>"$tmp/err"
cat "$tmp/err"
grep -q 'built for nbdkit (filter API 6)' "$tmp/err"
grep -q 'rebuild it against' "$tmp/err"
[ ! -e "$sock" ]
