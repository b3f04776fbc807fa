#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# swab.sh: each swab-bits as nbdkit's filter; 16 swaps byte pairs on read
# and write, 32 and 64 reverse words; unaligned requests fail with EINVAL.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
# (nbdkit 1.32's swab-bits=8 garbles data and the map; nbdx's changes
# nothing, as documented: checked below.)
for b in "" swab-bits=16 swab-bits=32 swab-bits=64; do
    same_as_nbdkit --filter=swab "$memory" size=1M $b
done
printf '\x00\x01\x02\x03\x04\x05\x06\x07' >"$tmp/disk"
truncate -s 4097 "$tmp/disk"
for b in 16:0100030205040706 32:0302010007060504 64:0706050403020100 \
    8:0001020304050607; do
    start_server -U "$sock" --filter=swab file "$tmp/disk" swab-bits=${b%:*}
    want=4096 # rounded down to a word; 8 bits changes nothing
    [ "${b%:*}" = 8 ] && want=4097
    [ "$(nbdinfo --size "$uri")" = $want ]
    [ "$(nbdsh_u -c 'print(h.pread(8, 0).hex())')" = "${b#*:}" ]
    stop_server
done
start_server -U "$sock" --filter=swab file "$tmp/disk"
nbdsh_u -c '
h.pwrite(bytes.fromhex("aabbccdd"), 8)
assert h.pread(4, 8) == bytes.fromhex("aabbccdd")
'
stop_server
[ "$(od -An -tx1 -j8 -N4 "$tmp/disk" | tr -d ' ')" = bbaaddcc ]
start_server -U "$sock" --filter=swab file "$tmp/disk"
/usr/bin/python3 -c '
import nbd, sys
h = nbd.NBD()
h.set_strict_mode(0)
h.connect_uri(sys.argv[1])
try:
    h.pread(3, 1)
    raise SystemExit("an unaligned read succeeded")
except nbd.Error as e:
    assert e.errno == "EINVAL", e.errno
' "$uri"
