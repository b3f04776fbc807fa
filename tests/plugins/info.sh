#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# info.sh: the info plugin serves the export name (raw and base64), the
# client's address (unix, 127.0.0.1) and the three clocks; it is
# read-only, offers multi-conn only for export names, refuses bad
# base64 and unknown modes, and agrees with Debian's nbdkit info plugin
# on sizes and flags where that is installed.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdsh nbdinfo
set -x

at() { echo "nbd+unix:///$1?socket=$sock"; }

start_server -U "$sock" info
nbdsh -u "$(at hello)" -c '
assert h.get_size() == 5
assert h.pread(5, 0) == b"hello"
assert h.pread(2, 3) == b"lo"
assert h.is_read_only() and h.can_multi_conn() and h.can_cache()
h.cache(5, 0)
try:
    h.pwrite(b"x", 0)
    assert False, "a write succeeded"
except nbd.Error as e:
    assert e.errno == "EPERM", e.errno
'
long=$(printf 'x%.0s' $(seq 4096))
nbdsh -u "$(at "$long")" -c 'assert h.pread(h.get_size(), 0) == b"x" * 4096'
[ "$(nbdinfo --size "$(at '')")" = 0 ]
stop_server

start_server -U "$sock" info mode=base64exportname
nbdsh -u "$(at aGVsbG8gd29ybGQ=)" -c 'assert h.pread(11, 0) == b"hello world"'
# base64 of the bytes 00 01 02 ff: a name the raw mode cannot carry.
nbdsh -u "$(at AAEC%2Fw%3D%3D)" -c 'assert h.pread(4, 0) == b"\0\1\2\xff"'
fails nbdinfo "$(at @@@)"
grep -q 'base64: Base64 decoding error.' "$tmp/server.log"
stop_server

start_server -U "$sock" info address
nbdsh_u -c 'assert h.pread(h.get_size(), 0) == b"unix"
assert not h.can_multi_conn()'
stop_server
port=$(free_port 127.0.0.1)
start_server -i 127.0.0.1 -p "$port" info mode=address
nbdsh -u "nbd://127.0.0.1:$port" -c '
import re
a = h.pread(h.get_size(), 0).decode()
assert re.fullmatch(r"127\.0\.0\.1:[0-9]+", a), a
assert int(a.split(":")[1]) != '"$port"', a
'
stop_server

clock() {
    start_server -U "$sock" info "$1"
    nbdsh_u -c '
import struct, time
def read():
    s, us = struct.unpack(">QI", h.pread(12, 0))
    assert us < 1000000, us
    return s + us / 1e6
assert h.get_size() == 12 and not h.can_multi_conn()
a = read()
time.sleep(0.05)
b = read()
assert b - a >= 0.04, (a, b)
'"$2"
    stop_server
}
clock time 'assert abs(a - time.time()) < 5, a'
clock uptime 'assert 0 < a < 60, a'
clock conntime 'assert 0 <= a < 5, a'

"$NBDX" info bogus 2>"$tmp/err" && exit 1
grep -q "unknown mode: 'bogus'" "$tmp/err"
"$NBDX" info foo=bar 2>"$tmp/err" && exit 1
grep -q "unknown parameter 'foo'" "$tmp/err"
"$NBDX" info --dump-plugin | grep -qx info_base64=yes

# The same sizes and flags as nbdkit's info plugin, where it is installed.
debian=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-info-plugin.so
if [ -f "$debian" ]; then
    for mode in exportname address time; do
        start_server -U "$sock" info "$mode"
        nbdinfo --json "$(at hello)" | grep -v '"uri"' >"$tmp/ours"
        stop_server
        start_server -U "$sock" "$debian" "$mode"
        nbdinfo --json "$(at hello)" | grep -v '"uri"' >"$tmp/theirs"
        stop_server
        diff "$tmp/theirs" "$tmp/ours" | grep -v block_size | grep '^[<>]' &&
            exit 1
    done
fi
echo OK
