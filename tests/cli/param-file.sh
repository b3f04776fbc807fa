#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# param-file.sh: @PATH reads parameters from a file, one per line, with
# comments and blank lines skipped, nested files relative to their own
# directory, and the parameters in command-line order.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"

mkdir "$tmp/conf"
cat >"$tmp/conf/main" <<'EOT'
# a comment
  a=1

b=two words  
@./more
EOT
echo 'c=3' >"$tmp/conf/more"
cd "$tmp"
"$NBDX" "$clitest" --dump-plugin x=0 @./conf/main d=4 >"$tmp/out"
grep '^clitest_config' "$tmp/out" >"$tmp/seen"
cat >"$tmp/want" <<'EOT'
clitest_config x=0
clitest_config a=1
clitest_config b=two words
clitest_config c=3
clitest_config d=4
EOT
diff -u "$tmp/want" "$tmp/seen"

# It works for real parameters: memory's size from a file.
echo 'size=2M' >"$tmp/conf/mem"
"$NBDX" memory "@$tmp/conf/mem" --run 'nbdinfo --size "$uri" >'"$tmp"'/size'
[ "$(cat "$tmp/size")" = 2097152 ]

# A missing file is an error naming it.
fails "$NBDX" memory @./conf/nonexistent 2>"$tmp/err"
grep -q 'conf/nonexistent' "$tmp/err"
