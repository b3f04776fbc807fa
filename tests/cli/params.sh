#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# params.sh: KEY=VALUE goes to .config as is; a bare first parameter of a
# plugin without a magic key becomes script=VALUE; a value whose "key" is
# not a valid key is a bare value; the magic key takes bare values.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"

"$NBDX" "$clitest" --dump-plugin my.script a=1 b.c-d_e=x=y e= >"$tmp/out"
grep '^clitest_config' "$tmp/out" >"$tmp/seen"
cat >"$tmp/want" <<'EOT'
clitest_config script=my.script
clitest_config a=1
clitest_config b.c-d_e=x=y
clitest_config e=
EOT
diff -u "$tmp/want" "$tmp/seen"

# /dir/x=1 is a bare value (not key "/dir/x"), but one with '=': only
# bare values without '=' can become script=.
fails "$NBDX" "$clitest" --dump-plugin /dir/x=1

# memory's magic key is size.
"$NBDX" -U - memory 3M --run 'nbdinfo --size "$uri" >'"$tmp"'/size'
[ "$(cat "$tmp/size")" = 3145728 ]
