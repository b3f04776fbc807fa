# SPDX-License-Identifier: BSD-3-Clause
# blockdisk.sh: checks of a writable disk kept as one object per 64K
# block (the s3 and swift plugins), sourced after tests/lib.sh, with
# $tmp exported.
#
#   blockdisk_writes   on the disk at $uri, whose bytes are in
#                      $tmp/disk.img (4 MiB: data in [0, 1M) and
#                      [2M, 2.5M), holes elsewhere): unaligned writes
#                      across block boundaries in parallel, a trim of a
#                      block and a half, a zero of part of a block; all
#                      read back, the bytes then left in $tmp/expect;
#                      the holes that nbdinfo --map then shows are
#                      exactly the blocks never written or trimmed

blockdisk_writes() {
    nbdsh_u -c '
import os
t = os.environ["tmp"]
exp = bytearray(open(t + "/disk.img", "rb").read())
B = 65536
writes = [(os.urandom(100001), 5 * B - 777),
          (os.urandom(3), 16 * B - 1),         # a data block and a hole
          (os.urandom(B + 2), 40 * B - 1),     # three blocks, two were holes
          (os.urandom(1000), 6 * B + 40000)]   # a block the first ends in
cookies = [h.aio_pwrite(d, o) for d, o in writes]
while h.aio_in_flight() > 0:
    h.poll(-1)
for c in cookies:
    assert h.aio_command_completed(c)
for d, o in writes:
    exp[o:o + len(d)] = d
h.trim(B + B // 2, 10 * B)     # block 10 a hole, half of 11 kept
exp[10 * B:11 * B] = bytes(B)
h.zero(100, 12 * B + 10)
exp[12 * B + 10:12 * B + 110] = bytes(100)
h.flush()
assert h.pread(h.get_size(), 0) == exp
open(t + "/expect", "wb").write(exp)
assert h.can_trim() and h.can_zero() and h.can_flush() and h.can_fua()
assert h.can_multi_conn()
'
    nbdinfo --map "$uri" | tee "$tmp/map"
    [ "$(awk '{print $1, $2, $3}' "$tmp/map")" = "0 655360 0
655360 65536 3
720896 393216 0
1114112 983040 3
2097152 655360 0
2752512 1441792 3" ]
}
