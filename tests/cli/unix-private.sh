#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# unix-private.sh: -U - listens on a socket in a new private directory,
# --print-uri prints its URI, and the directory is removed at exit.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

start_server -U - --print-uri memory 1M >"$tmp/uri"
for _ in $(seq 50); do [ -s "$tmp/uri" ] && break; sleep 0.1; done
u=$(cat "$tmp/uri")
case "$u" in nbd+unix://\?socket=/*/socket) ;; *) exit 1 ;; esac
s=${u#*socket=}
[ -S "$s" ]
[ "$(stat -c %a "$(dirname "$s")")" = 700 ]
[ "$(nbdinfo --size "$u")" = 1048576 ]

stop_server
[ ! -e "$s" ]
[ ! -e "$(dirname "$s")" ]
