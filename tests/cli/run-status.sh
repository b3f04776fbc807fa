#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# run-status.sh: the server exits when the --run command ends, with the
# command's exit status (128+N if a signal killed it).
. "$SRCDIR/tests/lib.sh"
set -x

rc=0; "$NBDX" memory 1M --run 'exit 0' || rc=$?
[ "$rc" -eq 0 ]
rc=0; "$NBDX" memory 1M --run 'exit 3' || rc=$?
[ "$rc" -eq 3 ]
rc=0; "$NBDX" memory 1M --run 'kill -USR1 $$' || rc=$?
[ "$rc" -eq $((128 + 10)) ]
# The command sees the server's stdout.
[ "$("$NBDX" memory 1M --run 'echo hello')" = hello ]
