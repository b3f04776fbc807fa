#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# pipeline-writes.sh: a client that streams 32 MiB WRITEs at a slow
# plugin without reading replies meets backpressure: the server stops
# reading once 128 MiB are in flight, so the client's sends block, the
# server's memory stays bounded, and other clients are still served.
# The slow plugin is Debian's nbdkit sh plugin whose pwrite waits while
# the file $tmp/hold exists.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
# Memory bounds mean nothing under a sanitizer, which inflates every
# allocation; the plain run checks them.
if [ -n "${NBDX_SANITIZER:-}" ]; then
    echo "SKIP: memory measured only without sanitizers"
    exit 77
fi
shplugin=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-sh-plugin.so
[ -f "$shplugin" ] || { echo "SKIP: $shplugin not installed"; exit 77; }
set -x
export PYTHONPATH="$SRCDIR/tests/security"

cat >"$tmp/slow.sh" <<EOT
#!/bin/sh
case "\$1" in
    get_size) echo 1073741824 ;;
    thread_model) echo parallel ;;
    can_write) exit 0 ;;
    pread) head -c "\$3" /dev/zero ;;
    pwrite) while [ -e "$tmp/hold" ]; do sleep 0.1; done; cat >/dev/null ;;
    *) exit 2 ;;
esac
EOT
chmod +x "$tmp/slow.sh"
touch "$tmp/hold"
start_server -U "$sock" "$shplugin" "$tmp/slow.sh"

python3 - "$sock" "$pid" <<'EOT'
import subprocess, sys, threading, time, nbdraw
path, pid = sys.argv[1], int(sys.argv[2])
MiB = 2**20
before = nbdraw.rss_kib(pid)
s, size = nbdraw.open_export(path, timeout=30)
sent = [0]
def pipeline():
    payload = b"\1" * (32 * MiB)
    try:
        for i in range(64):           # 2 GiB if nothing pushed back
            nbdraw.request(s, nbdraw.CMD_WRITE, i, i * 32 * MiB % size,
                           32 * MiB, payload)
            sent[0] += 32 * MiB
    except OSError:
        pass
t = threading.Thread(target=pipeline, daemon=True)
t.start()
time.sleep(3)
peak = nbdraw.rss_kib(pid) - before
print("sent %d MiB in 3 s; server grew %d KiB" % (sent[0] // MiB, peak))
# 4 writes in flight (128 MiB), one being read, socket buffers.
assert sent[0] <= 192 * MiB, "no backpressure: %d MiB accepted" % (sent[0] // MiB)
assert peak < 256 * 1024, "server grew by %d KiB" % peak
t0 = time.monotonic()
out = subprocess.run(["nbdinfo", "--size", "nbd+unix:///?socket=" + path],
                     check=True, capture_output=True, timeout=10).stdout
assert out.strip() == b"1073741824"
print("other client served in %.2f s" % (time.monotonic() - t0))
s.close()
EOT
rm "$tmp/hold"
kill -0 "$pid"
[ "$(nbdinfo --size "$uri")" = 1073741824 ]
