#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# accept-pool.sh: the thread that accepts a client serves it, yet no
# client holds back the next: with the only client stalled in the
# handshake another is served at once, 64 clients connecting together
# are all greeted, and once they are gone the extra threads exit (after
# 5 s idle) while the server keeps accepting.
. "$SRCDIR/tests/lib.sh"
requires python3 nbdinfo
set -x
export PYTHONPATH="$SRCDIR/tests/security"

start_server -U "$sock" memory 1M
python3 - "$sock" "$pid" <<'EOT'
import os, subprocess, sys, time, nbdraw
path, pid = sys.argv[1], int(sys.argv[2])
uri = "nbd+unix:///?socket=" + path

def threads():
    return len(os.listdir("/proc/%d/task" % pid))

idle = threads()
stalled = nbdraw.connect(path)
nbdraw.greeting(stalled)
out = subprocess.run(["nbdinfo", "--size", uri], check=True, timeout=10,
                     capture_output=True).stdout
assert out.strip() == b"1048576", out
held = [nbdraw.connect(path) for _ in range(64)]
for s in held:
    nbdraw.greeting(s)
print("threads: %d idle, %d with 65 clients" % (idle, threads()))
assert threads() > 65
for s in held + [stalled]:
    s.close()
deadline = time.monotonic() + 30
while threads() > idle and time.monotonic() < deadline:
    time.sleep(0.2)
print("threads after the clients left: %d" % threads())
assert threads() == idle
out = subprocess.run(["nbdinfo", "--size", uri], check=True, timeout=10,
                     capture_output=True).stdout
assert out.strip() == b"1048576", out
EOT
