#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# options-docs.sh: every option that --short-options and --long-options
# list is in --help and in nbdx(1), and nbdx(1) documents no option the
# binary lacks.
. "$SRCDIR/tests/lib.sh"

pod="$SRCDIR/docs/nbdx.pod"
"$NBDX" --short-options >"$tmp/short"
"$NBDX" --long-options >"$tmp/long"
"$NBDX" --help >"$tmp/help"
[ "$(wc -l <"$tmp/short")" -eq 18 ] || { echo "FAIL: short options" >&2; exit 1; }
[ "$(wc -l <"$tmp/long")" -ge 50 ]
grep -q '^--run$' "$tmp/long"

rc=0
while read -r opt; do
    # In --help an option starts after [, | or a space and ends at |, ],
    # a space, = or the end of the line.
    grep -Eq -- "(^|[[| ])$opt([]| =|]|$)" "$tmp/help" ||
        { echo "FAIL: $opt not in --help" >&2; rc=1; }
    # In the man page each option has an =item B<OPT> or B<OPT=...> line.
    grep -Eq -- "^=item B<$opt[>=]" "$pod" ||
        { echo "FAIL: $opt not in nbdx.pod (=item B<$opt>)" >&2; rc=1; }
done < <(cat "$tmp/short" "$tmp/long")

# The other way: every =item B<-...> in the man page is a real option.
while read -r opt; do
    grep -qx -- "$opt" "$tmp/short" "$tmp/long" ||
        { echo "FAIL: nbdx.pod documents unknown option $opt" >&2; rc=1; }
done < <(sed -n 's/^=item B<\(-[^>=]*\)[>=].*/\1/p' "$pod" | sort -u)
exit $rc
