#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-roundtrip.sh: an image copied into the file plugin with nbdcopy
# lands in the backing file byte for byte, and copies back out unchanged.
. "$SRCDIR/tests/lib.sh"
requires nbdcopy
set -x

head -c 6M /dev/urandom >"$tmp/src"
truncate -s 8M "$tmp/src"                       # a zero tail
truncate -s 8M "$tmp/disk"
start_server -U "$sock" file "$tmp/disk"
nbdcopy --flush --request-size=65536 "$tmp/src" "$uri"
cmp "$tmp/src" "$tmp/disk"
nbdcopy "$uri" "$tmp/dst"
[ "$(sha256sum <"$tmp/src")" = "$(sha256sum <"$tmp/dst")" ]
