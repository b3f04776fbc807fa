#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# mkdisk.sh RAW SIZE FILESDIR: make RAW, a disk of SIZE bytes (a number) with a DOS
# partition table and one ext4 partition from sector 2048 to the end,
# holding the files of FILESDIR.  Needs no root and no mount: mke2fs
# writes the filesystem into the partition's place with -E offset.
set -eu
raw=$1 size=$2 files=$3
rm -f "$raw"
truncate -s "$size" "$raw"
echo 'start=2048, type=83' | sfdisk -q "$raw"
part_bytes=$(( size - 2048 * 512 ))
mke2fs -q -F -t ext4 -d "$files" -E offset=$(( 2048 * 512 )) \
    "$raw" $(( part_bytes / 1024 ))k
