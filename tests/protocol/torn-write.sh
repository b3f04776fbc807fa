#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# torn-write.sh: a WRITE changes the export only once its whole payload
# has arrived.  A client that sends a WRITE header and 0, 1, 511, 512,
# half or all but one byte of the payload and then closes or resets the
# connection leaves the data as it was, and the server serves the next
# client; a client that sends the whole payload does change the data.
# For the memory and file plugins (unix socket and TCP), memory under the
# offset and log filters, and memory over TLS (torn-write.py).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
/usr/bin/python3 -c 'import nbd' 2>/dev/null ||
    { echo "SKIP: python3-libnbd not installed"; exit 77; }
set -x

failed=""

# torn NAME PLUGIN ADDRESS [CERTDIR] -- NBDX ARGS...: one server, all cases.
torn() {
    local name=$1 plugin=$2 address=$3 certs=
    shift 3
    [ "$1" = -- ] || { certs=$1; shift; }
    shift
    rm -f "$sock" "$tmp/server.log"
    start_server -v "$@"
    /usr/bin/python3 "$SRCDIR/tests/protocol/torn-write.py" \
        "$address" "$tmp/server.log" "$plugin" ${certs:+"$certs"} ||
        failed="$failed $name"
    stop_server
    mv "$tmp/server.log" "$tmp/server.log.$name"
}

port=$(free_port 127.0.0.1)
tcp="-i 127.0.0.1 -p $port"
truncate -s 16M "$tmp/disk.img"
make_pki "$tmp/pki"

torn memory memory "$sock" -- -U "$sock" memory 16M
# shellcheck disable=SC2086
torn memory-tcp memory "127.0.0.1:$port" -- $tcp memory 16M
torn file file "$sock" -- -U "$sock" file "$tmp/disk.img"
# shellcheck disable=SC2086
torn file-tcp file "127.0.0.1:$port" -- $tcp file "$tmp/disk.img"
torn offset memory "$sock" -- -U "$sock" --filter=offset memory 16M \
    offset=4097 range=12M
torn log memory "$sock" -- -U "$sock" --filter=log memory 16M \
    logfile="$tmp/requests.log"
torn tls memory "$sock" "$tmp/pki" -- -U "$sock" --tls=require \
    --tls-certificates="$tmp/pki" memory 16M

[ -z "$failed" ] || { echo "FAIL: torn writes with:$failed" >&2; exit 1; }
