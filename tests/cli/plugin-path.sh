#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# plugin-path.sh: a short plugin name is looked up in $NBDX_PLUGIN_PATH
# (DIR/nbdkit-NAME-plugin.so, then DIR/NAME/...) before the build tree;
# anything else is a path.
. "$SRCDIR/tests/lib.sh"
set -x
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"

# The build tree beside the binary.
"$NBDX" memory --dump-plugin | grep -qx "path=$(realpath "$BUILDDIR/plugins/memory/nbdkit-memory-plugin.so")"

# Not found anywhere: a clear error.
fails "$NBDX" clitest --dump-plugin 2>"$tmp/err"
grep -q "plugin 'clitest' not found" "$tmp/err"

# DIR/nbdkit-NAME-plugin.so, second directory of the path.
mkdir -p "$tmp/a" "$tmp/b" "$tmp/c/clitest"
ln -s "$clitest" "$tmp/b/nbdkit-clitest-plugin.so"
NBDX_PLUGIN_PATH="$tmp/a:$tmp/b" "$NBDX" clitest --dump-plugin >"$tmp/out"
grep -qx "path=$tmp/b/nbdkit-clitest-plugin.so" "$tmp/out"

# DIR/NAME/nbdkit-NAME-plugin.so.
ln -s "$clitest" "$tmp/c/clitest/nbdkit-clitest-plugin.so"
NBDX_PLUGIN_PATH="$tmp/c" "$NBDX" clitest --dump-plugin >"$tmp/out"
grep -qx "path=$tmp/c/clitest/nbdkit-clitest-plugin.so" "$tmp/out"

# The path comes before the build tree: a "memory" that is really clitest.
ln -s "$clitest" "$tmp/a/nbdkit-memory-plugin.so"
NBDX_PLUGIN_PATH="$tmp/a" "$NBDX" memory --dump-plugin >"$tmp/out"
grep -qx "name=clitest" "$tmp/out"

# A name with a dot or slash is a path.
cd "$tmp/b"
"$NBDX" ./nbdkit-clitest-plugin.so --dump-plugin | grep -qx "name=clitest"
