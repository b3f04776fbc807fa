#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# declared-symbols.sh: every function the public headers declare for
# plugins and filters (NBDKIT_EXTERN_DECL) is exported by the nbdx binary,
# so a plugin that calls it can be loaded.
. "$SRCDIR/tests/lib.sh"
requires nm
set -x

cat "$SRCDIR"/include/nbdkit-*.h | tr -s ' \n\t' ' ' |
    grep -oE 'NBDKIT_EXTERN_DECL ?\([^,]+, ?nbdkit_[a-z0-9_]+' |
    grep -oE 'nbdkit_[a-z0-9_]+$' | sort -u >"$tmp/declared"
cat "$tmp/declared"
[ "$(wc -l <"$tmp/declared")" -gt 20 ] ||
    { echo "FAIL: could not find the declarations" >&2; exit 1; }

nm -D --defined-only "$NBDX" | awk '$2 ~ /^[TW]$/ { print $3 }' | sort -u \
    >"$tmp/exported"
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$missing" ]; then
    echo "FAIL: declared in include/ but not exported by $NBDX:" >&2
    echo "$missing" >&2
    exit 1
fi
