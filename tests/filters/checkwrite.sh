#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# checkwrite.sh: the checkwrite filter as nbdkit's (flags and a fixed
# request script over two plugins); over a file of random data with a
# hole, writes of the same bytes, zeroes over zeroes, flush and FUA
# succeed, a different byte anywhere (also past the first 1 MiB piece)
# fails with EIO and a logged error naming it, zero and trim over data
# fail, fast zero succeeds over a hole only (ENOTSUP elsewhere, and
# everywhere without block status); the file is never changed; nbdcopy and
# qemu-img copying the export onto itself succeed, and a copy of other
# data onto it fails.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires nbdcopy qemu-img
set -x
data="${memory%/*}/nbdkit-data-plugin.so"
same_as_nbdkit --filter=checkwrite "$memory" size=1M
[ ! -f "$data" ] || same_as_nbdkit --filter=checkwrite "$data" \
    "@4096 1 2 3 @65536 9" size=1M
disk="$tmp/disk"
head -c 2M /dev/urandom >"$disk"
truncate -s 4M "$disk"
head -c 1M /dev/urandom | dd of="$disk" bs=1M seek=3 conv=notrunc status=none
cp "$disk" "$tmp/orig"
start_server -U "$sock" --filter=checkwrite file "$disk"
nbdsh_u -c '
orig = open("'"$tmp/orig"'", "rb").read()
M = 1 << 20
def fails_with(errno, fn):
    try:
        fn()
    except nbd.Error as e:
        assert e.errno == errno, (e.errno, errno)
        return
    raise SystemExit("a request that should fail succeeded")
assert not h.is_read_only()
for f in ["can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero",
          "can_multi_conn"]:
    assert getattr(h, f)(), f
h.pwrite(orig[4096:4099], 4096)
h.pwrite(orig[:4 * M], 0)
h.pwrite(orig[M - 10:M + 10], M - 10, nbd.CMD_FLAG_FUA)
changed = bytearray(orig[:4 * M])
changed[3 * M + 5] ^= 0x80
fails_with("EIO", lambda: h.pwrite(bytes(changed), 0))
fails_with("EIO", lambda: h.pwrite(b"\0\0\0", 4096))
fails_with("EIO", lambda: h.pwrite(orig[4097:4100], 4096))
h.zero(M, 2 * M)
h.trim(4096, 2 * M + 4096)
fails_with("EIO", lambda: h.zero(4096, 0))
fails_with("EIO", lambda: h.zero(M + 1, 2 * M))
fails_with("EIO", lambda: h.trim(512, 3 * M))
h.zero(4096, 2 * M, nbd.CMD_FLAG_FAST_ZERO)      # block status: a hole
fails_with("ENOTSUP", lambda: h.zero(4096, 3 * M, nbd.CMD_FLAG_FAST_ZERO))
fails_with("ENOTSUP", lambda: h.zero(M, 2 * M + 1, nbd.CMD_FLAG_FAST_ZERO))
h.flush()
assert h.pread(4 * M, 0) == orig
'
grep "checkwrite: write of 4194304 bytes at 0 differs from the existing data at byte 3145733" "$tmp/server.log"
grep "checkwrite: write of 3 bytes at 4096 differs .* at byte 4096" "$tmp/server.log"
grep "checkwrite: zero of 1048577 bytes at 2097152 differs .* at byte 3145728" "$tmp/server.log"
cmp "$disk" "$tmp/orig"
# Copying the export onto itself passes; other data does not.
nbdcopy "$uri" "$uri"
qemu-img convert -n -f raw -O raw "$uri" "$uri"
head -c 4M /dev/urandom >"$tmp/other"
fails nbdcopy "$tmp/other" "$uri"
cmp "$disk" "$tmp/orig"
stop_server
# Without block status below, zeroes are read back and a fast zero is
# never possible.
start_server -U "$sock" --filter=checkwrite --filter=noextents file "$disk"
nbdsh_u -c '
M = 1 << 20
h.zero(M, 2 * M)
try:
    h.zero(4096, 2 * M, nbd.CMD_FLAG_FAST_ZERO)
    raise SystemExit("a fast zero succeeded")
except nbd.Error as e:
    assert e.errno == "ENOTSUP", e.errno
try:
    h.zero(M + 7, 2 * M)
    raise SystemExit("a zero over data succeeded")
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
'
stop_server
grep "checkwrite: zero of 1048583 bytes at 2097152 differs .* at byte 3145728" "$tmp/server.log"
