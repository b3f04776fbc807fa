#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdinfo-json.sh: nbdinfo --json gives a parseable document whose size and
# flags match the export (memory plugin, then read-only pattern plugin).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo python3
set -x

check_json() { # FILE PYTHON-ASSERTIONS (on e = the first export)
    python3 - "$1" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["protocol"] == "newstyle-fixed", doc["protocol"]
assert len(doc["exports"]) == 1, doc["exports"]
e = doc["exports"][0]
print(e)
exec(sys.argv[2])
PY
}

start_server -U "$sock" memory 3M
nbdinfo --json "$uri" >"$tmp/mem.json"
check_json "$tmp/mem.json" '
assert e["export-size"] == 3 * 1048576, e["export-size"]
assert e["is_read_only"] is False
assert e["can_flush"] is True
assert e["can_trim"] is True
assert e["can_zero"] is True
assert e["can_fua"] is True
assert "base:allocation" in e["contexts"], e["contexts"]
'
stop_server; rm -f "$sock"

start_server -r -U "$sock" pattern 5M
nbdinfo --json "$uri" >"$tmp/pat.json"
check_json "$tmp/pat.json" '
assert e["export-size"] == 5 * 1048576, e["export-size"]
assert e["is_read_only"] is True
assert e["can_trim"] is False
assert e["can_zero"] is False
'
