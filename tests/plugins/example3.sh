#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# example3.sh: example3 gives each connection its own zeroed writable disk
# of size= bytes (100M by default): writes read back, FUA, flush and zero
# work, a second connection does not see the first one's writes, and each
# disk is a file in /var/tmp unlinked as soon as it is made.  Flags are those of nbdkit's example3 plugin
# when it is installed.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh
set -x

start_server -U "$sock" example3
[ "$(nbdinfo --size "$uri")" = 104857600 ]
stop_server

start_server -U "$sock" example3 size=1M
# Two connections at once, each writing its own bytes.
nbdsh -c "
a = nbd.NBD(); a.connect_uri('$uri')
b = nbd.NBD(); b.connect_uri('$uri')
for h in a, b:
    assert h.get_size() == 1048576
    assert not h.is_read_only()
    assert h.can_flush() and h.can_fua() and h.can_zero()
    assert h.pread(1048576, 0) == bytes(1048576)
a.pwrite(b'A' * 5000, 4093)
b.pwrite(b'B' * 3, 1048573, nbd.CMD_FLAG_FUA)
a.flush()
assert a.pread(5002, 4092) == b'\0' + b'A' * 5000 + b'\0'
assert b.pread(5002, 4092) == bytes(5002)
assert b.pread(3, 1048573) == b'BBB'
assert a.pread(3, 1048573) == bytes(3)
a.zero(1000, 5000)
# The server holds two disks, both unlinked.
import os
fds = '/proc/$pid/fd'
links = [os.readlink(fds + '/' + f) for f in os.listdir(fds)]
disks = [l for l in links if l.startswith('/var/tmp/disk')]
assert len(disks) == 2 and all(l.endswith(' (deleted)') for l in disks), links
assert a.pread(5000, 4093) == b'A' * 907 + bytes(1000) + b'A' * 3093
# A new connection starts from zeroes again.
c = nbd.NBD(); c.connect_uri('$uri')
assert c.pread(5000, 4093) == bytes(5000)
"
nbdinfo "$uri" | grep -Ev 'uri:|block_size_' >"$tmp/ours.info"
stop_server
# size= is checked, and is not a magic key.
fails "$NBDX" -f -U "$tmp/s2" example3 size=1.5 2>/dev/null
fails "$NBDX" -f -U "$tmp/s2" example3 1M 2>/dev/null

if nbdkit example3 --dump-plugin >/dev/null 2>&1; then
    NBDX=nbdkit start_server -U "$sock" example3 size=1M
    nbdinfo "$uri" | grep -Ev 'uri:|block_size_' >"$tmp/theirs.info"
    stop_server
    diff -u "$tmp/theirs.info" "$tmp/ours.info"
else
    echo "nbdkit's example3 plugin is not installed: not compared"
fi
