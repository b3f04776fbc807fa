#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# idle-flood.sh: 1000 clients that stall at every early point of the
# handshake (CVE-2024-7409, CVE-2017-9524 class) neither stop a real
# client from being served nor grow the server by more than 100 MiB;
# the handshake timeout reaps them all; SIGTERM with 1000 idle sockets
# open exits 0 within seconds.  The defaults are reported by -v.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh
# Memory bounds mean nothing under a sanitizer, which inflates every
# allocation; the plain run checks them.
if [ -n "${NBDX_SANITIZER:-}" ]; then
    echo "SKIP: memory measured only without sanitizers"
    exit 77
fi
set -x
export PYTHONPATH="$SRCDIR/tests/security"
ulimit -n 16384

# The documented defaults are what the server runs with.
start_server -v -U "$sock" memory 1M
grep -q 'limits: --max-connections=1024, --timeout=60.000s' "$tmp/server.log"
stop_server

start_server -v --timeout=4 -U "$sock" memory 64M
python3 - "$sock" "$pid" "$tmp/held" <<'EOT'
import os, signal, struct, subprocess, sys, time, nbdraw
path, pid, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# Warm up: one real client, so lazily allocated state is counted.
subprocess.run(["nbdinfo", "--size", "nbd+unix:///?socket=" + path],
               check=True, stdout=subprocess.DEVNULL)
before = nbdraw.rss_kib(pid)
held = []
t0 = time.monotonic()
for i in range(1000):
    s = nbdraw.connect(path)
    kind = i % 4
    if kind >= 1:
        nbdraw.greeting(s)
    if kind == 2:
        s.sendall(b"\0\0")                   # half the client flags
    if kind == 3:                            # flags, then half an option
        s.sendall(struct.pack(">I", 3) +
                  struct.pack(">QII", nbdraw.IHAVEOPT, 7, 100) + b"\0" * 10)
    held.append(s)
print("1000 connections in %.2f s" % (time.monotonic() - t0))
time.sleep(0.5)
during = nbdraw.rss_kib(pid)
print("server RSS %d KiB before, %d KiB with 1000 clients: %.1f KiB each"
      % (before, during, (during - before) / 1000))
assert during - before < 100 * 1024, "server grew by %d KiB" % (during - before)
# A real client is served at once, twice (read and write).
t0 = time.monotonic()
subprocess.run(["nbdsh", "-u", "nbd+unix:///?socket=" + path, "-c",
                "h.pwrite(b'x' * 4096, 0); assert h.pread(4096, 0) == b'x' * 4096"],
               check=True, timeout=10)
out = subprocess.run(["nbdinfo", "--size", "nbd+unix:///?socket=" + path],
                     check=True, capture_output=True, timeout=10).stdout
assert out.strip() == b"67108864", out
print("real clients served in %.2f s" % (time.monotonic() - t0))
assert time.monotonic() - t0 < 5
# The 4 s handshake timeout drops every one of them.
deadline = time.monotonic() + 15
for s in held:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    while s.recv(4096):
        pass
    s.close()
print("all dropped after %.2f s" % (time.monotonic() - t0))
EOT
stop_server

# Shutdown with 1000 idle clients open: no hang, no crash, status 0.
start_server -U "$sock" memory 1M
python3 - "$sock" "$pid" <<'EOT'
import os, signal, sys, time, nbdraw
path, pid = sys.argv[1], int(sys.argv[2])
held = [nbdraw.connect(path) for _ in range(1000)]
nbdraw.greeting(held[-1])
os.kill(pid, signal.SIGTERM)
t0 = time.monotonic()
while os.path.exists("/proc/%d" % pid) and time.monotonic() - t0 < 10:
    time.sleep(0.05)
print("exited %.2f s after SIGTERM" % (time.monotonic() - t0))
EOT
# start_server ran it in the background of this shell: collect its status.
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/server.log"; exit 1; }
