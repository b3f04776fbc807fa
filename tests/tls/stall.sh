#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# stall.sh: a client that goes quiet after the STARTTLS ACK, or in the
# middle of a TLS record, is dropped at the handshake deadline; one that
# hangs up mid-record is dropped at once.  The server does not spin
# meanwhile (its CPU time stays small) and serves the next client.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/tls/tlsclient.sh"
set -x

cputime() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

start_server --timeout=3 --tls=require --tls-psk="$tmp/keys.psk" \
    -U "$sock" memory 1M
before=$(cputime)
for s in stall stall-mid-record; do
    t0=$(date +%s%N)
    tlsclient_run "$s"
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "$s: dropped after $ms ms"
    [ "$ms" -ge 2500 ] && [ "$ms" -lt 15000 ]
done
tlsclient_run hangup-mid-record
sleep 1
after=$(cputime)
# Clock ticks (1/100 s): 7 s of waiting must cost well under 1 s of CPU.
echo "server CPU ticks: $before -> $after"
[ $((after - before)) -lt 100 ]
grep 'TLS handshake: read: Connection timed out' "$tmp/server.log"
