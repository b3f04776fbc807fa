#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# run-vars.sh: --run sets $tls, $tls_certificates and $tls_psk, and with
# --tls=require $uri is an nbds URI carrying the credentials a client
# can connect with directly; --print-uri prints the same URI.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
set -x

make_pki "$tmp/pki"
make_psk "$tmp/keys.psk" alice
vars='echo "${tls-unset} ${tls_certificates-unset} ${tls_psk-unset} $uri"'

"$NBDX" --tls=require --tls-certificates="$tmp/pki" -U - memory 1M \
    --run "$vars"' >'"$tmp"'/out; nbdinfo --size "$uri" >'"$tmp"'/size'
read -r t c p u <"$tmp/out"
expect_eq tls 2 "$t"
expect_eq tls_certificates "$tmp/pki" "$c"
expect_eq tls_psk unset "$p"
case "$u" in
nbds+unix://\?socket=/*/socket\&tls-certificates=$tmp/pki) ;;
*) echo "bad uri $u" >&2; exit 1 ;;
esac
expect_eq size 1048576 "$(cat "$tmp/size")"

# The server's own directory works as the client's: it has the CA.
"$NBDX" --tls=on --tls-psk="$tmp/keys.psk" -U - memory 1M --run "$vars" \
    >"$tmp/out"
read -r t c p u <"$tmp/out"
expect_eq tls 1 "$t"
expect_eq tls_certificates unset "$c"
expect_eq tls_psk "$tmp/keys.psk" "$p"
case "$u" in nbd+unix://\?socket=/*/socket) ;; *) exit 1 ;; esac

"$NBDX" --tls=require --tls-psk="$tmp/keys.psk" -U - memory 1M --run "$vars" \
    >"$tmp/out"
read -r t c p u <"$tmp/out"
case "$u" in
nbds+unix://\?socket=/*/socket\&tls-psk-file=$tmp/keys.psk) ;;
*) echo "bad uri $u" >&2; exit 1 ;;
esac

"$NBDX" --tls=off --tls-psk="$tmp/keys.psk" -U - memory 1M --run "$vars" \
    >"$tmp/out"
read -r t c p u <"$tmp/out"
expect_eq "tls when off" unset "$t"
expect_eq "tls_psk when off" unset "$p"

port=$(free_port 127.0.0.1)
start_server --print-uri --tls=require --tls-certificates="$tmp/pki" \
    -i 127.0.0.1 -p "$port" memory 1M >"$tmp/printed"
expect_eq "--print-uri" \
    "nbds://127.0.0.1:$port?tls-certificates=$tmp/pki" "$(cat "$tmp/printed")"
expect_eq "size via printed URI" 1048576 "$(nbdinfo --size "$(cat "$tmp/printed")")"
