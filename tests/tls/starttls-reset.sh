#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# starttls-reset.sh: CVE-2021-3716.  Structured replies, a meta context,
# extended headers and an INFO negotiated in plaintext are all forgotten
# after STARTTLS: GO advertises no DF, READ gets a simple reply and
# BLOCK_STATUS is refused.  The control (renegotiate) shows the same
# options negotiated under TLS do take effect.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/tls/tlsclient.sh"
set -x

start_server --tls=on --tls-psk="$tmp/keys.psk" -U "$sock" memory 1M
tlsclient_run reset
tlsclient_run renegotiate
