#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tls.sh: --tls=off (and its boolean spellings) serves plain NBD;
# --tls=on/require fail clearly while TLS is not built; other words are
# usage errors.  TLS file options are parsed.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

for w in off false no 0 OFF; do
    "$NBDX" --tls="$w" -U - memory 1M --run 'nbdinfo --size "$uri" >'"$tmp"'/size'
    [ "$(cat "$tmp/size")" = 1048576 ]
done
for w in on yes require required force; do
    rc=0
    "$NBDX" -f --tls="$w" -U "$sock" memory 1M 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 1 ]
    grep -q 'TLS support is not built yet' "$tmp/err"
    [ ! -e "$sock" ]
done
fails "$NBDX" -f --tls=sometimes -U "$sock" memory 1M
"$NBDX" --tls=off --tls-certificates=/nonexistent --tls-psk=/nonexistent \
    --tls-verify-peer --tls-priority=NORMAL -U - memory 1M --run true
