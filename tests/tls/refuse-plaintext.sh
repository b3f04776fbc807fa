#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# refuse-plaintext.sh: under --tls=require a plaintext client (nbdinfo on
# an nbd+unix:// URI) fails cleanly without learning the export, and the
# server keeps serving TLS clients.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo timeout
set -x

make_pki "$tmp/pki"
start_server --tls=require --tls-certificates="$tmp/pki" -U "$sock" memory 1M
rc=0
timeout 30 nbdinfo "nbd+unix:///?socket=$sock" >"$tmp/out" 2>"$tmp/err" || rc=$?
cat "$tmp/out" "$tmp/err"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
fails grep -q 1048576 "$tmp/out" "$tmp/err"
timeout 30 nbdinfo --list "nbd+unix:///?socket=$sock" >"$tmp/out" 2>&1 && exit 1
cat "$tmp/out"
kill -0 "$pid"
[ "$(nbdinfo --size \
    "nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client")" = 1048576 ]
