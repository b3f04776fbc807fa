#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# swift.sh: the swift plugin against one private OpenStack Swift "all in
# one" on 127.0.0.1 (memcached and the proxy, account, container and
# object servers, each one process with workers = 0, state in $tmp):
# object= serves an object uploaded with curl, read-only, by user and
# key or by token and storage URL; size= makes a writable disk of one
# object per block: nbdcopy and qemu-img see the bytes written, blocks
# never written are holes, unaligned writes across blocks and trims
# land, and the data survives a restart of nbdx (in the background, the
# second time).  A token forgotten by the server is renewed once, and a
# read while the object server is down is retried, then fails with EIO.
# A wrong key and a closed port each stop nbdx at start-up with one
# error line.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/objstore.sh"
. "$SRCDIR/tests/helpers/swift-aio.sh"
requires nbdcopy nbdinfo nbdsh qemu-img curl python3
[ -e "$BUILDDIR/plugins/swift/nbdkit-swift-plugin.so" ] ||
    { echo "SKIP: the swift plugin was not built"; exit 77; }
saio_requires
set -x
export tmp
saio_start

header() { tr -d '\r' <"$tmp/auth.h" | awk -v h="$1" 'tolower($1)==h":"{print $2}'; }
login_token() {
    curl -sf -D "$tmp/auth.h" -o /dev/null -H 'X-Auth-User: test:tester' \
        -H 'X-Auth-Key: testing' "$auth_url"
    token=$(header x-auth-token)
    storage=$(header x-storage-url)
}
login_token
[ -n "$token" ] && [ -n "$storage" ]
swift_curl() { curl -sf -H "X-Auth-Token: $token" "$@"; }
# objects CONTAINER: the number of objects in it.
objects() { swift_curl "$storage/$1" | grep -c . || true; }
echo testing >"$tmp/key"
login=(auth-url="$auth_url" user=test:tester key=+"$tmp/key")

objstore_images

# ---- object=: one object, read-only ----
swift_curl -X PUT -o /dev/null "$storage/images"
swift_curl -T "$tmp/obj.img" -o /dev/null "$storage/images/obj.img"
objstore_object swift "${login[@]}" container=images object=obj.img

# The same by token and storage URL.
start_server -U "$sock" swift token="$token" storage-url="$storage" \
    container=images object=obj.img connections=1
qemu-img compare -f raw -F raw "$tmp/obj.img" "$uri"
stop_server

# ---- size=: a writable disk of 64K blocks ----
# A new container reads as zeros, one hole; blocks written are objects,
# the zero ones are holes.
chunked=(swift "${login[@]}" container=disk size=4M)
objstore_fill "${chunked[@]}"
[ "$(objects disk)" = 24 ]
[ "$(swift_curl "$storage/disk/block-0000000000000021" | cmp - \
      <(dd if="$tmp/disk.img" bs=64K skip=33 count=1 status=none) && echo same)" \
  = same ]

blockdisk_writes
[ "$(objects disk)" = 26 ]
stop_server

# A new nbdx on the same container serves the same disk, which a second
# nbdcopy with 4 connections and 16 requests in flight replaces.
start_server -v -U "$sock" "${chunked[@]}" connections=3
qemu-img compare -f raw -F raw "$tmp/expect" "$uri"
nbdinfo --map "$uri" | grep -E '^ *655360 +65536 +3'
# With the object server stopped the proxy answers 503: a read is tried
# 5 times over 1.5 s, then fails with EIO; it works again after.
kill "${saio_pids[3]}"
wait "${saio_pids[3]}" || true
start=$(date +%s%N)
nbdsh_u -c '
import errno
try:
    h.pread(512, 0)
    assert False, "a read without object server succeeded"
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
'
[ $(($(date +%s%N) - start)) -gt 1500000000 ]
[ "$(grep -c 'GET .*block-0000000000000000: HTTP 503' "$tmp/server.log")" = 1 ]
saio_launch object2 swift-object-server "$saio/object-server.conf" -v
saio_wait_http "$p_object"
qemu-img compare -f raw -F raw "$tmp/expect" "$uri"
# A new memcached forgets every token: nbdx logs in again, once.
kill "${saio_pids[0]}"
wait "${saio_pids[0]}" || true
saio_launch memcached2 memcached -l 127.0.0.1 -p "$p_memcache" -U 0 -m 32 \
    -u "$saio_me"
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p_memcache") 2>/dev/null && break
    sleep 0.1
done
qemu-img compare -f raw -F raw "$tmp/expect" "$uri"
[ "$(grep -c 'the token was refused, logging in again' "$tmp/server.log")" = 1 ]
login_token
head -c 4194304 /dev/urandom >"$tmp/new.img"
nbdcopy -C 4 -R 16 "$tmp/new.img" "$uri"
qemu-img compare -f raw -F raw "$tmp/new.img" "$uri"
stop_server
# In the background (no -f), after the fork, on new connections.
"$NBDX" -P "$tmp/bg.pid" -U "$sock" "${chunked[@]}"
stop_bg() { [ -s "$tmp/bg.pid" ] && kill "$(cat "$tmp/bg.pid")"; }
cleanup_fn stop_bg
qemu-img compare -f raw -F raw "$tmp/new.img" "$uri"
[ "$(objects disk)" = 64 ]
bg=$(cat "$tmp/bg.pid")
kill "$bg"
for _ in $(seq 50); do kill -0 "$bg" 2>/dev/null || break; sleep 0.1; done
rm -f "$tmp/bg.pid" "$sock"

# A size that is not a multiple of the block size: the last block is
# short; trimming the whole disk removes every object.
head -c 200001 /dev/urandom >"$tmp/odd.img"
start_server -U "$sock" swift "${login[@]}" container=odd size=200001 \
    block-size=4K
nbdcopy "$tmp/odd.img" "$uri"
qemu-img compare -f raw -F raw "$tmp/odd.img" "$uri"
[ "$(objects odd)" = 49 ]
[ "$(swift_curl -I "$storage/odd/block-0000000000000030" |
     tr -d '\r' | awk 'tolower($1)=="content-length:"{print $2}')" = 3393 ]
nbdsh_u -c 'h.trim(h.get_size(), 0)'
[ "$(objects odd)" = 0 ]
[ "$(nbdinfo --map "$uri" | awk '{print $1, $2, $3}')" = "0 200001 3" ]
stop_server

# ---- start-up errors: one line, at once ----
expect_start_error 'refused user test:tester: wrong user or key' \
    swift auth-url="$auth_url" user=test:tester key=wrong container=images \
    object=obj.img
closed=$(free_port 127.0.0.1)
expect_start_error "cannot reach http://127.0.0.1:$closed/auth/v1.0" \
    swift auth-url="http://127.0.0.1:$closed/auth/v1.0" user=test:tester \
    key=testing container=disk size=1M
expect_start_error 'object images/none does not exist' \
    swift "${login[@]}" container=images object=none
expect_start_error 'HTTP 401 \(the token or key was refused\)' \
    swift token=bad storage-url="$storage" container=images object=obj.img
