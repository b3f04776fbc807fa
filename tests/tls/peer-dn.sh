#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# peer-dn.sh: nbdkit_peer_tls_dn and nbdkit_peer_tls_issuer_dn give the
# verified client certificate's subject and issuer in RFC 4514 form
# under --tls-verify-peer, and "" without it, under PSK or in plaintext.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdsh
set -x

plugin="$BUILDDIR/tests/tls/nbdkit-tlsinfo-plugin.so"
make_pki "$tmp/pki" "client-$RANDOM.example.com"
# What certtool, an independent reader, says the names are.
certtool -i --infile "$tmp/pki/client/client-cert.pem" >"$tmp/cert.txt"
subject=$(sed -n 's/^[[:space:]]*Subject: //p' "$tmp/cert.txt")
issuer=$(sed -n 's/^[[:space:]]*Issuer: //p' "$tmp/cert.txt")
case "$subject" in CN=client-*.example.com,O=NBDX\ Test) ;; *) exit 1 ;; esac
[ "$issuer" = "CN=NBDX Test CA" ]
read_disk() {
    nbdsh -c 'h.set_uri_allow_local_file(True)' -c "h.connect_uri('$1')" \
        -c 'print(h.pread(4096, 0).rstrip(b"\0").decode(), end="")'
}
x509="nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client"

start_server --tls=require --tls-certificates="$tmp/pki" --tls-verify-peer \
    -U "$sock" "$plugin"
read_disk "$x509" >"$tmp/out"
cat "$tmp/out"
expect_eq dn "dn=$subject" "$(sed -n 2p "$tmp/out")"
expect_eq issuer "issuer=$issuer" "$(sed -n 3p "$tmp/out")"
stop_server

# Not verified: not reported, though the client has a certificate.
start_server --tls=on --tls-certificates="$tmp/pki" -U "$sock" "$plugin"
read_disk "$x509" >"$tmp/out"
expect_eq "dn without --tls-verify-peer" "tls=1 dn= issuer=" \
    "$(tr '\n' ' ' <"$tmp/out" | sed 's/ $//')"
read_disk "nbd+unix:///?socket=$sock" >"$tmp/out"
expect_eq "dn in plaintext" "tls=0 dn= issuer=" \
    "$(tr '\n' ' ' <"$tmp/out" | sed 's/ $//')"
stop_server

make_psk "$tmp/keys.psk" alice
start_server --tls=require --tls-psk="$tmp/keys.psk" -U "$sock" "$plugin"
read_disk "nbds+unix://alice@/?socket=$sock&tls-psk-file=$tmp/keys.psk" \
    >"$tmp/out"
expect_eq "dn under PSK" "tls=1 dn= issuer=" \
    "$(tr '\n' ' ' <"$tmp/out" | sed 's/ $//')"
