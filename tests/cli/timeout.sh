#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# timeout.sh: --timeout drops a client that does not finish the handshake
# in time; a bad duration is a usage error.
. "$SRCDIR/tests/lib.sh"
requires python3
set -x

fails "$NBDX" -f --timeout=soon -U "$sock" memory 1M

start_server --timeout=500ms -U "$sock" memory 1M
# Connect and say nothing: the server must hang up within a few seconds.
python3 - "$sock" <<'EOT'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
start = time.monotonic()
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
elapsed = time.monotonic() - start
print("closed after %.2f s, %d bytes" % (elapsed, len(data)))
assert 0.3 < elapsed < 5, elapsed
EOT
