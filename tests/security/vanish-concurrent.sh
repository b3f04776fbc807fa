#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vanish-concurrent.sh: clients that vanish at every point (each byte of
# the handshake, inside a request header, inside a WRITE payload, with
# four 32 MiB READs in flight, half-way through reading a reply; by FIN
# and by RST) while a victim client writes and verifies data on its own
# connection.  The victim never sees an error or wrong data, the server
# keeps running and a fresh client is served (CVE-2013-7441,
# CVE-2017-9524, CVE-2017-10664, nbdkit 9d82aa4f class).
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export PYTHONPATH="$SRCDIR/tests/security"

start_server -U "$sock" memory 256M
touch "$tmp/run"
# The victim: 64 KiB writes at random places, each read back at once.
python3 - "$sock" "$tmp/run" >"$tmp/victim.out" <<'EOT' &
import os, random, sys, nbd
h = nbd.NBD()
h.connect_unix(sys.argv[1])
n = 0
while os.path.exists(sys.argv[2]):
    off = random.randrange(0, 64) * 65536
    data = os.urandom(65536)
    h.pwrite(data, off)
    assert h.pread(65536, off) == data, "victim read back wrong data"
    n += 1
h.flush()
h.shutdown()
print(n)
EOT
victim=$!

python3 - "$sock" <<'EOT'
import socket, struct, sys, nbdraw
path = sys.argv[1]
MiB = 2**20

def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

def drop(s, i):
    # Alternate a clean close and a reset.
    rst(s) if i % 2 else s.close()

# Every prefix of a valid handshake, with and without reading the greeting.
script = nbdraw.go_transcript()
for i in range(2 * (len(script) + 1)):
    s = nbdraw.connect(path)
    if i % 4 < 2:
        nbdraw.greeting(s)
    s.sendall(script[:i // 2])
    drop(s, i)
# Inside a request header, inside a WRITE payload.
for i in range(24):
    s, _ = nbdraw.open_export(path)
    hdr = struct.pack(">IHHQQI", nbdraw.REQUEST_MAGIC, 0, nbdraw.CMD_WRITE,
                      i, 0, MiB)
    s.sendall(hdr[:i + 1] if i < len(hdr) else hdr + b"x" * 1000 * i)
    drop(s, i)
# Four 32 MiB READs in flight, then gone; or gone half-way through the
# first reply.
for i in range(8):
    s, _ = nbdraw.open_export(path)
    for c in range(4):
        nbdraw.request(s, nbdraw.CMD_READ, c, c * 32 * MiB, 32 * MiB)
    if i >= 4:
        nbdraw.reply(s)
        nbdraw.recv_exact(s, 16 * MiB)
    drop(s, i)
print("all vanished")
EOT
sleep 0.5
rm "$tmp/run"
wait "$victim"
echo "victim ran $(cat "$tmp/victim.out") write+verify rounds"
[ "$(cat "$tmp/victim.out")" -gt 0 ]
kill -0 "$pid"
nbdsh_u -c 'h.pwrite(b"ok" * 256, 0); assert h.pread(512, 0) == b"ok" * 256'
