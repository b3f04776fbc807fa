#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ddrescue.sh: a 4 MiB image and a hand-written GNU ddrescue mapfile with
# bad (-), non-trimmed (*), non-scraped (/) and non-tried (?) blocks and
# a gap: reads inside finished (+) blocks return the image's bytes,
# through nbdx's file plugin (zero-copy reads) and nbdkit's (.pread);
# reads touching any other byte fail with EIO, nbdcopy of the whole
# export fails; the export is read-only; malformed mapfiles are refused
# at start with the line named; same export as nbdkit's filter.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
fileso="${memory%/*}/nbdkit-file-plugin.so"

head -c $((4 << 20)) /dev/urandom >"$tmp/disk.img"
cat >"$tmp/disk.map" <<'MAP'
# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue /dev/sdb disk.img disk.map
# current_pos  current_status  current_pass
0x00180000     +               1
#      pos        size  status
0x00000000  0x00100000  +
0x00100000  0x00001000  -
0x00101000  0x0000F000  +
0x00110000  0x00010000  +

0x00120000  0x00002000  *
0x00122000  0x00002000  /
0x00124000  0x0001C000  +
0x00140000  0x00000200  ?
0x00140200  0x0003FE00  +
0x00190000  0x00260000  +
MAP
# The gap 0x180000-0x190000 is undescribed; the map stops 0x10000 early.

probe='
import errno
ok = [(0, 1 << 20), (0x101000, 0x1F000), (0x124000, 0x1C000),
      (0x140200, 0x3FE00), (0x190000, 0x260000), (0x12345, 1000)]
bad = [(0x100000, 1), (0xFFFFF, 2), (0x100FFF, 1), (0x120000, 512),
       (0x11FFFF, 2), (0x123FFF, 1), (0x140000, 0x400), (0x17FFFF, 2),
       (0x185000, 1), (0x3FFFFF, 1), (0x3EFFFF, 2), (0, 4 << 20)]
disk = open("'"$tmp/disk.img"'", "rb").read()
assert h.is_read_only()
assert not h.can_cache()
for off, n in ok:
    assert h.pread(n, off) == disk[off:off + n], (hex(off), n)
for off, n in bad:
    try:
        h.pread(n, off)
        raise SystemExit("read of %d at %#x succeeded" % (n, off))
    except nbd.Error as e:
        assert e.errno == "EIO", (hex(off), n, e.errno)
try:
    h.pwrite(b"x", 0)
    raise SystemExit("a write succeeded")
except nbd.Error:
    pass
'
# nbdx's file plugin (zero-copy reads, checked by the extension) and
# nbdkit's (.pread); without -r, the filter makes the export read-only.
for plugin in file "$fileso"; do
    start_server -U "$sock" --filter=ddrescue "$plugin" file="$tmp/disk.img" \
        ddrescue-mapfile="$tmp/disk.map"
    nbdsh_u -c "$probe"
    fails nbdcopy "$uri" "$tmp/copy"
    stop_server
done
# memory below (its zero-copy reads are memory pieces).
start_server -U "$sock" --filter=ddrescue memory 4M \
    ddrescue-mapfile="$tmp/disk.map"
nbdsh_u -c '
h.pread(4096, 0x1FF000)
for off in (0x100000, 0x180000, 0x3FFFFF):
    try:
        h.pread(1, off)
        raise SystemExit("read at %#x succeeded" % off)
    except nbd.Error as e:
        assert e.errno == "EIO"
'
stop_server

# Same as nbdkit's filter, the first 1 MiB being one finished block.
same_as_nbdkit --filter=ddrescue "$fileso" file="$tmp/disk.img" \
    ddrescue-mapfile="$tmp/disk.map"

# refused MAPFILE-TEXT MESSAGE: nbdx does not start and says why.
refused() {
    printf '%s\n' "$1" >"$tmp/bad.map"
    fails "$NBDX" -U - --filter=ddrescue memory 1M \
        ddrescue-mapfile="$tmp/bad.map" --run true 2>"$tmp/err"
    cat "$tmp/err"
    grep -F "nbdx: ddrescue: $2" "$tmp/err"
}
refused '' "$tmp/bad.map: not a ddrescue mapfile: no status line"
refused '# only a comment' "$tmp/bad.map: not a ddrescue mapfile: no status line"
refused 'garbage' "$tmp/bad.map:1: not a ddrescue status line"
refused '0 X 1' "$tmp/bad.map:1: not a ddrescue status line"
refused '0 + 1 extra' "$tmp/bad.map:1: not a ddrescue status line"
refused '# c
0 +
0 0x100 Z' "$tmp/bad.map:3: not a ddrescue block line"
refused '0 +
0 zz +' "$tmp/bad.map:2: not a ddrescue block line"
refused '0 +
-1 0x10 +' "$tmp/bad.map:2: not a ddrescue block line"
refused '0 +
0 0x100' "$tmp/bad.map:2: not a ddrescue block line"
refused '0 +
0 0x100 + junk' "$tmp/bad.map:2: not a ddrescue block line"
refused '0 +
0 0x1000000000000000000 +' "$tmp/bad.map:2: not a ddrescue block line"
refused '0 +
0x200 0x100 +
0x100 0x100 -' "$tmp/bad.map:3: block at 0x100 overlaps or precedes"
refused '0 +
0 0x200 +
0x100 0x100 -' "$tmp/bad.map:3: block at 0x100 overlaps or precedes"
refused '0 +
0xffffffffffffff00 0x200 +' "$tmp/bad.map:2: block 0xffffffffffffff00 + 0x200 overflows"
refused "0 +
0 $(printf '%02000d' 1) +" "$tmp/bad.map:2: line too long"
printf '0 +\n0\0 1 +\n' >"$tmp/nul.map"
fails "$NBDX" -U - --filter=ddrescue memory 1M \
    ddrescue-mapfile="$tmp/nul.map" --run true 2>"$tmp/err"
grep -F "nbdx: ddrescue: $tmp/nul.map:2: NUL byte in the mapfile" "$tmp/err"
fails "$NBDX" -U - --filter=ddrescue memory 1M \
    ddrescue-mapfile="$tmp/none.map" --run true 2>"$tmp/err"
grep -F "nbdx: ddrescue: $tmp/none.map: No such file or directory" "$tmp/err"
fails "$NBDX" -U - --filter=ddrescue memory 1M --run true 2>"$tmp/err"
grep -F "nbdx: ddrescue: you must supply the ddrescue-mapfile parameter" \
    "$tmp/err"
