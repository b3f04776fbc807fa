#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-img-convert.sh: qemu-img convert raw -> nbd and nbd -> raw, checked
# with qemu-img compare and sha256.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires qemu-img
set -x

random_file "$tmp/src.img" 4096
# Leave a zero MiB so convert uses write_zeroes/trim too.
dd if=/dev/zero of="$tmp/src.img" bs=1M seek=1 count=1 conv=notrunc status=none
start_server -U "$sock" memory 4M
nbd="nbd:unix:$sock"
qemu-img convert -n -f raw -O raw "$tmp/src.img" "$nbd"
qemu-img compare -f raw -F raw "$tmp/src.img" "$nbd"
qemu-img convert -f raw -O raw "$nbd" "$tmp/dst.img"
same_files "$tmp/src.img" "$tmp/dst.img"
# compare must notice a difference, too.
printf 'X' | dd of="$tmp/dst.img" bs=1 seek=3000000 conv=notrunc status=none
fails qemu-img compare -q -f raw -F raw "$tmp/dst.img" "$nbd"
