#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# example4.sh: the Perl example plugin, a script found by its short name
# in the build tree and run by nbdx with the perl plugin, serves one RAM
# disk shared by its clients; size= is required.  Debian's nbdkit
# example4, if its perl plugin is installed, serves the same bytes.
# Skipped (77) if the perl plugin was not built.
. "$SRCDIR/tests/lib.sh"
[ -e "$BUILDDIR/plugins/perl/nbdkit-perl-plugin.so" ] ||
    { echo "SKIP: the perl plugin was not built"; exit 77; }
requires nbdinfo nbdcopy nbdsh qemu-img
set -x

dd if=/dev/urandom of="$tmp/src" bs=64K count=16 status=none
start_server -U "$sock" example4 size=1048576
[ "$(nbdinfo --size "$uri")" = 1048576 ]
# Zeros at first, then what a client wrote, seen by the next client.
nbdsh_u -c 'assert h.pread(1048576, 0) == bytes(1048576)'
nbdcopy "$tmp/src" "$uri"
qemu-img compare -f raw -F raw "$tmp/src" "$uri"
nbdcopy -- "$uri" - | cmp "$tmp/src" -
nbdsh_u -c '
h.pwrite(b"four", 65535)
assert h.pread(6, 65534) != bytes(6)
assert h.pread(4, 65535) == b"four"
'
stop_server

# size= is required and must be a number of bytes.
fails "$NBDX" example4 --run true 2>"$tmp/err"
grep "size was not set" "$tmp/err"
fails "$NBDX" example4 size=1M --run true 2>"$tmp/err"
grep "not a number of bytes" "$tmp/err"

# Debian's example4 serves the same fresh disk.  (It is read-only there:
# nbdkit 1.32's perl plugin takes no pwrite sub without can_write.)
if command -v nbdkit >/dev/null && nbdkit perl --version >/dev/null 2>&1 &&
    nbdkit example4 --dump-plugin >/dev/null 2>&1; then
    for server in "$NBDX" nbdkit; do
        "$server" -U - example4 size=300000 \
            --run 'nbdinfo --size "$uri" && nbdcopy -- "$uri" - | sha256sum' \
            >"$tmp/out.$(basename "$server")"
    done
    cat "$tmp/out.nbdx"
    cmp "$tmp/out.nbdx" "$tmp/out.nbdkit"
fi
