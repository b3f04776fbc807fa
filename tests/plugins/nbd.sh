#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbd.sh: the nbd plugin in front of an nbdx memory disk and of qemu-nbd
# serving a qcow2 file: the same size, flags, bytes (nbdcopy round trip,
# qemu-img compare) and allocation map as the upstream; zero, trim,
# flush, cache and FUA reach it; its errors reach the client with the
# same errno; pipelined requests are in flight upstream together; uri=,
# command=, socket-fd=, vsock= (if the kernel has AF_VSOCK loopback) and
# dynamic-export= work; shared=true serves two clients over
# one upstream connection; TLS with a pre-shared key reaches a TLS-only
# upstream; an unreachable upstream fails quickly with one error.
# Debian's nbdkit nbd plugin, if installed, shows the same flags.
# Skipped (77) if the nbd plugin was not built.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
[ -e "$BUILDDIR/plugins/nbd/nbdkit-nbd-plugin.so" ] ||
    { echo "SKIP: the nbd plugin was not built"; exit 77; }
requires nbdsh nbdcopy nbdinfo qemu-img qemu-nbd qemu-io
set -x
# Every client is bounded in time.
nbdsh() { timeout 60 /usr/bin/nbdsh "$@"; }
nbdinfo() { timeout 60 /usr/bin/nbdinfo "$@"; }
nbdcopy() { timeout 60 /usr/bin/nbdcopy "$@"; }

up="$tmp/up.sock"
upuri="nbd+unix:///?socket=$up"

# The can_* and is_* lines of nbdinfo for URI.
flags() { nbdinfo "$1" | grep -E '^\s+(can_|is_)' | grep -v can_df; }

# The map of URI, as nbdinfo prints it.
map() { nbdinfo --map "$1"; }

# Start an nbdx upstream on $up with ARGS, remembering its pid.
start_upstream() {
    rm -f "$up"
    start_server -U "$up" "$@"
    uppid=$pid
}

# Start qemu-nbd on $up with ARGS (persistent, in the background).
start_qemu_nbd() {
    rm -f "$up"
    qemu-nbd -k "$up" "$@" &
    _pids="$_pids $!"
    qpid=$!
    for _ in $(seq 100); do [ -S "$up" ] && return 0; sleep 0.1; done
    echo "qemu-nbd did not start" >&2
    return 1
}
stop_qemu_nbd() {
    kill "$qpid"
    wait "$qpid" || true
}

# Random data in a sparse raw image: data, a hole, data at the end.
qemu-img create -f raw "$tmp/src.img" 8M
head -c 1M /dev/urandom | dd of="$tmp/src.img" bs=1M seek=1 conv=notrunc status=none
head -c 64K /dev/urandom | dd of="$tmp/src.img" bs=64K seek=127 conv=notrunc status=none

# --- 1. an nbdx memory disk upstream -----------------------------------
start_upstream memory 8M
start_server -U "$sock" nbd socket="$up"
[ "$(flags "$uri")" = "$(flags "$upuri")" ]
nbdcopy "$tmp/src.img" "$uri"
nbdcopy "$uri" "$tmp/out.img"
qemu-img compare -f raw -F raw "$tmp/src.img" "$tmp/out.img"
nbdcopy "$upuri" "$tmp/up.img"
cmp "$tmp/src.img" "$tmp/up.img"
[ "$(map "$uri")" = "$(map "$upuri")" ]
map "$uri" | grep -q hole

# Zero, trim, flush, cache and FUA writes, seen through the upstream.
nbdsh --base-allocation -u "$uri" -c "
u = nbd.NBD()
u.add_meta_context('base:allocation')
u.connect_uri('$upuri')
h.pwrite(b'x' * 4096, 0, nbd.CMD_FLAG_FUA)
assert u.pread(4096, 0) == b'x' * 4096
h.zero(4096, 0)
assert u.pread(4096, 0) == bytes(4096)
h.pwrite(b'y' * 65536, 65536)
h.zero(65536, 65536, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
assert u.pread(65536, 65536) == bytes(65536)
h.trim(1048576, 1048576, nbd.CMD_FLAG_FUA)
assert u.pread(1048576, 1048576) == bytes(1048576)
ext = []
u.block_status(1048576, 1048576, lambda c, o, e, err: ext.extend(e))
assert ext[1] & nbd.STATE_HOLE, ext
h.flush()
h.cache(1048576, 0)
one = []
h.block_status(8 << 20, 0, lambda c, o, e, err: one.extend(e),
               nbd.CMD_FLAG_REQ_ONE)
assert len(one) == 2, one
"
# Pipelining: 8 reads of an upstream delaying each read by 1 s finish
# in much less than 8 s through the proxy.
stop_server
kill "$uppid"
start_upstream --filter=delay memory 8M delay-read=1
start_server -U "$sock" nbd socket="$up"
nbdsh_u -c '
import time
t = time.monotonic()
bufs = [nbd.Buffer(4096) for _ in range(8)]
cookies = [h.aio_pread(bufs[i], i * 4096) for i in range(8)]
while h.aio_in_flight() > 0:
    h.poll(-1)
elapsed = time.monotonic() - t
assert elapsed < 4, elapsed
'
stop_server
kill "$uppid"

# --- 2. errors of the upstream reach the client with their errno -------
start_upstream -r memory 1M
start_server -U "$sock" nbd socket="$up"
nbdsh -c "
h.set_strict_mode(0)
h.connect_uri('$uri')
assert h.is_read_only()
try:
    h.pwrite(b'x', 0)
    assert False, 'write to a read-only upstream succeeded'
except nbd.Error as e:
    assert e.errno == 'EPERM', e
"
stop_server
kill "$uppid"
start_upstream --filter=error memory 1M error=ENOSPC error-pwrite-rate=1 \
    error-pread-rate=0
start_server -U "$sock" nbd socket="$up"
nbdsh_u -c '
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "the upstream error was lost"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e
assert h.pread(512, 0) == bytes(512)
'
stop_server
kill "$uppid"

# An upstream that dies: the next requests fail with EIO, at once.
start_upstream memory 1M
start_server -U "$sock" nbd socket="$up"
nbdsh_u -c "
import os, signal, time
h.pread(512, 0)
os.kill($uppid, signal.SIGKILL)
time.sleep(0.5)
for i in range(2):
    try:
        h.pread(512, 0)
        assert False, 'a read from a dead upstream succeeded'
    except nbd.Error as e:
        assert e.errno == 'EIO', e
"
grep -q 'connection to the NBD server was lost' "$tmp/server.log"
stop_server

# --- 3. uri= (a bare URI) and shared=true with two clients -------------
start_upstream memory 8M
start_server -U "$sock" nbd "$upuri" shared=true
nbdsh_u -c "
h2 = nbd.NBD()
h2.connect_uri('$uri')
h.pwrite(b'shared', 4096)
h.flush()
assert h2.pread(6, 4096) == b'shared'
assert h.can_multi_conn() and h2.can_multi_conn()
h2.pwrite(b'back', 0)
assert h.pread(4, 0) == b'back'
"
stop_server
kill "$uppid"

# --- 4. qemu-nbd serving qcow2 upstream --------------------------------
qemu-img create -f qcow2 "$tmp/d.qcow2" 8M
qemu-io -f qcow2 -c 'write -P 0x55 2M 1M' "$tmp/d.qcow2"
start_qemu_nbd -t -e 4 -f qcow2 "$tmp/d.qcow2"
start_server -U "$sock" nbd socket="$up"
[ "$(flags "$uri")" = "$(flags "$upuri")" ]
[ "$(map "$uri")" = "$(map "$upuri")" ]
map "$uri" | grep -q data
map "$uri" | grep -q hole
nbdcopy "$tmp/src.img" "$uri"
nbdcopy "$uri" "$tmp/out2.img"
qemu-img compare -f raw -F raw "$tmp/src.img" "$tmp/out2.img"
nbdsh_u -c '
h.zero(65536, 0, nbd.CMD_FLAG_FUA)
assert h.pread(65536, 0) == bytes(65536)
h.pwrite(b"z" * 4096, 8192, nbd.CMD_FLAG_FUA)
h.trim(65536, 1 << 20)
h.flush()
'
stop_server
stop_qemu_nbd
# The qcow2 file holds the bytes written through the proxy.
qemu-img convert -f qcow2 -O raw "$tmp/d.qcow2" "$tmp/d.raw"
python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
s = open(sys.argv[2], "rb").read()
assert d[8192:12288] == b"z" * 4096
assert d[:8192] == bytes(8192) and d[12288:65536] == bytes(53248)
assert d[2 << 20:3 << 20] == s[2 << 20:3 << 20]
' "$tmp/d.raw" "$tmp/src.img"

# A qemu-nbd without -e takes one client at a time: with shared=true two
# clients still work, since the proxy holds the only connection.
start_qemu_nbd -t -f qcow2 "$tmp/d.qcow2"
start_server -U "$sock" nbd socket="$up" shared=true
nbdsh_u -c "
h2 = nbd.NBD()
h2.connect_uri('$uri')
h.pwrite(b'one', 0)
assert h2.pread(3, 0) == b'one'
"
stop_server
# Read-only qemu-nbd: a write fails with EPERM.
stop_qemu_nbd
start_qemu_nbd -t -r -f qcow2 "$tmp/d.qcow2"
start_server -U "$sock" nbd socket="$up"
nbdsh -c "
h.set_strict_mode(0)
h.connect_uri('$uri')
assert h.is_read_only()
try:
    h.pwrite(b'x', 0)
    assert False
except nbd.Error as e:
    assert e.errno == 'EPERM', e
assert h.pread(3, 0) == b'one'
"
stop_server
stop_qemu_nbd

# dynamic-export=true: the client's export name goes upstream.
start_qemu_nbd -t -x foo -f qcow2 "$tmp/d.qcow2"
start_server -U "$sock" nbd socket="$up" dynamic-export=true
nbdsh -u "nbd+unix:///foo?socket=$sock" -c 'assert h.pread(3, 0) == b"one"'
fails nbdsh -u "nbd+unix:///bar?socket=$sock" -c pass
stop_server
stop_qemu_nbd

# command=: nbdx runs qemu-nbd itself.
start_server -U "$sock" nbd command=qemu-nbd arg=-f arg=qcow2 arg="$tmp/d.qcow2"
nbdsh_u -c 'assert h.pread(3, 0) == b"one"'
nbdsh_u -c 'assert h.get_size() == 8 << 20'
stop_server

# socket-fd=: a socket nbdx inherits, connected to an upstream on
# 127.0.0.1; shared=true follows: two clients, one upstream connection.
tport=$(free_port 127.0.0.1)
start_server -i 127.0.0.1 -p "$tport" memory 1M
tcppid=$pid
start_server -U "$sock" nbd socket-fd=5 5<>"/dev/tcp/127.0.0.1/$tport"
nbdsh_u -c 'h.pwrite(b"by fd", 4096)'
nbdsh_u -c 'assert h.pread(5, 4096) == b"by fd"'
stop_server
fails "$NBDX" -f -U "$sock" nbd socket-fd=5 shared=false \
    5<>"/dev/tcp/127.0.0.1/$tport" 2>"$tmp/err"
grep -q 'socket-fd= needs shared=true' "$tmp/err"
fails "$NBDX" -f -U "$sock" nbd socket-fd=5 retry=1 \
    5<>"/dev/tcp/127.0.0.1/$tport" 2>"$tmp/err"
grep -q 'retry= cannot be used with socket-fd=' "$tmp/err"
kill "$tcppid"
fails timeout 10 "$NBDX" -f -U "$sock" nbd socket-fd=9 2>"$tmp/err"
cat "$tmp/err"
[ "$(grep -c 'cannot connect to the NBD server socket-fd=9' "$tmp/err")" = 1 ]

# vsock=: where this kernel connects AF_VSOCK to itself (CID 1).
"$NBDX" --dump-plugin nbd | grep -qx 'libnbd_vsock=1'
vport=$((20000 + RANDOM % 10000))
if python3 -c 'import socket, sys; socket.socket(socket.AF_VSOCK).bind((1, int(sys.argv[1])))' "$vport" 2>/dev/null; then
    start_server --vsock -p "$vport" memory 1M
    vsockpid=$pid
    start_server -U "$sock" nbd vsock=1 port="$vport"
    nbdsh_u -c 'h.pwrite(b"vsock", 0); assert h.pread(5, 0) == b"vsock"'
    stop_server
    kill "$vsockpid"
else
    echo "no AF_VSOCK loopback in this kernel: vsock= not tried"
fi
fails "$NBDX" -f -U "$sock" nbd vsock=x 2>"$tmp/err"
grep -q 'vsock' "$tmp/err"

# --- TLS to the upstream, with a pre-shared key --------------------------
if command -v psktool >/dev/null; then
    . "$SRCDIR/tests/helpers/tls.sh"
    make_psk "$tmp/psk/keys.psk" alice
    start_upstream --tls=require --tls-psk="$tmp/psk/keys.psk" memory 1M
    start_server -U "$sock" nbd socket="$up" tls=require \
        tls-psk="$tmp/psk/keys.psk" tls-username=alice
    nbdsh_u -c '
h.pwrite(b"secret", 0)
assert h.pread(6, 0) == b"secret"
'
    stop_server
    # Without TLS the upstream refuses us: the client fails, quickly.
    start_server -U "$sock" nbd socket="$up"
    fails nbdinfo "$uri"
    stop_server
    kill "$uppid"
fi

# --- 5. an unreachable upstream ----------------------------------------
rm -f "$up"
# Per-client connections: the client fails at once, one error is logged.
start_server -U "$sock" nbd socket="$up"
: >"$tmp/server.log"
fails timeout 10 nbdinfo "$uri"
grep 'cannot connect to the NBD server' "$tmp/server.log"
[ "$(grep -c 'nbd.*cannot connect' "$tmp/server.log")" -ge 1 ]
stop_server
# shared=true: nbdx stops at start-up, with one line; retry=2 waits 2 s.
start=$(date +%s)
fails timeout 10 "$NBDX" -f -U "$sock" nbd socket="$up" shared=true 2>"$tmp/err"
cat "$tmp/err"
[ "$(grep -c 'cannot connect to the NBD server' "$tmp/err")" = 1 ]
fails timeout 20 "$NBDX" -f -U "$sock" nbd socket="$up" shared=true retry=2 2>"$tmp/err"
cat "$tmp/err"
[ $(($(date +%s) - start)) -ge 2 ]
[ $(($(date +%s) - start)) -lt 15 ]
grep -q 'after retrying' "$tmp/err"
# A server that accepts but never answers: the handshake times out.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(5)
time.sleep(120)
' "$up" &
_pids="$_pids $!"
for _ in $(seq 50); do [ -S "$up" ] && break; sleep 0.1; done
fails timeout 60 "$NBDX" -f -U "$sock" nbd socket="$up" shared=true 2>"$tmp/err"
cat "$tmp/err"
grep -q 'timed out' "$tmp/err"

# Bad parameters stop nbdx at start-up.
fails "$NBDX" -f -U "$sock" nbd 2>"$tmp/err"
grep -q 'exactly one of' "$tmp/err"
fails "$NBDX" -f -U "$sock" nbd socket="$up" port=1 2>"$tmp/err"
fails "$NBDX" -f -U "$sock" nbd "$upuri" export=x 2>"$tmp/err"
fails "$NBDX" -f -U "$sock" nbd socket="$up" shared=true dynamic-export=true 2>"$tmp/err"

# --- 6. Debian's nbdkit nbd plugin shows the same flags ----------------
NBDKIT=/usr/bin/nbdkit
nbdkit_nbd=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-nbd-plugin.so
if [ -x "$NBDKIT" ] && [ -e "$nbdkit_nbd" ]; then
    start_upstream memory 8M
    start_server -U "$sock" nbd socket="$up"
    "$NBDKIT" -f -U "$tmp/kit.sock" "$nbdkit_nbd" socket="$up" &
    _pids="$_pids $!"
    for _ in $(seq 100); do [ -S "$tmp/kit.sock" ] && break; sleep 0.1; done
    [ "$(flags "$uri")" = "$(flags "nbd+unix:///?socket=$tmp/kit.sock")" ]
    nbdcopy "$tmp/src.img" "$uri"
    [ "$(map "$uri")" = "$(map "nbd+unix:///?socket=$tmp/kit.sock")" ]
fi
