#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# sanitizer-wrapper.sh TEST [ARGS...]: run one test of a sanitizer build
# (ASan+UBSan or TSan) so that any sanitizer report fails it.
#   meson test -C build-asan --wrapper "$PWD/fuzzing/sanitizer-wrapper.sh"
#
# Tests stop their servers with SIGTERM and do not look at the exit
# status, so a report printed at exit (a leak, a data race) would pass
# unnoticed.  Instead every instrumented process of the test writes its
# reports to a private directory, and the test fails if that is not
# empty afterwards, with the reports in its log.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# Plugins stay mapped (no dlclose) so reports can name their functions.
export NBDX_VALGRIND=1
export NBDX_SANITIZER=1
logs=$(mktemp -d "${TMPDIR:-/tmp}/nbdx-sanitizer.XXXXXX")
# Servers that drop privileges (-u, -g) must still be able to report.
chmod 1777 "$logs"

# halt_on_error: the first report ends the process.  LSan runs at exit
# (detect_leaks); lsan.supp says which leaks are by design, and why.
export ASAN_OPTIONS="log_path=$logs/asan:halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${NBDX_ASAN_OPTIONS:+:$NBDX_ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$logs/ubsan:halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="log_path=$logs/tsan:suppressions=$here/tsan.supp:halt_on_error=0:second_deadlock_stack=1${NBDX_TSAN_OPTIONS:+:$NBDX_TSAN_OPTIONS}"

"$@"
status=$?
if [ -n "$(ls -A "$logs")" ]; then
    for f in "$logs"/*; do
        echo "==== sanitizer report: $f" >&2
        cat "$f" >&2
    done
    status=1
fi
rm -rf "$logs"
exit "$status"
