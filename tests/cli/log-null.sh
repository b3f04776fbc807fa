#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-null.sh: --log=null drops error messages; the exit status still
# tells of the failure.  --log=stderr (and default) print them.
. "$SRCDIR/tests/lib.sh"
set -x
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"

rc=0
"$NBDX" -f --log=null -U "$sock" "$clitest" fail=boom 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ]
[ ! -s "$tmp/err" ]
for log in stderr default; do
    fails "$NBDX" -f --log=$log -U "$sock" "$clitest" fail=boom 2>"$tmp/err"
    grep -qx 'nbdx: clitest: config failed: boom' "$tmp/err"
done
