#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# s3.sh: the s3 plugin against the s3api middleware of a private
# OpenStack Swift all in one (tests/helpers/swift-aio.sh; access key
# test:tester, secret testing, path-style, us-east-1): the checks of
# tests/plugins/s3-checks.sh; then a read while the object server is
# down is retried, then fails with EIO, and works once it is back; the
# disk is served by nbdx in the background too.
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
s3_access=test:tester s3_secret=testing

. "$SRCDIR/tests/plugins/s3-checks.sh"

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
