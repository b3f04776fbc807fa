#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# podchecker.sh: every POD file in the source tree passes podchecker and
# has a NAME section (pod2man takes the page's one-line summary from it).
. "$SRCDIR/tests/lib.sh"
requires podchecker
set -x

find "$SRCDIR" \( -path "$SRCDIR/.git" -o -path "$BUILDDIR" -o -name 'build*' \) \
    -prune -o -name '*.pod' -print | sort >"$tmp/pods"
cat "$tmp/pods"
[ -s "$tmp/pods" ] || { echo "FAIL: no .pod files in $SRCDIR" >&2; exit 1; }

status=0
while read -r pod; do
    if ! podchecker "$pod" >"$tmp/out" 2>&1; then
        cat "$tmp/out" >&2
        echo "FAIL: podchecker: ${pod#"$SRCDIR"/}" >&2
        status=1
    fi
    if ! grep -q '^=head1 NAME' "$pod"; then
        echo "FAIL: no =head1 NAME: ${pod#"$SRCDIR"/}" >&2
        status=1
    fi
done <"$tmp/pods"
exit $status
