#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# s3.sh: the s3 plugin against the s3api middleware of a private
# OpenStack Swift all in one (tests/helpers/swift-aio.sh; access key
# test:tester, secret testing, path-style, us-east-1).  A bucket and an
# object are made with curl --aws-sigv4; the object is served read-only
# (nbdcopy, qemu-img compare); size= makes a writable disk of one object
# per block: nbdcopy and qemu-img see the bytes written, blocks never
# written are holes, unaligned writes across blocks land, and the data
# survives a restart of nbdx (in the background, too).  A read while
# the object server is down is retried, then fails with EIO.  A wrong
# secret, a missing object or bucket and a closed port each stop nbdx at
# start-up with one error line.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/swift-aio.sh"
requires nbdcopy nbdinfo nbdsh qemu-img curl python3
[ -e "$BUILDDIR/plugins/s3/nbdkit-s3-plugin.so" ] ||
    { echo "SKIP: the s3 plugin was not built"; exit 77; }
saio_requires
set -x
export tmp
saio_start

# s3_curl ARGS... URL-PATH: a signed request (the access key's colon
# percent-encoded in the URL, as curl's --user would split at it).
s3_curl() {
    local path=${*: -1}
    curl -sf --aws-sigv4 'aws:amz:us-east-1:s3' \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "${@:1:$#-1}" \
        "http://test%3Atester:testing@127.0.0.1:$p_proxy$path"
}
# objects BUCKET PREFIX: the number of objects whose key starts so (at
# most 1000; the '/'s escaped, as curl signs the query as written).
objects() {
    local q=${2//\//%2F}
    s3_curl "/$1?prefix=${q//&/%26}" | grep -o '<Key>' | wc -l
}
echo testing >"$tmp/secret"
creds=(endpoint-url="$s3_url" access-key=test:tester
       secret-key=+"$tmp/secret")

# ---- one object, read-only ----
head -c 3145851 /dev/urandom >"$tmp/obj.img" # not a multiple of 512
s3_curl -X PUT -o /dev/null /images
s3_curl -T "$tmp/obj.img" -o /dev/null /images/dir/obj.img

start_server -U "$sock" s3 "${creds[@]}" bucket=images key=dir/obj.img
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

# ---- size=: a writable disk of 64K objects ----
# 4 MiB: random data in [0, 1M) and [2M, 2.5M), zeros elsewhere.
python3 - "$tmp/disk.img" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(1 << 20) + bytes(1 << 20) +
            os.urandom(1 << 19) + bytes(3 << 19))
PY
s3_curl -X PUT -o /dev/null /disks
chunked=(s3 "${creds[@]}" bucket=disks key=vm/disk1 size=4M)
start_server -U "$sock" "${chunked[@]}"
[ "$(nbdinfo --size "$uri")" = 4194304 ]
nbdinfo --map "$uri" | tee "$tmp/map"
[ "$(awk '{print $1, $2, $3}' "$tmp/map")" = "0 4194304 3" ]
nbdcopy "$tmp/disk.img" "$uri"
qemu-img compare -f raw -F raw "$tmp/disk.img" "$uri"
[ "$(objects disks vm/disk1/block-)" = 24 ]
nbdinfo --map "$uri" | tee "$tmp/map"
[ "$(awk '{print $1, $2, $3}' "$tmp/map")" = "0 1048576 0
1048576 1048576 3
2097152 524288 0
2621440 1572864 3" ]
s3_curl -o "$tmp/blk" /disks/vm/disk1/block-0000000000000021
cmp "$tmp/blk" <(dd if="$tmp/disk.img" bs=64K skip=33 count=1 status=none)

# Unaligned writes across block boundaries, in parallel; a trim; a zero
# of part of a block.
nbdsh_u -c '
import os
t = os.environ["tmp"]
exp = bytearray(open(t + "/disk.img", "rb").read())
B = 65536
writes = [(os.urandom(100001), 5 * B - 777),
          (os.urandom(3), 16 * B - 1),         # a data block and a hole
          (os.urandom(B + 2), 40 * B - 1),     # three blocks, two were holes
          (os.urandom(1000), 6 * B + 40000)]
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
'
nbdinfo --map "$uri" | tee "$tmp/map"
[ "$(awk '{print $1, $2, $3}' "$tmp/map")" = "0 655360 0
655360 65536 3
720896 393216 0
1114112 983040 3
2097152 655360 0
2752512 1441792 3" ]
[ "$(objects disks vm/disk1/block-)" = 26 ]
stop_server

# A new nbdx on the same prefix serves the same disk; another disk
# under another prefix of the bucket is separate.
start_server -U "$sock" "${chunked[@]}" connections=2
qemu-img compare -f raw -F raw "$tmp/expect" "$uri"
nbdinfo --map "$uri" | grep -E '^ *655360 +65536 +3'
stop_server
start_server -U "$sock" s3 "${creds[@]}" bucket=disks key="vm/disk&2" \
    size=100000 object-size=4K
[ "$(nbdinfo --map "$uri" | awk '{print $1, $2, $3}')" = "0 100000 3" ]
head -c 100000 /dev/urandom >"$tmp/odd.img"
nbdcopy "$tmp/odd.img" "$uri"
qemu-img compare -f raw -F raw "$tmp/odd.img" "$uri"
stop_server
# The listing gives the keys XML-escaped ("&amp;"): they are found again.
start_server -U "$sock" s3 "${creds[@]}" bucket=disks key="vm/disk&2" \
    size=100000 object-size=4K
qemu-img compare -f raw -F raw "$tmp/odd.img" "$uri"
[ "$(nbdinfo --map "$uri" | awk '{print $1, $2, $3}')" = "0 100000 0" ]
stop_server
[ "$(objects disks "vm/disk&2/block-")" = 25 ]
[ "$(objects disks vm/disk1/block-)" = 26 ]

# With the object server stopped the proxy answers 503: a read is tried
# 5 times over 1.5 s, then fails with EIO; it works again after.
start_server -U "$sock" "${chunked[@]}"
kill "${saio_pids[3]}"
wait "${saio_pids[3]}" || true
start=$(date +%s%N)
nbdsh_u -c '
try:
    h.pread(512, 0)
    assert False, "a read without object server succeeded"
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
'
[ $(($(date +%s%N) - start)) -gt 1500000000 ]
grep -E 'GET .*vm/disk1/block-0000000000000000: HTTP 503' "$tmp/server.log"
saio_launch object2 swift-object-server "$saio/object-server.conf" -v
saio_wait_http "$p_object"
qemu-img compare -f raw -F raw "$tmp/expect" "$uri"
stop_server
# In the background (no -f), after the fork, on new connections.
"$NBDX" -P "$tmp/bg.pid" -U "$sock" "${chunked[@]}"
stop_bg() { [ -s "$tmp/bg.pid" ] && kill "$(cat "$tmp/bg.pid")"; }
cleanup_fn stop_bg
qemu-img compare -f raw -F raw "$tmp/expect" "$uri"
bg=$(cat "$tmp/bg.pid")
kill "$bg"
for _ in $(seq 50); do kill -0 "$bg" 2>/dev/null || break; sleep 0.1; done
rm -f "$tmp/bg.pid" "$sock"

# ---- start-up errors: one line, at once ----
# expect_start_error PATTERN ARGS...: nbdx exits within 15 s with one
# error line matching PATTERN.
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
expect_start_error 'HTTP 403 \(access denied' \
    s3 endpoint-url="$s3_url" access-key=test:tester secret-key=wrong \
    bucket=images key=dir/obj.img
expect_start_error 'HTTP 403 \(access denied' \
    s3 endpoint-url="$s3_url" access-key=test:tester secret-key=wrong \
    bucket=disks key=vm/disk1 size=4M
expect_start_error 'object images/none does not exist' \
    s3 "${creds[@]}" bucket=images key=none
expect_start_error 'bucket nobucket does not exist' \
    s3 "${creds[@]}" bucket=nobucket key=d size=1M
closed=$(free_port 127.0.0.1)
expect_start_error "http://127.0.0.1:$closed/images/dir/obj.img: Couldn't connect" \
    s3 endpoint-url="http://127.0.0.1:$closed" access-key=a secret-key=b \
    bucket=images key=dir/obj.img
