#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# limit.sh: limit=2 lets two clients in and refuses the third until one
# leaves; limit=0 is unlimited; the default is 1.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
same_as_nbdkit --filter=limit "$memory" size=1M
start_server -U "$sock" --filter=limit "$memory" size=1M limit=2
/usr/bin/python3 -c '
import nbd, sys
def conn():
    h = nbd.NBD()
    h.connect_uri(sys.argv[1])
    return h
a, b = conn(), conn()
try:
    conn()
    raise SystemExit("a third client got in")
except nbd.Error:
    pass
a.shutdown()
c = conn()
c.pread(512, 0)
' "$uri"
grep 'too many clients connected, connection rejected' "$tmp/server.log"
stop_server
start_server -U "$sock" --filter=limit "$memory" size=1M limit=0
nbdsh_u -c '
hs = [nbd.NBD() for _ in range(5)]
for x in hs:
    x.connect_uri(h.get_uri())
'
stop_server
start_server -U "$sock" --filter=limit "$memory" size=1M
fails nbdsh_u -c 'x = nbd.NBD(); x.connect_uri(h.get_uri())'
