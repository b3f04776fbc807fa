#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-io-patterns.sh: qemu-io writes patterns and verifies them (read -P),
# and a wrong expected pattern is detected.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires qemu-io
set -x

start_server -U "$sock" memory 4M
nbd="nbd:unix:$sock"
qemu-io -f raw "$nbd" \
    -c 'write -P 0x55 0 1M' \
    -c 'write -P 0xaa 1M 1M' \
    -c 'write -P 0x0f 1536k 4k' \
    -c 'write -z 3M 64k' 2>&1 | tee "$tmp/w.log"
qemu-io -f raw "$nbd" \
    -c 'read -P 0x55 0 1M' \
    -c 'read -P 0xaa 1M 512k' \
    -c 'read -P 0x0f 1536k 4k' \
    -c 'read -P 0xaa 1540k 508k' \
    -c 'read -P 0 3M 64k' 2>&1 | tee "$tmp/r.log"
if grep -Ei 'fail|error' "$tmp/w.log" "$tmp/r.log"; then
    echo "FAIL: qemu-io reported an error" >&2
    exit 1
fi
# Negative control: the wrong pattern must be reported.
qemu-io -f raw "$nbd" -c 'read -P 0x56 0 4k' 2>&1 | tee "$tmp/bad.log" || :
grep -q 'Pattern verification failed' "$tmp/bad.log"
