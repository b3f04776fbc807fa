#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tls-on-mixed.sh: --tls=on serves plaintext and TLS clients side by side,
# and nbdkit_is_tls tells the plugin which one it has.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdsh
set -x

plugin="$BUILDDIR/tests/tls/nbdkit-tlsinfo-plugin.so"
make_pki "$tmp/pki"
start_server --tls=on --tls-certificates="$tmp/pki" -U "$sock" "$plugin"

read_disk() {
    nbdsh -c 'h.set_uri_allow_local_file(True)' -c "h.connect_uri('$1')" \
        -c 'print(h.pread(4096, 0).rstrip(b"\0").decode(), end="")'
}
read_disk "nbd+unix:///?socket=$sock" >"$tmp/plain"
read_disk "nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client" \
    >"$tmp/tls"
cat "$tmp/plain" "$tmp/tls"
expect_eq "plaintext client" tls=0 "$(head -1 "$tmp/plain")"
expect_eq "TLS client" tls=1 "$(head -1 "$tmp/tls")"
# libnbd's default, TLS if the server offers it, picks TLS on nbd:// too.
nbdsh -c 'h.set_tls(nbd.TLS_ALLOW)' \
    -c "h.set_tls_certificates('$tmp/pki/client')" \
    -c "h.connect_uri('nbd+unix:///?socket=$sock')" \
    -c 'assert h.get_tls_negotiated()' \
    -c 'assert h.pread(6, 0) == b"tls=1\n"'
