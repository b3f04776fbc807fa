#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdinfo-list.sh: nbdinfo --list shows the default export of a memory
# server, and the file plugin's dir= mode lists one export per file.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo python3
set -x

start_server -U "$sock" memory 1M
nbdinfo --list --json "$uri" >"$tmp/list.json"
cat "$tmp/list.json"
python3 - "$tmp/list.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
names = [e["export-name"] for e in doc["exports"]]
assert names == [""], names
assert doc["exports"][0]["export-size"] == 1048576
PY
stop_server; rm -f "$sock"

# file dir=DIR: every regular file is an export with its own size.
mkdir "$tmp/dir"
truncate -s 64K "$tmp/dir/alpha"
truncate -s 128K "$tmp/dir/beta"
start_server -U "$sock" file dir="$tmp/dir"
nbdinfo --list --json "$uri" >"$tmp/dir.json"
cat "$tmp/dir.json"
python3 - "$tmp/dir.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
sizes = {e["export-name"]: e["export-size"] for e in doc["exports"]}
assert sizes == {"alpha": 65536, "beta": 131072}, sizes
PY
expect_eq "size of beta" 131072 \
    "$(nbdinfo --size "nbd+unix:///beta?socket=$sock")"
