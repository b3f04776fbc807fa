#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# filter-doc-example.sh: the example filter in the SYNOPSIS of
# nbdx-filter(3) compiles against the headers with the documented command
# and does what it says: writes below 1M pass through, a write past 1M
# fails with EPERM.
. "$SRCDIR/tests/lib.sh"
requires cc nbdsh
set -x

# The indented code between SYNOPSIS and "Build and run it:".
awk '/^=head1 SYNOPSIS/ { on = 1; next }
     /^Build and run it:/ { exit }
     on && /^ / { print substr($0, 2); next }
     on && /^$/ { print }' "$SRCDIR/docs/nbdx-filter.pod" >"$tmp/myfilter.c"
cat "$tmp/myfilter.c"
grep -q NBDKIT_REGISTER_FILTER "$tmp/myfilter.c"
cc -shared -fPIC -Wall -Werror -I"$SRCDIR/include" -I"$BUILDDIR" \
    "$tmp/myfilter.c" -o "$tmp/nbdkit-myfilter-filter.so"

start_server -U "$sock" --filter="$tmp/nbdkit-myfilter-filter.so" memory 10M
nbdsh_u -c '
h.pwrite(b"a" * 4096, 1024 * 1024 - 4096)
assert h.pread(4096, 1024 * 1024 - 4096) == b"a" * 4096
try:
    h.pwrite(b"b" * 4096, 1024 * 1024 - 2048)
    raise SystemExit("write past 1M was not refused")
except nbd.Error as e:
    import errno
    assert e.errnum == errno.EPERM, e
'
grep -q 'write past 1M refused' "$tmp/server.log"
