#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# socket-activation-fds.sh: a socket-activated fd that is not a socket
# (a file, or nothing passed at all) is an error naming the fd, not a
# listener: the server's own quit pipe could otherwise stand in for it.
. "$SRCDIR/tests/lib.sh"
set -x

# $0 is the server; LISTEN_PID must be the pid it runs as.
activate='export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" -f memory 1M'
: >"$tmp/file"
fails bash -c "$activate" "$NBDX" 3<"$tmp/file" 2>"$tmp/err"
grep -q 'socket activation: fd 3 is not a socket' "$tmp/err"
fails bash -c "$activate" "$NBDX" 3<&- 2>"$tmp/err"
grep -q 'socket activation: fd 3 is not a socket' "$tmp/err"
