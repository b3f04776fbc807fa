#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# startup-errors.sh: bad TLS files and priority strings stop the server
# at startup with exit 1 and a one-line message naming the problem,
# before it listens.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/tls.sh"
set -x

make_pki "$tmp/pki"
make_psk "$tmp/keys.psk" alice

# expect_startup_error PATTERN NBDX-ARGS...
expect_startup_error() {
    local pattern=$1 rc=0
    shift
    "$NBDX" -f -U "$sock" "$@" memory 1M 2>"$tmp/err" || rc=$?
    cat "$tmp/err"
    [ "$rc" -eq 1 ]
    [ "$(wc -l <"$tmp/err")" -eq 1 ]
    grep -q "$pattern" "$tmp/err"
    [ ! -e "$sock" ]
}

expect_startup_error 'server-cert.pem: No such file' \
    --tls=on --tls-certificates="$tmp/nonexistent"
mkdir "$tmp/bad"
echo garbage >"$tmp/bad/server-cert.pem"
cp "$tmp/pki/server-key.pem" "$tmp/bad/"
expect_startup_error 'server-cert.pem' --tls=on --tls-certificates="$tmp/bad"
# A key that does not belong to the certificate.
make_pki "$tmp/other"
cp "$tmp/pki/server-cert.pem" "$tmp/bad/"
cp "$tmp/other/server-key.pem" "$tmp/bad/"
expect_startup_error 'server-key.pem' --tls=on --tls-certificates="$tmp/bad"
# --tls-verify-peer needs the CA; a broken CA file is an error.
mkdir "$tmp/noca"
cp "$tmp/pki/server-cert.pem" "$tmp/pki/server-key.pem" "$tmp/noca/"
expect_startup_error 'ca-cert.pem: No such file' \
    --tls=on --tls-certificates="$tmp/noca" --tls-verify-peer
echo garbage >"$tmp/noca/ca-cert.pem"
expect_startup_error 'ca-cert.pem' --tls=on --tls-certificates="$tmp/noca"
echo garbage >"$tmp/pki/ca-crl.pem"
expect_startup_error 'ca-crl.pem' --tls=on --tls-certificates="$tmp/pki"
rm "$tmp/pki/ca-crl.pem"

expect_startup_error 'keys: No such file' --tls=on --tls-psk="$tmp/keys"
printf 'alice:abc\n' >"$tmp/odd.psk"
expect_startup_error 'line 1: .*hex' --tls=on --tls-psk="$tmp/odd.psk"
printf 'alice:00ff\nbob:zz\n' >"$tmp/nonhex.psk"
expect_startup_error 'line 2: .*hex' --tls=on --tls-psk="$tmp/nonhex.psk"
printf 'no colon here\n' >"$tmp/nocolon.psk"
expect_startup_error 'line 1: expected username:hexkey' \
    --tls=on --tls-psk="$tmp/nocolon.psk"
printf '\n' >"$tmp/empty.psk"
expect_startup_error 'no keys' --tls=on --tls-psk="$tmp/empty.psk"
# The key itself never appears in the message.
printf 'alice:00112233445566778899aabbccddeeff\nbob:secretsecret\n' \
    >"$tmp/leak.psk"
expect_startup_error 'line 2' --tls=on --tls-psk="$tmp/leak.psk"
fails grep -q 00112233 "$tmp/err"

expect_startup_error 'tls-priority=NORMAL:+NOSUCHTHING' \
    --tls=on --tls-certificates="$tmp/pki" --tls-priority=NORMAL:+NOSUCHTHING

# No TLS without oldstyle's consent.
expect_startup_error 'oldstyle' -o --tls=require --tls-certificates="$tmp/pki"
