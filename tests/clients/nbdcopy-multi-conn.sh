#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdcopy-multi-conn.sh: nbdcopy with 4 connections and many requests in
# flight, file -> nbd (file plugin) -> nbd (memory) -> file, is lossless.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdcopy nbdinfo
set -x

random_file "$tmp/src" 16384
truncate -s 16M "$tmp/disk"
start_server -U "$sock" file "$tmp/disk"
nbdinfo --can multi-conn "$uri" ||
    echo "note: file export does not advertise multi-conn"
start_server -U "$tmp/sock2" memory 16M
uri2="nbd+unix:///?socket=$tmp/sock2"
nbdinfo --can multi-conn "$uri2" ||
    { echo "FAIL: memory plugin should advertise multi-conn" >&2; exit 1; }

nbdcopy --connections=4 --requests=32 --request-size=65536 --flush \
    "$tmp/src" "$uri"
nbdcopy --connections=4 --requests=32 "$uri" "$uri2"
nbdcopy --connections=4 --requests=32 "$uri2" "$tmp/dst"
same_files "$tmp/src" "$tmp/dst"
# The file plugin wrote through to its backing file.
same_files "$tmp/src" "$tmp/disk"
