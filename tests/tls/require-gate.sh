#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# require-gate.sh: under --tls=require every option before STARTTLS but
# ABORT gets exactly NBD_REP_ERR_TLS_REQD (payload consumed, nothing
# about exports), and NBD_OPT_EXPORT_NAME before TLS disconnects.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/tls/tlsclient.sh"
set -x

start_server --tls=require --tls-psk="$tmp/keys.psk" -U "$sock" memory 1M
tlsclient_run require-gate
tlsclient_run require-export-name
# --tls=on lets the same plaintext options through.
stop_server
start_server --tls=on --tls-psk="$tmp/keys.psk" -U "$sock" memory 1M
fails "$tlsclient" "$sock" require-gate "$tmp/keys.psk"
