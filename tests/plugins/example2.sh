#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# example2.sh: example2 file=F serves F's bytes read-only, at any
# alignment, with the size F has when the client connects; file= is
# required and must exist; -D example2.extra=1 logs the size.  Bytes and
# flags are those of nbdkit's example2 plugin when it is installed.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh nbdcopy
set -x

# 1 MiB + 3 bytes of varied data, given by a relative path.
head -c 1048579 /dev/urandom >"$tmp/disk"
cd "$tmp"
start_server -U "$sock" -v -D example2.extra=1 example2 file=disk
cd /
nbdsh_u -c "
data = open('$tmp/disk', 'rb').read()
assert h.get_size() == len(data) == 1048579
assert h.is_read_only()
for off, n in [(0, 1), (1, 4095), (4095, 8193), (len(data) - 3, 3),
               (0, len(data))]:
    assert h.pread(n, off) == data[off:off + n], (off, n)
try:
    h.pwrite(b'x', 0)
    assert False, 'write succeeded'
except nbd.Error:
    pass
"
grep -q 'extra debugging: st_size = 1048579' "$tmp/server.log"
# A new connection sees the file's new size.
truncate -s 2M "$tmp/disk"
[ "$(nbdinfo --size "$uri")" = 2097152 ]
nbdcopy "$uri" "$tmp/ours"
cmp "$tmp/disk" "$tmp/ours"
nbdinfo "$uri" | grep -Ev 'uri:|block_size_' >"$tmp/ours.info"
stop_server

# file= is required, must exist, and is not a magic key.
fails "$NBDX" -f -U "$tmp/s2" example2 2>"$tmp/err"
grep -q 'file=<FILENAME>' "$tmp/err"
fails "$NBDX" -f -U "$tmp/s2" example2 file="$tmp/missing" 2>"$tmp/err"
grep -q 'missing' "$tmp/err"
fails "$NBDX" -f -U "$tmp/s2" example2 "$tmp/disk" 2>/dev/null

if nbdkit example2 --dump-plugin >/dev/null 2>&1; then
    NBDX=nbdkit start_server -U "$sock" example2 file="$tmp/disk"
    nbdcopy "$uri" "$tmp/theirs"
    nbdinfo "$uri" | grep -Ev 'uri:|block_size_' >"$tmp/theirs.info"
    stop_server
    cmp "$tmp/ours" "$tmp/theirs"
    diff -u "$tmp/theirs.info" "$tmp/ours.info"
else
    echo "nbdkit's example2 plugin is not installed: not compared"
fi
