#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# truncate.sh: truncate=, round-up= and round-down= as nbdkit's filter;
# past the end below, reads are zeroes, the map a hole, zero writes pass
# and others fail with EIO; a power of 2 is required.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
for a in truncate=512K truncate=3M "truncate=1000 round-up=512" \
    round-up=4M "truncate=1000000 round-down=4096"; do
    same_as_nbdkit --filter=truncate "$memory" size=1M $a
done
head -c 1000 /dev/urandom >"$tmp/small"
start_server -U "$sock" --filter=truncate file "$tmp/small" round-up=4096
[ "$(nbdinfo --size "$uri")" = 4096 ]
nbdinfo --map "$uri" | grep -E '^ +1000 +3096 +3 +hole,zero$'
nbdsh_u -c '
data = open("'"$tmp/small"'", "rb").read()
assert h.pread(4096, 0) == data + bytes(3096)
h.pwrite(bytes(3096), 1000)
h.pwrite(b"y" * 1000 + bytes(96), 0)
try:
    h.pwrite(b"z", 2000)
    raise SystemExit("a non-zero write past the end succeeded")
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
h.zero(2000, 1500)
'
stop_server
[ "$(stat -c %s "$tmp/small")" = 1000 ]
cmp "$tmp/small" <(printf 'y%.0s' $(seq 1000))
"$NBDX" -U - --filter=truncate "$memory" size=1M round-up=3 --run true \
    2>"$tmp/err" && exit 1
grep 'the round-up parameter must be a power of 2' "$tmp/err"
