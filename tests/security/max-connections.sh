#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# max-connections.sh: --max-connections=N serves N clients at once; one
# more is closed before the greeting (and the refusal is logged once);
# a slot that frees up is reused; 0 means no limit; a low RLIMIT_NOFILE
# lowers the cap instead of failing accepts mid-connection.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x
export PYTHONPATH="$SRCDIR/tests/security"

fails "$NBDX" -f --max-connections=many -U "$sock" memory 1M
fails "$NBDX" -f --max-connections=-1 -U "$sock" memory 1M

start_server --max-connections=3 -U "$sock" memory 1M
python3 - "$sock" <<'EOT'
import sys, time, nbdraw
path = sys.argv[1]
held = [nbdraw.connect(path) for _ in range(3)]
for s in held:
    nbdraw.greeting(s)
for _ in range(5):
    s = nbdraw.connect(path)
    assert s.recv(100) == b"", "4th connection was not closed at once"
    s.close()
held.pop().close()
# The server notices the close and frees the slot.
for _ in range(50):
    s = nbdraw.connect(path)
    if s.recv(18):
        break
    time.sleep(0.1)
else:
    raise AssertionError("freed slot never reused")
EOT
# Three idle clients hold the slots: a real client is refused...
python3 - "$sock" <<'EOT' &
import sys, time, nbdraw
held = [nbdraw.connect(sys.argv[1]) for _ in range(3)]
time.sleep(3)
EOT
holder=$!
sleep 1
fails nbdinfo --size "$uri"
# ...and served once they are gone.
wait "$holder"
sleep 0.5
[ "$(nbdinfo --size "$uri")" = 1048576 ]
[ "$(grep -c 'max-connections=3 reached' "$tmp/server.log")" -ge 1 ]
[ "$(grep -c 'max-connections=3 reached' "$tmp/server.log")" -le 2 ]
stop_server

# No limit: 300 clients at once, then a real client.
start_server --max-connections=0 -U "$sock" memory 1M
python3 - "$sock" <<'EOT'
import sys, nbdraw
held = [nbdraw.connect(sys.argv[1]) for _ in range(300)]
for s in held:
    nbdraw.greeting(s)
EOT
[ "$(nbdinfo --size "$uri")" = 1048576 ]
stop_server

# RLIMIT_NOFILE of 100 (soft and hard) fits (100-64)/8 = 4 clients.
(ulimit -n 100; start_server -U "$sock" memory 1M; echo "$pid" >"$tmp/lowpid")
pid=$(cat "$tmp/lowpid")
_pids="$_pids $pid"
grep -q 'serving at most 4 clients' "$tmp/server.log"
python3 - "$sock" <<'EOT'
import sys, nbdraw
held = [nbdraw.connect(sys.argv[1]) for _ in range(4)]
for s in held:
    nbdraw.greeting(s)
s = nbdraw.connect(sys.argv[1])
assert s.recv(100) == b"", "5th connection served past the fd limit"
EOT
stop_server
