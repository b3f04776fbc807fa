#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run-tests.sh [BUILDDIR [MESON TEST ARGS...]]: run the test suite with
# every nbdx server under valgrind (memcheck).  Local use, not CI: it is
# slow.  Examples:
#   valgrind/run-tests.sh                       # all of build/
#   valgrind/run-tests.sh build --suite protocol
set -eu
here=$(cd "$(dirname "$0")" && pwd)
builddir=${1:-build}
[ $# -gt 0 ] && shift
command -v valgrind >/dev/null || {
    echo "run-tests.sh: valgrind is not installed" >&2
    exit 1
}
# Servers start and stop several times slower.
exec meson test -C "$builddir" --wrapper "$here/wrap-test.sh" \
    --logbase valgrind --timeout-multiplier 4 --print-errorlogs "$@"
