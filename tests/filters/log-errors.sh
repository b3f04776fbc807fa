#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-errors.sh: a failing request is logged with return=-1 and the errno
# name, and the failure still reaches the client.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

start_server -U "$sock" --filter=log full 1M logfile="$tmp/log"
fails nbdsh_u -c 'h.pwrite(b"x" * 512, 4096)'
stop_server
rm -f "$sock"
cat "$tmp/log"
grep -E ' connection=1 Write id=1 offset=0x1000 count=0x200 fua=0 \.\.\.$' "$tmp/log"
grep -E ' connection=1 \.\.\.Write id=1 return=-1 error=ENOSPC$' "$tmp/log"
