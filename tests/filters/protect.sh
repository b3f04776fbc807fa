#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# protect.sh: protect= ranges and their complement as nbdkit's filter; a
# write that would change protected bytes fails with EPERM and changes
# nothing, rewriting the same bytes and zeroing zeroes pass, reads and
# unprotected writes are untouched; bad ranges are refused.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
for a in protect=0-511 protect=0x1000- "protect=~4096-8191" \
    "protect=-0 protect=1048575-"; do
    same_as_nbdkit --filter=protect "$memory" size=1M $a
done
head -c 65536 /dev/urandom >"$tmp/disk"
cp "$tmp/disk" "$tmp/orig"
start_server -U "$sock" --filter=protect file "$tmp/disk" \
    protect=0-0x1bd protect='~0-49151'
nbdsh_u -c '
orig = open("'"$tmp/orig"'", "rb").read()
def refused(fn):
    try:
        fn()
    except nbd.Error as e:
        assert e.errno == "EPERM", e.errno
        return
    raise SystemExit("a write to a protected range succeeded")
assert h.pread(65536, 0) == orig
# Bytes unlike those on the (random) disk: a write of the same bytes is
# allowed.
def unlike(off, n):
    return bytes(b ^ 0xff for b in orig[off:off + n])
refused(lambda: h.pwrite(unlike(0x1bd, 1), 0x1bd))
refused(lambda: h.pwrite(unlike(49151, 2), 49151)) # one byte of it protected
refused(lambda: h.zero(512, 0))
refused(lambda: h.trim(4096, 60000))
h.pwrite(orig[:0x1be], 0)                        # the same bytes: fine
h.pwrite(b"p" * 66, 0x1be)                       # the partition table
h.pwrite(b"q" * 4096, 4096)
h.zero(8192, 8192)
h.flush()
assert h.pread(4096, 4096) == b"q" * 4096
h.zero(8192, 8192)                               # zeroes on zeroes
'
stop_server
python3 - "$tmp/disk" "$tmp/orig" <<'PY'
import sys
d, o = (open(f, "rb").read() for f in sys.argv[1:])
assert d[:0x1be] == o[:0x1be]
assert d[0x1be:0x200] == b"p" * 66
assert d[0x200:4096] == o[0x200:4096]
assert d[4096:8192] == b"q" * 4096
assert d[8192:16384] == bytes(8192)
assert d[16384:] == o[16384:]
PY
for bad in 5-1 x-2 1-2-3 12; do
    "$NBDX" -U - --filter=protect "$memory" size=1M protect=$bad --run true \
        2>"$tmp/err" && exit 1
    grep "protect: " "$tmp/err"
done
