# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# tlsclient.sh: sourced by the tlsclient tests after tests/lib.sh.
#   tlsclient_run SCENARIO: run one tlsclient scenario against the server
#   on $sock (PSK key $tmp/keys.psk), then prove the server survived by
#   serving a fresh TLS client.
tlsclient="$BUILDDIR/tests/tls/tlsclient"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
make_psk "$tmp/keys.psk" alice

tlsclient_run() {
    "$tlsclient" "$sock" "$1" "$tmp/keys.psk"
    kill -0 "$pid"
    nbdinfo --size \
        "nbds+unix://alice@/?socket=$sock&tls-psk-file=$tmp/keys.psk" >/dev/null
}
