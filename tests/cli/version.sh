#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# version.sh: -V/--version print "nbdx VERSION" (the version --dump-config
# reports); with a plugin also "NAME VERSION" for it.
. "$SRCDIR/tests/lib.sh"
set -x

v=$("$NBDX" --dump-config | sed -n 's/^version=//p')
[ -n "$v" ]
[ "$("$NBDX" --version)" = "nbdx $v" ]
[ "$("$NBDX" -V)" = "nbdx $v" ]

"$NBDX" -V memory >"$tmp/out"
[ "$(sed -n 1p "$tmp/out")" = "nbdx $v" ]
grep -Eq '^memory [0-9]' "$tmp/out"
[ "$(wc -l <"$tmp/out")" -eq 2 ]
