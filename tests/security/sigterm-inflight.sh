#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sigterm-inflight.sh: SIGTERM while a READ is inside the plugin lets it
# finish and reach the client with its data; a READ sent after SIGTERM
# within the grace period gets ESHUTDOWN; the server exits 0 within a
# few seconds.  For the serial and the parallel thread models.
# The slow plugin is Debian's nbdkit sh plugin: pread sleeps 1 s.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
shplugin=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-sh-plugin.so
[ -f "$shplugin" ] || { echo "SKIP: $shplugin not installed"; exit 77; }
set -x

for model in serialize_all_requests parallel; do
    cat >"$tmp/slow.sh" <<EOT
#!/bin/sh
case "\$1" in
    get_size) echo 1048576 ;;
    thread_model) echo $model ;;
    pread) sleep 1; head -c "\$3" /dev/zero | tr '\\0' a ;;
    *) exit 2 ;;
esac
EOT
    chmod +x "$tmp/slow.sh"
    rm -f "$sock"
    start_server -U "$sock" "$shplugin" "$tmp/slow.sh"
    python3 - "$sock" "$pid" <<'EOT'
import errno, os, signal, sys, time
import nbd
sock, pid = sys.argv[1], int(sys.argv[2])
h = nbd.NBD()
h.connect_unix(sock)

def wait_for(cookie, limit=10):
    """Completes cookie: returns None on success, else the nbd.Error."""
    end = time.monotonic() + limit
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

buf1 = nbd.Buffer(4096)
c1 = h.aio_pread(buf1, 0)
time.sleep(0.3)                      # c1 is inside the plugin now
os.kill(pid, signal.SIGTERM)
time.sleep(0.2)
buf2 = nbd.Buffer(4096)
try:
    c2 = h.aio_pread(buf2, 4096)     # sent after SIGTERM
except nbd.Error as e:
    c2 = None
    print("second read refused at once:", e)
t0 = time.monotonic()
e1 = wait_for(c1)
assert e1 is None, "in-flight read failed: %s" % e1
assert buf1.to_bytearray() == b"a" * 4096, "in-flight read: wrong data"
print("in-flight read completed after %.2f s" % (time.monotonic() - t0))
if c2 is not None:
    e2 = wait_for(c2)
    print("read after SIGTERM:", e2)
    assert e2 is not None, "read after SIGTERM succeeded"
    # libnbd 1.14 gives the errno name, later versions the number.
    assert e2.errno in ("ESHUTDOWN", errno.ESHUTDOWN), e2
EOT
    # The server exits 0 on its own within 1 s (plugin) + 2 s (grace).
    rc=0
    timeout 8 tail --pid="$pid" -f /dev/null || { echo "server hung" >&2; exit 1; }
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$tmp/server.log"; exit 1; }
done
