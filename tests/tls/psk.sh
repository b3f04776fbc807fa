#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# psk.sh: --tls-psk serves nbdinfo and nbdcopy over nbds+unix:// with
# tls-psk-file=, and the PSK file wins over --tls-certificates.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo nbdcopy
set -x

make_psk "$tmp/keys.psk" alice
random_file "$tmp/in" 4096

start_server --tls=require --tls-psk="$tmp/keys.psk" \
    --tls-certificates=/nonexistent -U "$sock" memory 4M
u="nbds+unix://alice@/?socket=$sock&tls-psk-file=$tmp/keys.psk"
nbdinfo "$u" >"$tmp/out"
cat "$tmp/out"
grep -q 'with TLS' "$tmp/out"
nbdcopy "$tmp/in" "$u"
nbdcopy "$u" "$tmp/out"
same_files "$tmp/in" "$tmp/out"
