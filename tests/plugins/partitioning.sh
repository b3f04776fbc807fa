#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# partitioning.sh: the partitioning plugin joins files into an MBR or GPT
# disk that sfdisk reads with the expected starts, sizes and types, whose
# partitions read back as the files (directly and through
# --filter=partition), with the GPT CRCs right; writes reach the files,
# writes that would change the tables or the padding fail; and the disk
# is nbdkit's partitioning plugin's, byte for byte except the random GPT
# partition GUIDs, when nbdkit is installed.
. "$SRCDIR/tests/lib.sh"
requires sfdisk nbdcopy nbdinfo nbdsh blkid
set -x

cd "$tmp"
head -c 1000 /dev/urandom >a
head -c 3000000 /dev/urandom >b
head -c 512 /dev/urandom >c
for i in 1 2 3 4 5 6; do head -c $((i * 700)) /dev/urandom >p$i; done
head -c 1048576 /dev/urandom >m1
ln -s a 0123456789012345678901234567890123456789
: >empty

# Check the GPT CRCs of an image, then print it with the CRCs and the
# random unique partition GUIDs zeroed.
cat >norm.py <<'EOF'
import struct, sys, zlib
d = bytearray(open(sys.argv[1], "rb").read())
if d[512:520] == b"EFI PART":
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
        for i in range(cnt):
            d[ent + i * esz + 16:ent + i * esz + 32] = bytes(16)
sys.stdout.buffer.write(d)
EOF

# Partition N of image IMG as sfdisk sees it, read back, equals FILE.
part_is() {
    local img=$1 n=$2 file=$3 start size
    read -r start size < <(sfdisk -d "$img" |
        sed -n "s|^$img$n : start= *\([0-9]*\), size= *\([0-9]*\).*|\1 \2|p")
    [ "$size" = $((($(stat -c %s "$file") + 511) / 512)) ]
    cmp -n "$(stat -c %s "$file")" <(tail -c +$((start * 512 + 1)) "$img") "$file"
}

# MBR: the default for up to four files, 1M alignment, first bootable.
start_server -U "$sock" partitioning a mbr-id=0x82 b mbr-id=default c
[ "$(nbdinfo --size "$uri")" = $((10241 * 512)) ]
nbdcopy "$uri" mbr.img
stop_server; rm -f "$sock"
sfdisk -d mbr.img >mbr.txt
cat mbr.txt
grep -q '^label: dos' mbr.txt
grep -q '^mbr.img1 : start= *2048, size= *2, type=83, bootable$' mbr.txt
grep -q '^mbr.img2 : start= *4096, size= *5860, type=82$' mbr.txt
grep -q '^mbr.img3 : start= *10240, size= *1, type=83$' mbr.txt
part_is mbr.img 1 a && part_is mbr.img 2 b && part_is mbr.img 3 c
blkid -p mbr.img | grep -q 'PTTYPE="dos"'

# MBR with more than four files: three primaries, then logical ones.
"$NBDX" -U - partitioning partition-type=mbr p1 p2 p3 p4 p5 p6 \
    --run 'nbdcopy "$uri" ext.img'
sfdisk -d ext.img | tee ext.txt
grep -q '^ext.img4 : start= *6149, size= *6148, type=f$' ext.txt
for i in 1 2 3; do part_is ext.img $i p$i; done
for i in 4 5 6; do part_is ext.img $((i + 1)) p$i; done
sfdisk -l ext.img | grep -q '^ext.img7 .* 12288 '

# GPT, chosen for more than four files; names, types, backup header.
"$NBDX" -U - partitioning alignment=4k p1 p2 \
    type-guid=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F p3 type-guid=default \
    p4 p5 --run 'nbdcopy "$uri" gpt.img'
sfdisk -d gpt.img | tee gpt.txt
grep -q '^label: gpt' gpt.txt
grep -q '^first-lba: 34$' gpt.txt
grep -q 'gpt.img1 : start= *40, size= *2, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=.*, name="p1", attrs="LegacyBIOSBootable"' gpt.txt
grep -q 'gpt.img3 : start= *56, size= *5, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=.*, name="p3"$' gpt.txt
for i in 1 2 3 4 5; do part_is gpt.img $i p$i; done
python3 norm.py gpt.img >/dev/null
sfdisk --verify gpt.img 2>&1 | tee verify.txt
grep -q '^No errors detected' verify.txt

# A partition served back through our partition filter is the file.
"$NBDX" -U - --filter=partition partitioning partition-type=gpt a b c \
    partition=2 --run 'nbdcopy "$uri" part2'
cmp -n 3000000 part2 b
[ "$(stat -c %s part2)" = $((5860 * 512)) ]

# Writes: the files take them; the tables and padding only take what
# they hold.
cp a a2
start_server -U "$sock" partitioning a2 b
nbdsh_u -c '
mbr = h.pread(512, 0)
h.pwrite(mbr, 0)
h.pwrite(b"Z" * 10, 1048576)
h.pwrite(bytes(24), 1048576 + 1000)
h.pwrite(bytes(512), 4096)
h.flush()
for data, off in [(b"x", 0), (b"y" * 24, 1048576 + 1000), (b"q", 4096)]:
    try:
        h.pwrite(data, off)
        assert False, "write at %d succeeded" % off
    except nbd.Error as e:
        assert e.errno == "EIO", e.errno
assert h.pread(10, 1048576) == b"Z" * 10
'
stop_server; rm -f "$sock"
[ "$(head -c 10 a2)" = ZZZZZZZZZZ ]
cmp -i 10 a a2
[ "$(stat -c %s a2)" = 1000 ]

# Bad parameters.
for args in "" "empty" "alignment=1536 a" "alignment=2M a" "mbr-id=0x100 a" \
    "type-guid=xyz a" "partition-type=foo a" "missing"; do
    # shellcheck disable=SC2086 # split on purpose
    fails "$NBDX" -U - partitioning $args --run true
done

# The same disks as nbdkit's, when it is installed.
if ! command -v nbdkit >/dev/null ||
    ! nbdkit partitioning --dump-plugin >/dev/null 2>&1; then
    echo "nbdkit's partitioning plugin is not installed: not compared"
    exit 0
fi
mkdir many
for i in $(seq 1 130); do head -c 512 /dev/urandom >many/$i; done
while read -r args; do
    # shellcheck disable=SC2086 # split on purpose
    "$NBDX" -U - partitioning $args --run 'nbdcopy "$uri" ours.img'
    # shellcheck disable=SC2086
    nbdkit -U - partitioning $args --run 'nbdcopy "$uri" theirs.img'
    python3 norm.py ours.img >ours.n
    python3 norm.py theirs.img >theirs.n
    cmp ours.n theirs.n
done <<EOF
a b c
partition-type=gpt a b c
p1 p2 p3 p4 p5 p6
partition-type=mbr p1 p2 p3 p4 p5 p6
partition-type=mbr m1 m1 m1 m1 m1 m1
partition-type=mbr alignment=512 p1 m1 m1 p2 m1 p3
alignment=512 a b c
alignment=4096 a mbr-id=0x82 b mbr-id=12 c
a type-guid=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F b type-guid=default c partition-type=gpt
$tmp/a ./b 0123456789012345678901234567890123456789 partition-type=gpt
alignment=512 $(echo "$tmp"/many/*)
EOF
for r in "" -r; do
    "$NBDX" $r -U - partitioning a b c --run 'nbdinfo "$uri"' |
        grep -E '^\s(is_|can_)' >ours.flags
    nbdkit $r -U - partitioning a b c --run 'nbdinfo "$uri"' |
        grep -E '^\s(is_|can_)' >theirs.flags
    diff ours.flags theirs.flags
done
