#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-readonly.sh: the file plugin opens the file read-only when the
# server is read-only (-r), and serves a file it cannot write read-only
# instead of failing.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export tmp

truncate -s 1M "$tmp/disk"

# With -r the open file descriptor itself is O_RDONLY.
start_server -r -U "$sock" file "$tmp/disk"
export pid
nbdsh_u -c '
import os
assert h.is_read_only()
fddir = "/proc/%s/fd" % os.environ["pid"]
modes = []
for fd in os.listdir(fddir):
    if os.readlink(os.path.join(fddir, fd)) == os.environ["tmp"] + "/disk":
        for line in open("/proc/%s/fdinfo/%s" % (os.environ["pid"], fd)):
            if line.startswith("flags:"):
                modes.append(int(line.split()[1], 8) & os.O_ACCMODE)
assert modes == [os.O_RDONLY], modes
'
stop_server

# A file without write permission.  Root ignores permissions, so then run
# the server as nobody.
chmod 0444 "$tmp/disk"
chmod 0755 "$tmp"
mkdir -m 1777 "$tmp/run"
as_user=()
if [ "$(id -u)" = 0 ]; then
    requires setpriv
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
"${as_user[@]}" "$NBDX" -f -P "$tmp/run/pid" -U "$tmp/run/sock" file "$tmp/disk" &
_pids="$_pids $!"
# The pidfile is written once the socket listens.
for _ in $(seq 300); do [ -s "$tmp/run/pid" ] && break; sleep 0.1; done
nbdsh -u "nbd+unix:///?socket=$tmp/run/sock" -c '
assert h.is_read_only()
assert h.pread(512, 0) == bytes(512)
try:
    h.pwrite(b"x", 0)
    assert False, "write succeeded"
except nbd.Error:
    pass
'
