# SPDX-License-Identifier: BSD-3-Clause
# objstore.sh: checks shared by the tests of the object store plugins
# (s3, swift), sourced after tests/lib.sh, with $tmp exported.
#
#   objstore_images    make $tmp/obj.img (3145851 random bytes, not a
#                      multiple of 512) and $tmp/disk.img (4 MiB: random
#                      data in [0, 1M) and [2M, 2.5M), zeros elsewhere)
#   objstore_object ARGS...
#                      nbdx ARGS serves $tmp/obj.img read-only: nbdcopy
#                      and qemu-img read it, the last bytes too, and a
#                      write fails
#   objstore_fill ARGS...
#                      nbdx ARGS (a new writable 4 MiB disk of 64K
#                      blocks) starts as one hole; nbdcopy writes
#                      $tmp/disk.img, which qemu-img reads back, and the
#                      zero blocks are holes; the server is left running
#   blockdisk_writes   on that disk, at $uri: unaligned writes across
#                      block boundaries in parallel, a trim of a block
#                      and a half, a zero of part of a block; all read
#                      back, the bytes then left in $tmp/expect; the
#                      holes that nbdinfo --map then shows are exactly
#                      the blocks never written or trimmed
#   expect_start_error PATTERN ARGS...
#                      nbdx ARGS exits within 15 s with one error line,
#                      matching PATTERN

objstore_images() {
    head -c 3145851 /dev/urandom >"$tmp/obj.img"
    python3 - "$tmp/disk.img" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(1 << 20) + bytes(1 << 20) +
            os.urandom(1 << 19) + bytes(3 << 19))
PY
}

objstore_object() {
    start_server -U "$sock" "$@"
    [ "$(nbdinfo --size "$uri")" = 3145851 ]
    nbdcopy "$uri" "$tmp/copy"
    cmp "$tmp/obj.img" "$tmp/copy"
    qemu-img compare -f raw -F raw "$tmp/obj.img" "$uri"
    nbdsh_u -c 'import os' -c '
assert h.is_read_only()
assert h.pread(10, 3145841) == open(os.environ["tmp"] + "/obj.img", "rb").read()[-10:]
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "write on the object succeeded"
except nbd.Error:
    pass
'
    stop_server
}

objstore_fill() {
    start_server -U "$sock" "$@"
    [ "$(nbdinfo --size "$uri")" = 4194304 ]
    nbdinfo --map "$uri" | tee "$tmp/map"
    [ "$(awk '{print $1, $2, $3}' "$tmp/map")" = "0 4194304 3" ]
    nbdcopy "$tmp/disk.img" "$uri"
    qemu-img compare -f raw -F raw "$tmp/disk.img" "$uri"
    nbdinfo --map "$uri" | tee "$tmp/map"
    [ "$(awk '{print $1, $2, $3}' "$tmp/map")" = "0 1048576 0
1048576 1048576 3
2097152 524288 0
2621440 1572864 3" ]
}

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

expect_start_error() {
    local pattern=$1 start end
    shift
    start=$(date +%s)
    fails timeout 30 "$NBDX" -f -U "$sock" "$@" 2>"$tmp/err.x"
    end=$(date +%s)
    grep -v '^+' "$tmp/err.x" >"$tmp/err" || true # not set -x's trace
    cat "$tmp/err"
    [ $((end - start)) -lt 15 ]
    [ "$(wc -l <"$tmp/err")" = 1 ]
    grep -E "$pattern" "$tmp/err"
}
