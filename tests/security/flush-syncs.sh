#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# flush-syncs.sh: with the file plugin, the reply to FLUSH and to a FUA
# write comes only after an fdatasync (or fsync) of the file; a plain
# write is answered without one.  Watched with strace, which logs each
# call when it returns, before the server can send the reply.
. "$SRCDIR/tests/lib.sh"
requires nbdsh strace
# LeakSanitizer cannot run under strace.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
set -x
strace -f -o /dev/null true || { echo "SKIP: strace cannot trace here"; exit 77; }

truncate -s 1M "$tmp/disk"
rm -f "$sock"
strace -f -qq -e trace=fdatasync,fsync -o "$tmp/trace" \
    "$NBDX" -f -P "$tmp/pid" -U "$sock" file "$tmp/disk" \
    2>"$tmp/server.log" &
_pids="$_pids $!"
for _ in $(seq 100); do [ -s "$tmp/pid" ] && break; sleep 0.1; done
# strace detaches when killed: the server must be killed itself.
_pids="$(cat "$tmp/pid") $_pids"
python3 - "$sock" "$tmp/trace" <<'EOT'
import re, sys, nbd
sock, trace = sys.argv[1:3]
def syncs():
    with open(trace) as f:
        return len(re.findall(r"\b(fdatasync|fsync)\(", f.read()))
h = nbd.NBD()
h.connect_unix(sock)
assert h.can_flush() and h.can_fua()
n0 = syncs()
h.pwrite(b"a" * 4096, 0)
assert syncs() == n0, "plain write synced"
h.flush()
n1 = syncs()
assert n1 > n0, "FLUSH answered without fdatasync"
h.pwrite(b"b" * 4096, 4096, nbd.CMD_FLAG_FUA)
assert syncs() > n1, "FUA write answered without fdatasync"
print("syncs: %d after flush, %d after FUA write" % (n1 - n0, syncs() - n0))
EOT
