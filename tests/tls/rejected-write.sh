#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# rejected-write.sh: a WRITE the server refuses (past the end) has its
# payload drained through TLS, not from the raw socket, so the client
# gets ENOSPC and the connection stays in step for the next request.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdsh timeout
set -x

make_pki "$tmp/pki"
start_server --tls=require --tls-certificates="$tmp/pki" -U "$sock" memory 1M
u="nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client"
# Without strict mode libnbd sends the out-of-range write.
timeout 60 nbdsh -c 'h.set_strict_mode(0)' \
    -c 'h.set_uri_allow_local_file(True)' -c "h.connect_uri('$u')" -c '
assert h.get_tls_negotiated()
h.pwrite(b"x" * 65536, 0)
try:
    h.pwrite(b"y" * 1048576, 1048576 - 4096)
    assert False, "write past the end succeeded"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e
assert h.pread(65536, 0) == b"x" * 65536
'
