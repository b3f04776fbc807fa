#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# wrap-test.sh TEST [ARGS...]: the meson test wrapper of run-tests.sh.
# Points $NBDX at valgrind/nbdx for the test, then fails the test if
# valgrind reported anything in any server it started.
set -u
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d "${TMPDIR:-/tmp}/nbdx-valgrind.XXXXXX")
export NBDX_VALGRIND=1 # plugins.c and filters.c skip dlclose
export NBDX_VALGRIND_REAL="$NBDX"
export NBDX_VALGRIND_LOGS="$logs"
export NBDX="$here/nbdx"

"$@"
status=$?
for f in "$logs"/*; do
    [ -s "$f" ] || continue
    echo "==== valgrind report: $f" >&2
    cat "$f" >&2
    status=1
done
rm -rf "$logs"
exit "$status"
