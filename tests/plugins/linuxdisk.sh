#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# linuxdisk.sh: the linuxdisk plugin serves, read-only, a GPT disk whose
# one partition at 1M holds an ext2/ext3/ext4 filesystem of the directory:
# sfdisk sees the partition, e2fsck finds the filesystem clean, blkid its
# type and label, debugfs the files, links and contents; size=+N leaves
# that much free; and sizes and tables are nbdkit's linuxdisk plugin's
# (except the random GUID and the type GUID nbdkit 1.32 gets wrong), when
# nbdkit is installed.
. "$SRCDIR/tests/lib.sh"
requires sfdisk nbdcopy nbdinfo nbdsh blkid e2fsck debugfs /sbin/mke2fs
set -x

cd "$tmp"
mkdir -p root/sub fstmp
echo hello >root/hello.txt
head -c 3000000 /dev/urandom >root/sub/random.bin
ln -s hello.txt root/link
ln root/hello.txt root/hard
chmod 0640 root/hello.txt

# Print an image with the GPT CRCs, the partition GUIDs and the
# filesystem zeroed, after checking the CRCs.
cat >norm.py <<'PY'
import struct, sys, zlib
d = bytearray(open(sys.argv[1], "rb").read())
assert d[512:520] == b"EFI PART"
n = len(d) // 512
for lba in (1, n - 1):
    h = lba * 512
    size, crc = struct.unpack_from("<II", d, h + 12)
    hdr = bytearray(d[h:h + size]); hdr[16:20] = bytes(4)
    assert zlib.crc32(hdr) == crc, "header CRC at LBA %d" % lba
    ent = struct.unpack_from("<Q", d, h + 72)[0] * 512
    cnt, esz, acrc = struct.unpack_from("<III", d, h + 80)
    assert zlib.crc32(d[ent:ent + cnt * esz]) == acrc, "entries CRC"
    d[h + 16:h + 20] = bytes(4); d[h + 88:h + 92] = bytes(4)
    d[ent:ent + 32] = bytes(32)
first, last = struct.unpack_from("<QQ", d, 1024 + 32)
d[first * 512:(last + 1) * 512] = bytes((last + 1 - first) * 512)
sys.stdout.buffer.write(d)
PY

TMPDIR="$tmp/fstmp" start_server -U "$sock" linuxdisk root label=TESTFS
[ -z "$(find fstmp -mindepth 1 -name 'linuxdisk*')" ]
nbdinfo "$uri" | grep -q 'is_read_only: true'
nbdcopy "$uri" disk.img
nbdsh_u -c '
try:
    h.pwrite(b"x", 1048576)
    assert False, "write succeeded"
except nbd.Error:
    pass
'
stop_server; rm -f "$sock"
sfdisk -d disk.img | tee sfdisk.txt
grep -q '^label: gpt' sfdisk.txt
grep -q '^first-lba: 34$' sfdisk.txt
grep -q '^disk.img1 : start= *2048, size=.*type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=.*attrs="LegacyBIOSBootable"$' sfdisk.txt
python3 norm.py disk.img >/dev/null

# The filesystem, alone through the partition filter, is the partition.
"$NBDX" -U - --filter=partition linuxdisk root partition=1 \
    --run 'nbdcopy "$uri" fs.img'
e2fsck -fn fs.img
blkid -p fs.img | tee blkid.txt
grep -q 'TYPE="ext2"' blkid.txt
# The same directory and parameters make the same sizes.
tail -c +$((2048 * 512 + 1)) disk.img | head -c "$(stat -c %s fs.img)" >part
e2fsck -fn part
[ "$(blkid -p -s LABEL -o value part)" = TESTFS ]
debugfs -R 'ls -l /' part | tee ls.txt
grep -q ' hello.txt$' ls.txt
grep -q ' sub$' ls.txt
grep -q ' link$' ls.txt
debugfs -R 'cat /hello.txt' part >hello.out
cmp hello.out root/hello.txt
debugfs -R 'dump /sub/random.bin random.out' part
cmp random.out root/sub/random.bin
debugfs -R 'stat /link' part | grep -q 'Fast link dest: "hello.txt"'
debugfs -R 'stat /hard' part | grep -q 'Links: 2'
debugfs -R 'stat /hello.txt' part | grep -q 'Mode:  0640'

# type=ext4, and size=+10M leaves at least 10M free.
"$NBDX" -U - --filter=partition linuxdisk root type=ext4 size=+10M \
    partition=1 --run 'nbdcopy "$uri" fs4.img'
e2fsck -fn fs4.img
[ "$(blkid -p -s TYPE -o value fs4.img)" = ext4 ]
free=$(dumpe2fs -h fs4.img 2>/dev/null | sed -n 's/^Free blocks: *//p')
bs=$(dumpe2fs -h fs4.img 2>/dev/null | sed -n 's/^Block size: *//p')
[ $((free * bs)) -ge $((10 * 1048576)) ]

# size=SIZE is the filesystem's size, in whole sectors.
"$NBDX" -U - linuxdisk root size=5000000 --run 'nbdinfo --size "$uri"' >sz
[ "$(cat sz)" = $(((2048 + 9766 + 33) * 512)) ]

# Failures: no directory, a missing one, a bad type, a size too small.
fails "$NBDX" -U - linuxdisk --run true
fails "$NBDX" -U - linuxdisk "$tmp/missing" --run true
fails "$NBDX" -U - linuxdisk root type=xfs --run true
fails "$NBDX" -U - linuxdisk root size=100k --run true

if ! command -v nbdkit >/dev/null ||
    ! nbdkit linuxdisk --dump-plugin >/dev/null 2>&1; then
    echo "nbdkit's linuxdisk plugin is not installed: not compared"
    exit 0
fi
while read -r args; do
    # shellcheck disable=SC2086 # split on purpose
    "$NBDX" -U - linuxdisk root $args --run 'nbdcopy "$uri" ours.img'
    # shellcheck disable=SC2086
    nbdkit -U - linuxdisk root $args --run 'nbdcopy "$uri" theirs.img'
    python3 norm.py ours.img >ours.n
    python3 norm.py theirs.img >theirs.n
    cmp ours.n theirs.n
done <<'ARGS'
label=TESTFS
size=+1000
size=5000000
type=ext3
type=ext4 size=+1M
ARGS
