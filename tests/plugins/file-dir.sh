#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-dir.sh: with dir= every regular file of the directory is an export:
# nbdinfo --list shows exactly those (not subdirectories or FIFOs), the
# export name selects the file, the default export is the first name in
# sort order, and names that are not files of the directory are refused.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh
set -x

mkdir "$tmp/d" "$tmp/d/subdir"
printf 'bravo data' >"$tmp/d/bravo"
truncate -s 1M "$tmp/d/alpha"
printf 'charlie' >"$tmp/d/charlie.img"
ln -s charlie.img "$tmp/d/link"
mkfifo "$tmp/d/fifo"
start_server -U "$sock" file dir="$tmp/d"

nbdinfo --list --json "$uri" >"$tmp/list.json"
cat "$tmp/list.json"
python3 - "$tmp/list.json" <<'PY'
import json, sys
names = [e["export-name"] for e in json.load(open(sys.argv[1]))["exports"]]
assert names == ["alpha", "bravo", "charlie.img", "link"], names
PY

u() { echo "nbd+unix:///$1?socket=$sock"; }
[ "$(nbdinfo --size "$(u alpha)")" = 1048576 ]
nbdsh -u "$(u bravo)" -c 'assert h.pread(10, 0) == b"bravo data"'
nbdsh -u "$(u link)" -c 'assert h.pread(7, 0) == b"charlie"'
nbdsh -u "$(u charlie.img)" -c '
h.pwrite(b"C", 0)
assert h.pread(7, 0) == b"Charlie"
'
grep -q Charlie "$tmp/d/charlie.img"
# The default export is alpha, the first name.
[ "$(nbdinfo --size "$uri")" = 1048576 ]
for bad in subdir fifo missing ..; do
    fails nbdinfo "$(u "$bad")"
done
fails nbdinfo "nbd+unix:///subdir%2F..%2Fbravo?socket=$sock"
