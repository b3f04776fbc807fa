#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# exitlast.sh: the server waits for a first client, stays up while two
# are connected, and exits 0 when the last one leaves.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
start_server -U "$sock" --filter=exitlast "$memory" size=1M
sleep 0.5
kill -0 "$pid"
/usr/bin/python3 -c '
import nbd, sys, os, time
a = nbd.NBD(); a.connect_uri(sys.argv[1])
b = nbd.NBD(); b.connect_uri(sys.argv[1])
a.shutdown(); del a
time.sleep(0.5)
os.kill(int(sys.argv[2]), 0)  # still serving b
b.pwrite(b"x" * 512, 0)
b.shutdown()
' "$uri" "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fails kill -0 "$pid"
