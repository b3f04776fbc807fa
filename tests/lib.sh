# SPDX-License-Identifier: BSD-3-Clause
# lib.sh: shared helpers for the shell tests.  Source it with
#   . "$SRCDIR/tests/lib.sh"
# The meson test environment sets NBDX (the server binary), SRCDIR and
# BUILDDIR.  Every test runs in its own scratch directory, $tmp, which is
# removed at exit along with any server started by start_server.

set -eu
export PATH="/usr/bin:/usr/sbin:/bin:/sbin:$PATH" # distro python for nbdsh
: "${NBDX:?run this test through meson test}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nbdx-test.XXXXXX")
sock="$tmp/sock"
uri="nbd+unix:///?socket=$sock"
_pids=""
_cleanups=""

_watchdog=""

_on_exit() {
    local rc=$? p
    set +e
    test_status=$rc # for the cleanup functions
    if [ -n "$_watchdog" ]; then
        pkill -P "$_watchdog" 2>/dev/null
        kill "$_watchdog" 2>/dev/null
    fi
    for c in $_cleanups; do "$c"; done
    for p in $_pids; do
        kill "$p" 2>/dev/null
    done
    for p in $_pids; do
        # Give the server 5 s to exit cleanly, then kill it.
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    # A failed test shows the end of the server's log.
    if [ "$rc" != 0 ] && [ -s "$tmp/server.log" ]; then
        echo "==== last lines of the server log:" >&2
        tail -n 30 "$tmp/server.log" >&2
    fi
    rm -rf "$tmp"
    exit $rc
}
trap _on_exit EXIT
trap 'exit 1' INT TERM

# Run a function at exit (before servers are killed); $test_status is
# then the test's exit status.
cleanup_fn() { _cleanups="$_cleanups $1"; }

# watchdog SECONDS: a test still running after SECONDS says so, with
# what it was waiting for, and that command is ended: the test then
# fails through its exit trap, which stops its servers and daemons and
# shows their logs.  (meson's own timeout kills the test without that,
# since bash runs the TERM trap only after the command it waits for.)
# Give it a little less than the test's meson timeout.
watchdog() {
    (
        sleep "$1" </dev/null >/dev/null 2>&1 &
        wait $!
        echo "FAIL: the test is still running after $1 s; its commands:" >&2
        ps -o pid,etimes,args --ppid $$ >&2
        # Its own children: what the test waits for and its daemons,
        # this watchdog too.
        pkill -TERM -P $$
    ) &
    _watchdog=$!
}

# Skip (exit 77) unless every named program is installed.
requires() {
    local p
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p not installed"; exit 77; }
    done
}

# start_server [NBDX ARGS...]: run nbdx in the foreground with a pidfile,
# wait until it is ready, and remember its pid in $pid.  Pass -U "$sock"
# (or -p PORT) yourself.  Server stderr goes to $tmp/server.log.
start_server() {
    # A name never used before in this test: a stale pidfile would make
    # an old, dead server look started.
    local pidfile
    pidfile=$(mktemp -u "$tmp/server.pid.XXXXXXXX")
    "$NBDX" -f -P "$pidfile" "$@" 2>>"$tmp/server.log" &
    local bg=$!
    _pids="$_pids $bg"
    for _ in $(seq 100); do
        if [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            return 0
        fi
        kill -0 "$bg" 2>/dev/null || { cat "$tmp/server.log" >&2; echo "server died" >&2; return 1; }
        sleep 0.1
    done
    echo "server did not start in 10 s" >&2
    cat "$tmp/server.log" >&2
    return 1
}

# Stop the server started last and wait for it.  Like nbdkit, nbdx leaves
# its unix socket behind; remove $sock so the next server can bind it.
stop_server() {
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$sock"
}

# nbdsh with the socket of start_server: nbdsh_u -c 'PYTHON'
nbdsh_u() { nbdsh -u "$uri" "$@"; }

# Assert that a command fails.
fails() { if "$@"; then echo "expected failure: $*" >&2; return 1; fi; }
