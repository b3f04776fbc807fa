#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# starttls-options.sh: STARTTLS with data gets ERR_INVALID, a second
# STARTTLS under TLS gets ERR_INVALID, and plaintext a man in the middle
# sends right after STARTTLS breaks the TLS handshake rather than being
# read as an option.  The server carries on after each.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/tls/tlsclient.sh"
set -x

start_server --tls=on --tls-psk="$tmp/keys.psk" -U "$sock" memory 1M
tlsclient_run starttls-data
tlsclient_run starttls-twice
tlsclient_run injection
grep 'TLS handshake' "$tmp/server.log"
