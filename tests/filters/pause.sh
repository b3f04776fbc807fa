#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# pause.sh: 'p' over the control socket answers P and a read then
# blocks; 'r' answers R and the read completes with the right data; an
# unknown command answers X; pause waits for a running request (delay
# filter below); no pause-control is an error; the same answers as
# nbdkit's filter.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
ctl="$tmp/ctl"

cat > "$tmp/pause.py" <<'PY'
import nbd, socket, sys, threading, time
uri, ctl = sys.argv[1], sys.argv[2]
h = nbd.NBD(); h.connect_uri(uri)
h.pwrite(b"y" * 512, 0)
c = socket.socket(socket.AF_UNIX); c.connect(ctl)
c.settimeout(10)
def ask(cmd):
    c.sendall(cmd)
    return c.recv(16)
assert ask(b"p\n") == b"P"
done = []
t = threading.Thread(target=lambda: done.append(h.pread(512, 0)))
t.start()
time.sleep(1)
assert not done, "read completed while paused"
assert ask(b"q") == b"X"
assert ask(b"r") == b"R"
t.join(10)
assert done == [b"y" * 512], done
h.shutdown()
PY

for srv in "$NBDX" nbdkit; do
    rm -f "$ctl" "$sock"
    if [ "$srv" = nbdkit ]; then
        nbdkit -U "$sock" -P "$tmp/nbdkit.pid" --filter=pause "$memory" \
            size=1M pause-control="$ctl"
        for _ in $(seq 100); do [ -s "$tmp/nbdkit.pid" ] && break; sleep 0.1; done
        _pids="$_pids $(cat "$tmp/nbdkit.pid")"
    else
        start_server -U "$sock" --filter=pause "$memory" size=1M \
            pause-control="$ctl"
    fi
    /usr/bin/python3 "$tmp/pause.py" "$uri" "$ctl"
done
kill "$(cat "$tmp/nbdkit.pid")"

# Stacked over delay: 'p' sent while a slow read runs is answered only
# after that read finished.
rm -f "$ctl" "$sock"
start_server -U "$sock" --filter=pause --filter=delay "$memory" size=1M \
    pause-control="$ctl" rdelay=2
/usr/bin/python3 -c '
import nbd, socket, sys, threading, time
h = nbd.NBD(); h.connect_uri(sys.argv[1])
t = threading.Thread(target=lambda: h.pread(1, 0))
t.start()
time.sleep(0.5)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[2]); c.settimeout(10)
sent = time.monotonic()
c.sendall(b"p")
assert c.recv(1) == b"P"
# The read had about 1.5 s of its 2 s delay left.
assert time.monotonic() - sent > 0.8, "P before the running read finished"
c.sendall(b"r"); assert c.recv(1) == b"R"
t.join()
' "$uri" "$ctl"
stop_server
# The control socket goes away with the server.
for _ in $(seq 50); do [ -e "$ctl" ] || break; sleep 0.1; done
[ ! -e "$ctl" ]

fails "$NBDX" --filter=pause "$memory" size=1M --run true 2> "$tmp/err"
grep -q 'pause-control socket was not set' "$tmp/err"
