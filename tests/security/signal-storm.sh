#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# signal-storm.sh: a storm of harmless signals (SIGCHLD, SIGWINCH,
# SIGURG, SIGCONT) and 500 connect-and-close clients while a client does
# I/O: no deadlock, no lost request (CVE-2015-0847 class).  Then a storm
# of SIGTERM and SIGINT during shutdown: one clean exit, status 0.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export PYTHONPATH="$SRCDIR/tests/security"

start_server -U "$sock" memory 64M
python3 - "$sock" "$pid" <<'EOT'
import os, signal, sys, threading, time, nbd, nbdraw
sock, pid = sys.argv[1], int(sys.argv[2])
stop = False
def storm():
    sigs = [signal.SIGCHLD, signal.SIGWINCH, signal.SIGURG, signal.SIGCONT]
    i = 0
    while not stop:
        os.kill(pid, sigs[i % len(sigs)])
        i += 1
        if i % 4 == 0:
            nbdraw.connect(sock).close()
        if i % 8 == 0:
            time.sleep(0.001)
    print("%d signals sent" % i)
t = threading.Thread(target=storm)
t.start()
h = nbd.NBD()
h.connect_unix(sock)
t0 = time.monotonic()
n = 0
try:
    while time.monotonic() - t0 < 2:
        data = os.urandom(65536)
        off = (n % 512) * 65536
        h.pwrite(data, off)
        assert h.pread(65536, off) == data
        n += 1
finally:
    stop = True
    t.join()
print("%d write+read rounds during the storm" % n)
assert n > 10
EOT
kill -0 "$pid"
# The server may be gone before the storm ends.
for _ in $(seq 50); do kill -TERM "$pid" 2>/dev/null || true; kill -INT "$pid" 2>/dev/null || true; done
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || { echo "server hung" >&2; exit 1; }
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/server.log"; exit 1; }
