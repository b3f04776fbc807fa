#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tls.sh: --tls=off (and its boolean spellings) serves plain NBD even
# with TLS files named; --tls=on/require spellings are accepted (the
# TLS behaviour itself is tests/tls/); other words are usage errors.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

for w in off false no 0 OFF; do
    "$NBDX" --tls="$w" -U - memory 1M --run 'nbdinfo --size "$uri" >'"$tmp"'/size'
    [ "$(cat "$tmp/size")" = 1048576 ]
done
# Without credentials, on and require fail at startup, clearly.
for w in on yes require required force; do
    rc=0
    "$NBDX" -f --tls="$w" --tls-certificates="$tmp/none" -U "$sock" \
        memory 1M 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 1 ]
    grep -q 'server-cert.pem: No such file' "$tmp/err"
    [ ! -e "$sock" ]
done
fails "$NBDX" -f --tls=sometimes -U "$sock" memory 1M
"$NBDX" --tls=off --tls-certificates=/nonexistent --tls-psk=/nonexistent \
    --tls-verify-peer --tls-priority=NORMAL -U - memory 1M --run true
