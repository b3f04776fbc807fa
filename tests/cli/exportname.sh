#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# exportname.sh: -e NAME (and its aliases) goes into $exportname and into
# the URI, percent-encoded, and clients connect with it.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo
set -x

for opt in -e --export --export-name --exportname; do
    "$NBDX" "$opt" 'my disk' memory 1M --run '
        echo "$exportname" >'"$tmp"'/e
        echo "$uri" >'"$tmp"'/uri
        nbdinfo --json "$uri" >'"$tmp"'/info
    '
    [ "$(cat "$tmp/e")" = "my disk" ]
    case "$(cat "$tmp/uri")" in nbd+unix:///my%20disk\?socket=/*) ;; *) exit 1 ;; esac
    grep -q '"export-name": "my disk"' "$tmp/info"
done
