#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-io-aio.sh: overlapping asynchronous qemu-io requests in flight at
# once (aio_write, aio_read, aio_flush) give the expected data.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires qemu-io
set -x

start_server -U "$sock" memory 8M
nbd="nbd:unix:$sock"
args=()
for i in $(seq 0 15); do
    args+=(-c "aio_write -P $((i + 1)) $((i * 512))k 512k")
done
args+=(-c 'aio_flush')
for i in $(seq 0 15); do
    args+=(-c "aio_read -P $((i + 1)) $((i * 512))k 512k")
done
args+=(-c 'aio_flush')
qemu-io -f raw "$nbd" "${args[@]}" 2>&1 | tee "$tmp/aio.log"
if grep -Ei 'fail|error' "$tmp/aio.log"; then
    echo "FAIL: qemu-io reported an error" >&2
    exit 1
fi
expect_eq "completed reads" 16 "$(grep -c '^read 524288/524288' "$tmp/aio.log")"
expect_eq "completed writes" 16 "$(grep -c '^wrote 524288/524288' "$tmp/aio.log")"
