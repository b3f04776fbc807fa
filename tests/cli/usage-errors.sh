#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# usage-errors.sh: a bad command line exits 1 with exactly one line on
# stderr that names the problem.
. "$SRCDIR/tests/lib.sh"

# expect_usage_error PATTERN ARGS...: nbdx ARGS fails with status 1 and
# prints one line matching PATTERN.
expect_usage_error() {
    local pattern="$1" rc=0
    shift
    "$NBDX" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
    echo "nbdx $*: rc=$rc: $(cat "$tmp/err")"
    [ "$rc" -eq 1 ] || { echo "FAIL: expected exit 1" >&2; return 1; }
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || { echo "FAIL: not one line" >&2; return 1; }
    grep -q "^nbdx: .*$pattern" "$tmp/err" ||
        { echo "FAIL: no '$pattern'" >&2; return 1; }
    [ ! -s "$tmp/out" ] || { echo "FAIL: stdout not empty" >&2; return 1; }
}

expect_usage_error 'unknown option --foo; try nbdx --help' --foo memory 1M
expect_usage_error 'unknown option --foo' --foo=bar memory 1M
expect_usage_error 'unknown option -X' -X memory 1M
expect_usage_error 'option -p needs an argument' memory 1M -p
expect_usage_error 'option --run needs an argument' memory 1M --run
expect_usage_error 'no plugin given'
expect_usage_error 'no plugin given' -f -v
expect_usage_error 'cannot be combined' -s -U "$tmp/sock" memory 1M
expect_usage_error 'cannot be combined' -U "$tmp/sock" -p 10809 memory 1M
expect_usage_error '--log=nowhere' --log=nowhere memory 1M
expect_usage_error '--log=relative/path' --log=relative/path memory 1M
expect_usage_error '--tls=maybe' --tls=maybe memory 1M
expect_usage_error 'threads must be at least 1' -t 0 memory 1M
expect_usage_error 'SELinux' --selinux-label=foo memory 1M
expect_usage_error 'AF_VSOCK' --vsock memory 1M
# Only the first bare parameter of a plugin without a magic key is
# accepted (as script=); -f so a mistaken success cannot daemonise.
clitest="$BUILDDIR/tests/cli/nbdkit-clitest-plugin.so"
expect_usage_error "parameter 'two' must be KEY=VALUE" -f -U "$tmp/sock" \
    "$clitest" one two
expect_usage_error "parameter '/x=y' must be KEY=VALUE" -f -U "$tmp/sock" \
    "$clitest" a=1 /x=y
expect_usage_error "plugin 'nosuchplugin' not found" nosuchplugin
expect_usage_error "filter 'nosuchfilter' not found" \
    --filter=nosuchfilter memory 1M
