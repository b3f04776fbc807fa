#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# pipelined-options.sh: options sent all at once, before any reply is
# read, are answered in order and whole (the server holds replies back
# until it reads again, never across options); ABORT still gets its ACK.
. "$SRCDIR/tests/lib.sh"
requires python3
set -x
export PYTHONPATH="$SRCDIR/tests/security"

start_server -U "$sock" memory 1M
python3 - "$sock" <<'EOT'
import struct, sys, nbdraw
from nbdraw import recv_exact, REPLY_MAGIC, IHAVEOPT

OPT_ABORT, OPT_INFO, OPT_STRUCTURED, OPT_LIST_META = 2, 6, 8, 9
REP_INFO, REP_META, ERR_UNSUP = 3, 4, 2**31 + 1

def opt(code, data=b""):
    return struct.pack(">QII", IHAVEOPT, code, len(data)) + data

def replies(s, code):
    """The replies to one option, up to its final one."""
    out = []
    while True:
        magic, o, rtype, rlen = struct.unpack(">QIII", recv_exact(s, 20))
        assert magic == REPLY_MAGIC and o == code, (hex(magic), o, code)
        out.append((rtype, recv_exact(s, rlen)))
        if rtype != REP_INFO and rtype != REP_META:
            return out

s = nbdraw.connect(sys.argv[1])
nbdraw.greeting(s)
meta = struct.pack(">II", 0, 1) + struct.pack(">I", 15) + b"base:allocation"
s.sendall(struct.pack(">I", 3) + opt(OPT_STRUCTURED) +
          opt(OPT_LIST_META, meta) + opt(OPT_INFO, b"\0" * 6) + opt(99) +
          opt(nbdraw.OPT_GO, b"\0" * 6))
assert replies(s, OPT_STRUCTURED) == [(nbdraw.REP_ACK, b"")]
r = replies(s, OPT_LIST_META)
assert [t for t, _ in r] == [REP_META, nbdraw.REP_ACK], r
assert r[0][1][4:] == b"base:allocation", r
r = replies(s, OPT_INFO)
assert r[-1][0] == nbdraw.REP_ACK and r[0][0] == REP_INFO, r
assert struct.unpack(">HQ", r[0][1][:10]) == (0, 1048576), r
assert replies(s, 99)[0][0] == ERR_UNSUP
r = replies(s, nbdraw.OPT_GO)
assert r[-1][0] == nbdraw.REP_ACK, r
# Transmission works after the pipelined handshake.
s.sendall(struct.pack(">IHHQQI", nbdraw.REQUEST_MAGIC, 0, nbdraw.CMD_DISC,
                      1, 0, 0))
s.close()

# ABORT: the ACK is sent before the server hangs up.
s = nbdraw.connect(sys.argv[1])
nbdraw.greeting(s)
s.sendall(struct.pack(">I", 3) + opt(OPT_ABORT))
assert replies(s, OPT_ABORT) == [(nbdraw.REP_ACK, b"")]
assert s.recv(1) == b""
EOT
