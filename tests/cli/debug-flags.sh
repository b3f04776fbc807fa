#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# debug-flags.sh: -D NAME.FLAG=N sets NAME_debug_FLAG (dots become
# underscores) in the layer; nbdx.* sets the server's own flags; unknown
# flags and layers are warned about; bad syntax is an error.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"

"$NBDX" -D clitest.level=42 --debug clitest.a.b=-7 "$clitest" --dump-plugin \
    >"$tmp/out" 2>"$tmp/err"
grep -qx 'clitest_debug_level=42' "$tmp/out"
grep -qx 'clitest_debug_a_b=-7' "$tmp/out"
[ ! -s "$tmp/err" ]

"$NBDX" -D clitest.nosuch=1 -D otherlayer.x=1 "$clitest" --dump-plugin \
    >/dev/null 2>"$tmp/err"
cat "$tmp/err"
grep -q 'warning: -D clitest.nosuch: .*clitest_debug_nosuch' "$tmp/err"

# The unused-flag warning comes at exit of a server that ran.
"$NBDX" -D otherlayer.x=1 -U - memory 1M --run true 2>"$tmp/err2"
grep -q 'warning: debug flag -D otherlayer.x was not used' "$tmp/err2"

# nbdx.backend.datapath=0 silences the per-request debug messages of -v.
"$NBDX" -v -U - memory 1M --run 'nbdsh -u "$uri" -c "h.pread(512, 0)"' \
    2>"$tmp/loud"
grep -q 'pread count' "$tmp/loud"
"$NBDX" -v -D nbdx.backend.datapath=0 -U - memory 1M \
    --run 'nbdsh -u "$uri" -c "h.pread(512, 0)"' 2>"$tmp/quiet"
fails grep -q 'pread count' "$tmp/quiet"
# nbdkit.FLAG is the same thing.
"$NBDX" -v -D nbdkit.backend.datapath=0 -U - memory 1M \
    --run 'nbdsh -u "$uri" -c "h.pread(512, 0)"' 2>"$tmp/quiet2"
fails grep -q 'pread count' "$tmp/quiet2"

fails "$NBDX" -D noflag "$clitest" --dump-plugin 2>"$tmp/bad"
grep -q 'NAME.FLAG=N' "$tmp/bad"
fails "$NBDX" -D clitest.level=abc "$clitest" --dump-plugin
