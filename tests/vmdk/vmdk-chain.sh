#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vmdk-chain.sh: snapshots.  A delta disk (qemu-img create -b) reads its
# base through the chain, writes go to the delta only, a chain of three
# maps base data as data; a loop in the chain, a missing parent and a
# delta without parentFileNameHint fail with a clear error.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/vmdk/vmdk-lib.sh"
set -x

make_raw "$tmp/raw" 8
vmdk_of "$tmp/raw" monolithicSparse "$tmp/base.vmdk"
cp "$tmp/base.vmdk" "$tmp/base.orig"
qemu-img create -q -f vmdk -b base.vmdk -F vmdk "$tmp/mid.vmdk"
qemu-img create -q -f vmdk -b mid.vmdk -F vmdk "$tmp/top.vmdk"

# Read through the chain; the map shows the base's data.
serve "$tmp/top.vmdk"
nbdcopy "$uri" "$tmp/out"
cmp "$tmp/raw" "$tmp/out"
nbdinfo --map "$uri" | grep ' data'
nbdinfo --map "$uri" | grep 'hole,zero'
/usr/bin/python3 "$ops" write "$uri" "$tmp/raw" 9 100 2
stop_server
cmp "$tmp/base.vmdk" "$tmp/base.orig"
qemu-img check "$tmp/top.vmdk"
qemu-img compare -F raw "$tmp/top.vmdk" "$tmp/raw"
serve -r "$tmp/top.vmdk"
nbdcopy "$uri" "$tmp/out"
cmp "$tmp/raw" "$tmp/out"
stop_server

# A loop: a text descriptor that is its own parent, and two that name
# each other.
cat >"$tmp/loop.vmdk" <<DESC
# Disk DescriptorFile
version=1
CID=12345678
parentCID=87654321
createType="monolithicFlat"
parentFileNameHint="loop.vmdk"
RW 16384 FLAT "loop-flat.vmdk" 0
DESC
truncate -s 8M "$tmp/loop-flat.vmdk"
fails "$NBDX" -U - "$vmdk" "$tmp/loop.vmdk" --run true 2>"$tmp/err"
cat "$tmp/err"
grep 'loop.vmdk: a loop in the chain of parent disks' "$tmp/err"
sed 's/loop.vmdk"/loop2.vmdk"/' "$tmp/loop.vmdk" >"$tmp/loop1.vmdk"
sed 's/loop.vmdk"/loop1.vmdk"/' "$tmp/loop.vmdk" >"$tmp/loop2.vmdk"
fails "$NBDX" -U - "$vmdk" "$tmp/loop1.vmdk" --run true 2>"$tmp/err"
grep 'loop1.vmdk: a loop in the chain' "$tmp/err"

# A missing parent, and a delta without a parent's name.
sed 's/loop.vmdk"/gone.vmdk"/' "$tmp/loop.vmdk" >"$tmp/orphan.vmdk"
fails "$NBDX" -U - "$vmdk" "$tmp/orphan.vmdk" --run true 2>"$tmp/err"
grep 'gone.vmdk: No such file or directory' "$tmp/err"
grep -v parentFileNameHint "$tmp/loop.vmdk" >"$tmp/nohint.vmdk"
fails "$NBDX" -U - "$vmdk" "$tmp/nohint.vmdk" --run true 2>"$tmp/err"
grep 'without parentFileNameHint' "$tmp/err"
