#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# versions.sh: by default TLS 1.2 and 1.3 are accepted and TLS 1.1 is
# refused; --tls-priority replaces the default (here: TLS 1.2 only).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/tls/tlsclient.sh"
set -x

start_server --tls=require --tls-psk="$tmp/keys.psk" -U "$sock" memory 1M
tlsclient_run tls1.2
tlsclient_run tls1.3
tlsclient_run tls1.1-refused
grep 'TLS handshake' "$tmp/server.log"
stop_server

start_server --tls=require --tls-psk="$tmp/keys.psk" \
    --tls-priority=NORMAL:-VERS-ALL:+VERS-TLS1.2 -U "$sock" memory 1M
tlsclient_run tls1.2
tlsclient_run tls1.3-refused
