#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# thread-exit.sh: the server joins its connection threads before it
# unloads the plugin and exits, so no thread is still in its
# thread-local destructors (OpenSSL's, say) while exit frees what they
# use: after one client, several at once (threads that then leave the
# idle pool or stay in it), and a client connected at the quit.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
plugin="$BUILDDIR/tests/cli/nbdkit-threadexit-plugin.so"

for clients in 1 4 hold; do
    start_server -U "$sock" "$plugin"
    case $clients in
    hold)
        nbdsh -u "$uri" -c 'import time; h.pread(512, 0); time.sleep(20)' &
        _pids="$_pids $!"
        sleep 1
        ;;
    *)
        cpids=""
        for _ in $(seq "$clients"); do
            nbdsh_u -c 'h.pread(512, 0)' &
            cpids="$cpids $!"
        done
        for c in $cpids; do wait "$c"; done
        ;;
    esac
    sleep 0.5
    stop_server
    grep "threadexit: unload" "$tmp/server.log"
    grep -q "unload with 0 thread(s) still exiting" "$tmp/server.log"
    : >"$tmp/server.log"
done
