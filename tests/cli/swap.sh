#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# swap.sh: --swap locks the server's memory (mlockall): VmLck is non-zero.
. "$SRCDIR/tests/lib.sh"
set -x

start_server -U "$sock" memory 1M
grep -E '^VmLck:[[:space:]]+0 kB' "/proc/$pid/status"
stop_server

rm -f "$sock"
# The sanitizers' runtimes make mlockall a no-op (their shadow memory
# cannot be locked); NBDX_SANITIZER is set by fuzzing/sanitizer-wrapper.sh.
if [ -n "${NBDX_SANITIZER:-}" ]; then
    echo "SKIP: mlockall does nothing under the sanitizers"
    exit 77
fi
if ! start_server --swap -U "$sock" memory 1M; then
    # mlockall needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK.
    grep -q 'mlockall' "$tmp/server.log"
    echo "SKIP: mlockall not permitted here"
    exit 77
fi
fails grep -E '^VmLck:[[:space:]]+0 kB' "/proc/$pid/status"
