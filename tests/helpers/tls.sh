# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# tls.sh: TLS credentials made at test time, sourced after tests/lib.sh.
# ECDSA keys keep certtool fast.
#
#   make_pki DIR [CN]   CA, server certificate for localhost/127.0.0.1/::1
#                       (ca-cert.pem, server-cert.pem, server-key.pem) and a
#                       client certificate in DIR/client/ (ca-cert.pem,
#                       client-cert.pem, client-key.pem), subject CN and
#                       O=NBDX Test; CA subject CN=NBDX Test CA
#   make_psk FILE USER  a PSK file with one random key for USER

requires certtool psktool

_certtool() {
    certtool "$@" >/dev/null 2>&1 || { echo "certtool $* failed" >&2; return 1; }
}

# make_ca DIR NAME: a self-signed CA, DIR/ca-key.pem and DIR/ca-cert.pem.
make_ca() {
    mkdir -p "$1"
    cat >"$1/ca.info" <<EOF
cn = $2
ca
cert_signing_key
expiration_days = 2
EOF
    _certtool --generate-privkey --key-type=ecdsa --outfile "$1/ca-key.pem"
    _certtool --generate-self-signed --load-privkey "$1/ca-key.pem" \
        --template "$1/ca.info" --outfile "$1/ca-cert.pem"
}

# make_signed DIR NAME TEMPLATE-LINES...: DIR/NAME-key.pem, NAME-cert.pem
# signed by the CA in DIR.
make_signed() {
    local dir=$1 name=$2
    shift 2
    printf '%s\n' "$@" "expiration_days = 2" >"$dir/$name.info"
    _certtool --generate-privkey --key-type=ecdsa \
        --outfile "$dir/$name-key.pem"
    _certtool --generate-certificate --load-privkey "$dir/$name-key.pem" \
        --load-ca-certificate "$dir/ca-cert.pem" \
        --load-ca-privkey "$dir/ca-key.pem" \
        --template "$dir/$name.info" --outfile "$dir/$name-cert.pem"
}

make_pki() {
    local dir=$1 cn=${2:-client.example.com}
    make_ca "$dir" "NBDX Test CA"
    make_signed "$dir" server "cn = localhost" "organization = NBDX Test" \
        "dns_name = localhost" "ip_address = 127.0.0.1" "ip_address = ::1" \
        tls_www_server encryption_key signing_key
    make_signed "$dir" client "cn = $cn" "organization = NBDX Test" \
        tls_www_client encryption_key signing_key
    mkdir -p "$dir/client"
    cp "$dir/ca-cert.pem" "$dir/client/ca-cert.pem"
    mv "$dir/client-cert.pem" "$dir/client-key.pem" "$dir/client/"
}

make_psk() {
    mkdir -p "$(dirname "$1")"
    psktool -u "$2" -p "$1" >/dev/null 2>&1 ||
        { echo "psktool failed" >&2; return 1; }
}
