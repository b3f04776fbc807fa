#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-block-device.sh: the file plugin serves a block device (a loop
# device): its size, its sector sizes as block sizes, the rotational flag
# from sysfs, and reads, writes, zero (BLKZEROOUT) and trim.
. "$SRCDIR/tests/lib.sh"
requires nbdsh losetup
set -x

truncate -s 16M "$tmp/backing"
dev=$(losetup -f --show "$tmp/backing" 2>/dev/null) ||
    { echo "SKIP: cannot create a loop device"; exit 77; }
detach() { losetup -d "$dev" 2>/dev/null || true; }
cleanup_fn detach
export dev
rot=$(cat "/sys/block/${dev#/dev/}/queue/rotational")
export rot

start_server -U "$sock" file "$dev"
nbdsh_u -c '
import os
h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_ALIGN)
assert h.get_size() == 16 << 20
assert h.is_rotational() == (os.environ["rot"] == "1")
assert h.get_block_size(nbd.SIZE_MINIMUM) == 512
assert h.get_block_size(nbd.SIZE_PREFERRED) >= 4096
data = os.urandom(1 << 20)
h.pwrite(data, 1 << 20)
h.pwrite(b"unaligned", 3, nbd.CMD_FLAG_FUA)
assert h.pread(1 << 20, 1 << 20) == data
assert h.pread(9, 3) == b"unaligned"
h.zero(65536, 1 << 20, nbd.CMD_FLAG_NO_HOLE)    # BLKZEROOUT
h.zero(1000, (1 << 20) + 70000)                   # unaligned: emulated
assert h.pread(65536, 1 << 20) == bytes(65536)
assert h.pread(1000, (1 << 20) + 70000) == bytes(1000)
assert h.pread(4464, (1 << 20) + 65536) == data[65536:70000]
h.trim(4096, 8 << 20)
h.flush()
'
# What went through the device reached the backing file.
detach
head -c 12 "$tmp/backing" | od -c | grep -q 'u   n   a'
