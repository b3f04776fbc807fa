#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-config.sh: the memory plugin needs size=, takes the size as its
# magic first parameter, accepts allocator=sparse and rejects the
# allocators nbdx does not have, with a message saying so.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

if "$NBDX" -f -U "$sock" memory 2>"$tmp/err"; then exit 1; fi
cat "$tmp/err"
grep -q 'size=' "$tmp/err"

if "$NBDX" -f -U "$sock" memory 1M allocator=malloc 2>"$tmp/err"; then
    exit 1
fi
cat "$tmp/err"
grep -q 'allocator=malloc is not supported' "$tmp/err"

start_server -U "$sock" memory size=3M allocator=sparse
[ "$(nbdinfo --size "$uri")" = 3145728 ]
start_server -U "$tmp/sock2" memory 1k
[ "$(nbdinfo --size "nbd+unix:///?socket=$tmp/sock2")" = 1024 ]
