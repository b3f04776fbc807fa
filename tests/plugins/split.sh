#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# split.sh: the split plugin serves its files one after the other as one
# disk: the bytes are their concatenation (empty files take no room),
# reads and writes across the ends of files go to both, -r makes it
# read-only, block status gives each file's holes and data; a missing
# file fails at start and no file is an empty disk.  Bytes, flags and
# the allocation map are those of nbdkit's split plugin when it is
# installed.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh nbdcopy
set -x

# f1: 1 MiB with a little data in a hole; f2: 3 bytes; f3: empty;
# f4: 2 MiB + 5 bytes, data at the start, in the middle and at the end.
make_files() {
    rm -f "$tmp"/f?
    truncate -s 1M "$tmp/f1"
    printf abc | dd of="$tmp/f1" bs=1 seek=70000 conv=notrunc status=none
    printf xyz >"$tmp/f2"
    : >"$tmp/f3"
    head -c 4096 /dev/urandom >"$tmp/f4"
    truncate -s 2097157 "$tmp/f4"
    head -c 5000 /dev/urandom |
        dd of="$tmp/f4" bs=1 seek=1500000 conv=notrunc status=none
    printf 12345 | dd of="$tmp/f4" bs=1 seek=2097152 conv=notrunc status=none
    cat "$tmp"/f1 "$tmp"/f2 "$tmp"/f3 "$tmp"/f4 >"$tmp/joined"
}
make_files
files="$tmp/f1 file=$tmp/f2 $tmp/f3 file=$tmp/f4"

# The bytes, at every boundary, and every zero extent reads as zeroes.
check_disk() {
    nbdsh -c "
h = nbd.NBD()
h.add_meta_context('base:allocation')
h.connect_uri('$uri')
data = open('$tmp/joined', 'rb').read()
size = h.get_size()
assert size == len(data) == 3145736, size
for off, n in [(0, size), (1048570, 20), (1048576, 3), (1048578, 2),
               (1048579, 4096), (size - 6, 6), (size - 1, 1), (69999, 5)]:
    assert h.pread(n, off) == data[off:off + n], (off, n)
ext = []
h.block_status(size, 0, lambda c, o, e, err: ext.extend(e))
pos = 0
for i in range(0, len(ext), 2):
    n, t = ext[i], ext[i + 1]
    if t & nbd.STATE_ZERO:
        assert data[pos:pos + n] == bytes(n), (pos, n)
    pos += n
assert pos == size, pos
# REQ_ONE: a single extent, in the file holding the offset.
one = []
h.block_status(size - 1048576, 1048576, lambda c, o, e, err: one.extend(e),
               nbd.CMD_FLAG_REQ_ONE)
assert len(one) == 2 and 0 < one[0] <= 1048576, one
h.cache(size, 0)
"
}

start_server -U "$sock" split $files
check_disk
nbdcopy "$uri" "$tmp/ours"
cmp "$tmp/joined" "$tmp/ours"
nbdinfo "$uri" | grep -q 'is_read_only: false'
# Writes across f1|f2|f3|f4 and into the tail of f4 land in the files.
nbdsh_u -c '
h.pwrite(b"ABCDEFGH", 1048574)
h.pwrite(b"!", 3145735)
h.zero(2, 0)
'
[ "$(od -An -c -j 1048574 "$tmp/f1" | tr -d ' ')" = AB ]
[ "$(cat "$tmp/f2")" = CDE ]
[ ! -s "$tmp/f3" ]
[ "$(head -c 3 "$tmp/f4" | od -An -c | tr -d ' ')" = FGH ]
[ "$(tail -c 1 "$tmp/f4")" = '!' ]
[ "$(head -c 2 "$tmp/f1" | od -An -tx1 | tr -d ' ')" = 0000 ]
stop_server

# -r: read-only, the same bytes.
make_files
start_server -U "$sock" -r split $files
nbdsh_u -c '
assert h.is_read_only()
try:
    h.pwrite(b"x", 0)
    assert False, "write succeeded"
except nbd.Error:
    pass
'
check_disk
stop_server

# A missing file fails at start; no file at all is an empty disk.
fails "$NBDX" -f -U "$tmp/s2" split "$tmp/f1" "$tmp/missing" 2>"$tmp/err"
grep -q missing "$tmp/err"
start_server -U "$sock" split
[ "$(nbdinfo --size "$uri")" = 0 ]
stop_server

# What nbdx and nbdkit serve from the same files.
serve() {
    start_server -U "$sock" split $files
    nbdcopy "$uri" "$tmp/$1"
    nbdinfo --map "$uri" >"$tmp/$1.map"
    nbdinfo "$uri" | grep -Ev 'uri:|block_size_' >"$tmp/$1.info"
    stop_server
}
if nbdkit split --dump-plugin >/dev/null 2>&1; then
    make_files
    serve ours
    NBDX=nbdkit serve theirs
    cmp "$tmp/ours" "$tmp/theirs"
    diff -u "$tmp/theirs.map" "$tmp/ours.map"
    diff -u "$tmp/theirs.info" "$tmp/ours.info"
else
    echo "nbdkit's split plugin is not installed: not compared"
fi
