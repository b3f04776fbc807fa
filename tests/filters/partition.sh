#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# partition.sh: MBR disks (primary and logical partitions) and GPT disks
# made by sfdisk: each partition reads back as the bytes dd cuts out of
# the disk, as with nbdkit's filter; writes stay inside the partition;
# a disk without a table, an empty, missing or out-of-disk partition
# fails the client's connection with a clear message.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires sfdisk
set -x
fileso="${memory%/*}/nbdkit-file-plugin.so"

# mkdisk NAME SFDISK-SCRIPT: a 16 MiB disk, random data, then the table.
mkdisk() {
    head -c $((16 << 20)) /dev/urandom >"$tmp/$1"
    sfdisk -q "$tmp/$1" <<<"$2"
}
mkdisk mbr 'label: dos
start=2048, size=4096, type=83
start=8192, size=16384, type=5
start=10240, size=2048, type=83
start=14336, size=4096, type=83'
mkdisk gpt 'label: gpt
start=2048, size=4096
start=6144, size=8192
start=20480, size=2048'

# check DISK N START SIZE (sectors): partition N is those bytes.
check() {
    start_server -r -U "$sock" --filter=partition file "$tmp/$1" partition=$2
    [ "$(nbdinfo --size "$uri")" = $(($4 * 512)) ]
    nbdcopy "$uri" "$tmp/out"
    stop_server
    cmp "$tmp/out" <(dd if="$tmp/$1" bs=512 skip=$3 count=$4 status=none)
    same_as_nbdkit -r --filter=partition "$fileso" file="$tmp/$1" partition=$2
}
check mbr 1 2048 4096
check mbr 5 10240 2048
check mbr 6 14336 4096
check gpt 1 2048 4096
check gpt 2 6144 8192
check gpt 3 20480 2048

# Writes land inside partition 2 and nowhere else.
cp "$tmp/gpt" "$tmp/gpt.orig"
start_server -U "$sock" --filter=partition file "$tmp/gpt" partition=2
nbdsh_u -c '
h.pwrite(b"P" * 4096, 0)
h.pwrite(b"Q" * 4096, h.get_size() - 4096)
try:
    h.pwrite(b"R", h.get_size())
    raise SystemExit("a write past the partition succeeded")
except nbd.Error:
    pass
'
stop_server
cmp -l "$tmp/gpt.orig" "$tmp/gpt" | awk '{print $1 - 1}' >"$tmp/changed"
[ "$(head -1 "$tmp/changed")" -ge $((6144 * 512)) ]
[ "$(tail -1 "$tmp/changed")" -lt $(((6144 + 8192) * 512)) ]

# refused DISK N MESSAGE: the client cannot connect; the log says why.
refused() {
    start_server -r -U "$sock" --filter=partition file "$tmp/$1" partition=$2
    fails nbdinfo "$uri"
    stop_server
    grep -F "$3" "$tmp/server.log"
}
refused mbr 3 "MBR partition 3 is empty"
refused mbr 2 "MBR partition 2 is an extended partition"
refused mbr 7 "MBR partition 7 not found"
refused gpt 4 "GPT partition 4 is unused"
refused gpt 200 "GPT partition 200 not found: the table has 128 entries"
head -c 1M /dev/zero >"$tmp/blank"
refused blank 1 "disk does not contain an MBR or GPT partition table"
# A partition that runs past the end of a truncated disk.
head -c $((8 << 20)) "$tmp/mbr" >"$tmp/short"
refused short 6 "partition 6 lies beyond the end of the disk"
# A GPT header gone: the protective MBR alone.
cp "$tmp/gpt" "$tmp/nogpt"
dd if=/dev/zero of="$tmp/nogpt" bs=512 seek=1 count=1 conv=notrunc status=none
refused nogpt 1 "protective MBR, but no GPT header at sector 1"
"$NBDX" -U - --filter=partition "$memory" size=1M --run true 2>"$tmp/err" &&
    exit 1
grep 'you must supply the partition parameter' "$tmp/err"
