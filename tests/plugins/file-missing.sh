#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-missing.sh: serving a file that does not exist fails at startup
# with exit status 1 and the message
# "nbdx: file: open: PATH: No such file or directory".
. "$SRCDIR/tests/lib.sh"
set -x

rc=0
"$NBDX" -f -U "$sock" file "$tmp/missing" 2>"$tmp/err" || rc=$?
cat "$tmp/err"
[ "$rc" = 1 ]
grep -qxF "nbdx: file: open: $tmp/missing: No such file or directory" \
    "$tmp/err"
[ ! -e "$tmp/missing" ]
