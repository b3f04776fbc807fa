#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run-fuzzer.sh BINARY NAME SECONDS [ARTIFACT_DIR]: the short run of one
# fuzz target in the test suite.  Replays corpus/NAME and regressions/NAME
# (any crash fails the test), then mutates for SECONDS.  New inputs go to
# a scratch directory; crash, leak and timeout inputs are kept in
# ARTIFACT_DIR (default: ./fuzz-artifacts/NAME) for fuzzing/README.md's
# "turning a crash into a regression input".
set -eu
bin=$1 name=$2 secs=$3
here=$(cd "$(dirname "$0")" && pwd)
artifacts=${4:-$PWD/fuzz-artifacts/$name}
work=$(mktemp -d "${TMPDIR:-/tmp}/nbdx-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

set -- "$here/corpus/$name"
[ -d "$here/regressions/$name" ] && set -- "$@" "$here/regressions/$name"

# Any sanitizer report ends the run with a failure.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1:check_initialization_order=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

status=0
"$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
    -dict="$here/nbd.dict" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "$@" || status=$?
# libFuzzer exits 77 on a crash or leak, which meson would count as a skip.
[ "$status" = 77 ] && status=1
if [ "$status" != 0 ]; then
    echo "run-fuzzer.sh: $name failed; inputs kept in $artifacts:" >&2
    ls -l "$artifacts" >&2
fi
exit "$status"
