#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# floppy.sh: the floppy plugin serves, read-only, an MBR disk whose one
# partition at 1M is a virtual FAT32 filesystem of a directory tree:
# fsck.fat -n finds nothing wrong, mtools lists the long and short names,
# label and dates and copies every file back identical, links are left
# out; size= sets the disk size with free space; and with size= the disk
# size and boot sector are nbdkit's floppy plugin's (but for the fields
# nbdx sets on purpose), when nbdkit is installed.
. "$SRCDIR/tests/lib.sh"
requires sfdisk nbdcopy nbdinfo nbdsh blkid fsck.fat mdir mcopy
set -x
export TZ=UTC MTOOLS_NO_VFAT=0

cd "$tmp"
mkdir -p tree/sub/deeper tree/emptydir
echo hello >tree/hello.txt
touch -d '2021-03-04 05:06:08' tree/hello.txt
head -c 100000 /dev/urandom >tree/sub/multi-cluster.bin
echo one >"tree/sub/Long File Name 1.txt"
echo two >"tree/sub/Long File Name 2.txt"
echo x >tree/sub/deeper/UPPER.TXT
echo dot >tree/.hidden
echo é >"tree/café.txt"
: >tree/empty
ln -s hello.txt tree/link

start_server -U "$sock" floppy tree label=TESTLABEL
nbdinfo "$uri" | grep -q 'is_read_only: true'
nbdcopy "$uri" disk.img
stop_server; rm -f "$sock"
sfdisk -d disk.img | tee sfdisk.txt
grep -q '^disk.img1 : start= *2048, size=.*, type=c$' sfdisk.txt

"$NBDX" -U - --filter=partition floppy tree label=TESTLABEL partition=1 \
    --run 'nbdcopy "$uri" fat.img'
fsck.fat -n -v fat.img | tee fsck.txt
grep -q 'fat.img: 12 files, ' fsck.txt
blkid -p fat.img | tee blkid.txt
grep -q 'TYPE="vfat"' blkid.txt
grep -q 'LABEL="TESTLABEL"' blkid.txt

mdir -/ -i fat.img :: | tee mdir.txt
grep -q 'Volume in drive : is TESTLABEL' mdir.txt
grep -q '^HELLO    TXT         6 2021-03-04   5:06  hello.txt$' mdir.txt
grep -q ' Long File Name 1.txt$' mdir.txt
grep -q ' Long File Name 2.txt$' mdir.txt
grep -q ' café.txt$' mdir.txt
grep -q ' \.hidden$' mdir.txt
grep -q ' multi-cluster.bin$' mdir.txt
fails grep -q ' link$' mdir.txt
# The short names in one directory are unique.
[ "$(grep -c '^LONGFI~' mdir.txt)" = 2 ]

mkdir out
mcopy -s -n -m -i fat.img ::/ out/
rm tree/link
diff -r tree out
[ "$(stat -c %Y out/hello.txt)" = "$(date -d '2021-03-04 05:06:08' +%s)" ]

# size=: the disk is that size and the filesystem has the free space.
"$NBDX" -U - --filter=partition floppy tree size=2G partition=1 \
    --run 'nbdcopy "$uri" big.img; nbdinfo --size "$uri"' >bigsize
[ "$(cat bigsize)" = $((2 * 1024 * 1024 * 1024 - 1048576)) ]
fsck.fat -n big.img
mdir -i big.img :: | grep -q ' 2 14[0-9] [0-9]* [0-9]* bytes free'

# Failures: no directory, a missing one, a bad label, a size too small.
fails "$NBDX" -U - floppy --run true
fails "$NBDX" -U - floppy "$tmp/missing" --run true
fails "$NBDX" -U - floppy tree label=TWELVECHARSX --run true
fails "$NBDX" -U - floppy tree size=1M --run true

if ! command -v nbdkit >/dev/null ||
    ! nbdkit floppy --dump-plugin >/dev/null 2>&1; then
    echo "nbdkit's floppy plugin is not installed: not compared"
    exit 0
fi
# The boot sector and FSInfo, but for the jump (0-2), the geometry
# (24-27), the hidden sectors (28-31) and the drive number (64).
cat >bs.py <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read()[1048576:1048576 + 1024])
for i in list(range(0, 3)) + list(range(24, 32)) + [64]:
    d[i] = 0
sys.stdout.buffer.write(d)
PY
for s in 3M 10M 100M 1G; do
    "$NBDX" -U - floppy tree size=$s \
        --run 'nbdinfo --size "$uri"; nbdcopy "$uri" ours.img' >ours.size
    nbdkit -U - floppy tree size=$s \
        --run 'nbdinfo --size "$uri"; nbdcopy "$uri" theirs.img' >theirs.size
    cmp ours.size theirs.size
    python3 bs.py ours.img >ours.bs
    python3 bs.py theirs.img >theirs.bs
    cmp ours.bs theirs.bs
    cmp -n 512 ours.img theirs.img
done
