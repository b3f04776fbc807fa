#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-format.sh: an error inside a connection is logged as
# "nbdx: NAME[CONN]: message" and control characters from the client are
# escaped, so a client cannot forge log lines.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"

start_server -U "$sock" "$clitest"
nbdsh -c '
h.set_export_name("fail\x1b[31m\nforged line")
try:
    h.connect_unix("'"$sock"'")
    assert False, "connect should fail"
except nbd.Error as e:
    print(e)
'
cat "$tmp/server.log"
grep -Eq '^nbdx: clitest\[[0-9]+\]: open: refusing export fail\\x1b\[31m\\x0aforged line$' \
    "$tmp/server.log"
fails grep -q '^forged line' "$tmp/server.log"
