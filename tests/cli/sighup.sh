#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sighup.sh: SIGHUP drains like SIGTERM.  Four WRITEs and a FLUSH that
# are inside the plugin when the signal lands all complete with success
# and their data is in the file; a WRITE and a FLUSH sent after the
# server has taken the signal never reach the plugin and never succeed
# (an ESHUTDOWN reply, or no reply if the server had stopped reading);
# the server exits 0 within a bound, having cleaned up the plugin.
#
# Determinism: the plugin is Debian's nbdkit sh plugin serving a file
# ($tmp/disk), and its pwrite and flush leave a marker and then block
# until $tmp/gate/go exists.  The test sends the signal only once every
# marker is there, and takes the signal as handled once an idle second
# connection has been closed by the server.
. "$SRCDIR/tests/lib.sh"
shplugin=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-sh-plugin.so
[ -f "$shplugin" ] || { echo "SKIP: $shplugin not installed"; exit 77; }
/usr/bin/python3 -c 'import nbd' 2>/dev/null ||
    { echo "SKIP: python3-libnbd not installed"; exit 77; }
set -x

gate="$tmp/gate"
disk="$tmp/disk"
mkdir "$gate"
truncate -s 16M "$disk"
cat >"$tmp/gated.sh" <<EOF
#!/bin/bash
# At most 20 s, and not past the test: a failed run leaves no strays.
wait_gate() {
    for _ in \$(seq 1000); do
        [ -e "$gate/go" ] && return 0
        [ -d "$gate" ] || exit 1
        sleep 0.02
    done
    exit 1
}
case "\$1" in
    get_size) echo 16777216 ;;
    thread_model) echo parallel ;;
    can_write|can_flush) exit 0 ;;
    pread) dd if="$disk" iflag=skip_bytes,count_bytes skip="\$4" \
               count="\$3" status=none ;;
    pwrite)
        cat >"$gate/data.\$4"
        touch "$gate/write.\$4"
        wait_gate
        dd if="$gate/data.\$4" of="$disk" oflag=seek_bytes seek="\$4" \
            conv=notrunc status=none ;;
    flush) mktemp "$gate/flush.XXXXXX" >/dev/null; wait_gate ;;
    *) exit 2 ;;
esac
EOF
chmod +x "$tmp/gated.sh"
open_gate() { touch "$gate/go"; }
cleanup_fn open_gate

start_server -v -U "$sock" "$shplugin" "$tmp/gated.sh"
/usr/bin/python3 - "$sock" "$pid" "$gate" "$disk" <<'EOT'
import errno
import glob
import os
import signal
import sys
import time

import nbd

sock, pid, gate, disk = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
MiB = 1 << 20
LIMIT = 10


def until(what, cond):
    """Wait for cond, letting h send what it has queued meanwhile."""
    end = time.monotonic() + LIMIT
    while not cond():
        assert time.monotonic() < end, "timed out waiting for " + what
        if h.aio_in_flight() > 0 and not h.aio_is_dead():
            h.poll(10)
        else:
            time.sleep(0.01)


def outcome(h, cookie):
    """None once cookie succeeded, else the nbd.Error it failed with."""
    end = time.monotonic() + LIMIT
    while True:
        try:
            if h.aio_command_completed(cookie):
                return None
        except nbd.Error as e:
            return e
        assert time.monotonic() < end, "cookie %d never completed" % cookie
        try:
            h.poll(1)
        except nbd.Error as e:
            return e


def closed(idle):
    """Has the server closed this connection, which sends nothing?"""
    try:
        idle.poll(0)
    except nbd.Error:
        return True
    return idle.aio_is_closed() or idle.aio_is_dead()


def go(flag):
    if flag:
        open(os.path.join(gate, "go"), "w").close()
    else:
        os.unlink(os.path.join(gate, "go"))


h = nbd.NBD()
h.connect_unix(sock)
idle = nbd.NBD()
idle.connect_unix(sock)

# A first, ungated WRITE: slow, as every sh plugin call is, so the
# server hands the next requests to its workers instead of running
# them one by one in the connection's reader.
go(True)
warm = b"w" * 4096
h.pwrite(warm, 12 * MiB)
go(False)

before = {}
for i in range(4):
    data = bytes([0x41 + i]) * MiB
    before[h.aio_pwrite(nbd.Buffer.from_bytearray(bytearray(data)),
                        i * MiB)] = (i * MiB, data)
flush_before = h.aio_flush()
# Five WRITE markers: the first WRITE's and these four.
until("4 WRITEs and a FLUSH inside the plugin",
      lambda: len(glob.glob(gate + "/write.*")) == 5 and
      len(glob.glob(gate + "/flush.*")) == 1)
print("in the plugin:", sorted(os.listdir(gate)))

os.kill(pid, signal.SIGHUP)
# quit is set before any connection acts on it: once the idle
# connection is closed, the server has taken the signal.
until("the server to close the idle connection", lambda: closed(idle))
print("idle connection closed")

after = []
for send in (lambda: h.aio_pwrite(
                 nbd.Buffer.from_bytearray(bytearray(b"z" * MiB)), 5 * MiB),
             h.aio_flush):
    try:
        after.append(send())
    except nbd.Error as e:
        # Only if the connection is gone (and then the in-flight
        # requests below fail too).
        print("request after the signal refused at once:", e)
go(True)

for cookie, (off, _) in before.items():
    e = outcome(h, cookie)
    assert e is None, "in-flight WRITE at %d failed: %s" % (off, e)
e = outcome(h, flush_before)
assert e is None, "in-flight FLUSH failed: %s" % e
print("in-flight requests all succeeded")

for cookie in after:
    e = outcome(h, cookie)
    print("request after the signal:", e)
    assert e is not None, "a request sent after SIGHUP succeeded"
    # libnbd 1.14 gives the errno name, later versions the number.
    shut = e.errno in ("ESHUTDOWN", errno.ESHUTDOWN)
    # Without a reply, only because the connection is gone.
    assert shut or h.aio_is_dead() or h.aio_is_closed(), e
assert not os.path.exists(gate + "/write.%d" % (5 * MiB)), \
    "a WRITE sent after SIGHUP reached the plugin"
assert len(glob.glob(gate + "/flush.*")) == 1, \
    "a FLUSH sent after SIGHUP reached the plugin"

with open(disk, "rb") as f:
    for off, data in [(12 * MiB, warm)] + list(before.values()) + \
            [(5 * MiB, bytes(MiB))]:
        f.seek(off)
        assert f.read(len(data)) == data, "disk at %d: wrong data" % off
print("the file holds the completed WRITEs, nothing else")
EOT

# The plugin's calls return at once now, so the drain is quick: well
# inside the server's own 5 s grace.
rc=0
timeout 8 tail --pid="$pid" -f /dev/null || { echo "server hung" >&2; exit 1; }
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/server.log"; echo "exit status $rc" >&2; exit 1; }
grep -q 'debug: sh: cleanup$' "$tmp/server.log"
grep -q 'debug: sh: unload plugin$' "$tmp/server.log"
