#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# pipes-fallback.sh: with -s on pipes (not a socket) the zero-copy READs
# and held-back replies are not used, and the same data round-trips
# through plain reads and writes.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
for plugin in "memory 64M" "file $tmp/disk"; do
    rm -f "$tmp/disk"
    truncate -s 64M "$tmp/disk"
    # shellcheck disable=SC2086
    /usr/bin/python3 "$SRCDIR/tests/perf-paths/roundtrip.py" --pipes \
        $((64 << 20)) "$NBDX" -v -s $plugin 2>"$tmp/log"
    fails grep -q 'pread count=.*(iov)\|pread count=.*(fd)' "$tmp/log"
done
