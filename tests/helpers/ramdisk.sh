# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# ramdisk.sh: the checks every language plugin's example RAM disk must
# pass, sourced after tests/lib.sh.  The script under test keeps a
# writable 4 MiB disk, rotational, with flush, trim and zero, and fails a
# read of 7 bytes at offset 0 with EIO (its injected error).
#
#   ramdisk_source          make $tmp/src, the data the checks write
#   ramdisk_check URI       nbdcopy and qemu-img round trips of $tmp/src,
#                           then unaligned reads and writes, zero, trim,
#                           flush, FUA and the injected error through nbdsh

requires nbdcopy nbdsh qemu-img dd truncate cmp

ramdisk_source() {
    dd if=/dev/urandom of="$tmp/src" bs=1M count=3 status=none
    printf 'odd tail' >>"$tmp/src"
    truncate -s 4M "$tmp/src"
}

ramdisk_check() {
    nbdcopy "$tmp/src" "$1"
    qemu-img compare -f raw -F raw "$tmp/src" "$1"
    nbdcopy -- "$1" - >"$tmp/back"
    cmp "$tmp/src" "$tmp/back"
    tmp=$tmp nbdsh -u "$1" -c '
import os
src = open(os.environ["tmp"] + "/src", "rb").read()
assert h.get_size() == 4 * 1024 * 1024
assert not h.is_read_only()
assert h.can_flush() and h.can_trim() and h.can_zero() and h.is_rotational()
assert h.pread(13, 4090) == src[4090:4103]
h.pwrite(b"abcdefghij", 8190)
assert h.pread(20, 8185) == src[8185:8190] + b"abcdefghij" + src[8200:8205]
h.zero(5000, 100)
assert h.pread(5200, 0) == src[:100] + bytes(5000) + src[5100:5200]
h.trim(4096, 20480)
assert h.pread(12288, 12288) == src[12288:20480] + bytes(4096)
h.flush()
h.pwrite(b"x", 0, nbd.CMD_FLAG_FUA)
try:
    h.pread(7, 0)
    assert False, "the injected error did not fail the read"
except nbd.Error as e:
    assert e.errno == "EIO", (e.errno, e.string)
'
}
