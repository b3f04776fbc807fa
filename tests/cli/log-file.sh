#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-file.sh: --log=/PATH appends error messages to the file, and stderr
# stays quiet.
. "$SRCDIR/tests/lib.sh"
set -x
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"

echo "old line" >"$tmp/log"
for word in one two; do
    rc=0
    "$NBDX" -f --log="$tmp/log" -U "$sock" "$clitest" fail=$word \
        2>>"$tmp/err" || rc=$?
    [ "$rc" -eq 1 ]
done
cat "$tmp/log"
[ ! -s "$tmp/err" ]
cat >"$tmp/want" <<'EOT'
old line
nbdx: clitest: config failed: one
nbdx: clitest: config failed: two
EOT
diff -u "$tmp/want" "$tmp/log"
