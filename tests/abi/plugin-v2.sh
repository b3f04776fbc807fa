#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# plugin-v2.sh PLUGIN.so: a plugin built from tests/abi/plugin-v2.c against
# our include/ with NBDKIT_API_VERSION 2 loads and serves: flags reach the
# callbacks (native FUA, NO_HOLE, FAST_ZERO), extents, export list,
# descriptions, default export, the lifecycle callbacks in order, and the
# lifetime of the .config key and value strings.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
so=${1:?usage: plugin-v2.sh PLUGIN.so}
requires nbdsh nbdinfo python3
set -x

"$NBDX" "$so" --dump-plugin >"$tmp/dump"
cat "$tmp/dump"
grep -qx 'name=abiv2' "$tmp/dump"
grep -qx 'api_version=2' "$tmp/dump"

# Checks that fail record it and carry on, so one run reports them all.
status=0
fail() { echo "FAIL: $*" >&2; status=1; }

log="$tmp/log"
start_server -U "$sock" "$so" size=1M log="$log"

# Export list with names and descriptions.
nbdinfo --list --json "$uri" >"$tmp/list.json"
cat "$tmp/list.json"
python3 - "$tmp/list.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
names = sorted(e["export-name"] for e in doc["exports"])
assert names == ["alpha", "beta"], names
for e in doc["exports"]:
    # Either the list's description or the one from export_description.
    if e["export-name"] == "alpha":
        assert e.get("description") in ("the first export", "v2 export alpha"), e
PY

# The default export ("") is resolved through .default_export.
nbdsh -u "nbd+unix:///beta?socket=$sock" -c '
assert h.get_size() == 1048576
assert h.can_fua() and h.can_fast_zero() and h.can_multi_conn()
h.pwrite(b"v2" * 256, 4096, nbd.CMD_FLAG_FUA)
assert h.pread(512, 4096) == b"v2" * 256
h.zero(4096, 8192)
h.zero(4096, 12288, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FUA)
h.zero(4096, 16384, nbd.CMD_FLAG_FAST_ZERO)
h.trim(4096, 20480, nbd.CMD_FLAG_FUA)
h.flush()
'
# The description comes from .export_description, which sees the default
# export under its resolved name (nbdkit_export_name() == "alpha").
nbdinfo "$uri" | tee "$tmp/info"
grep -q 'description: v2 export alpha$' "$tmp/info" ||
    fail "default export not resolved to alpha in .open"

# Extents: data then a hole, clipped to each request.
nbdinfo --map --json "nbd+unix:///beta?socket=$sock" >"$tmp/map.json"
cat "$tmp/map.json"
python3 - "$tmp/map.json" <<'PY'
import json, sys
m = [(e["offset"], e["length"], e["type"]) for e in json.load(open(sys.argv[1]))]
assert m == [(0, 524288, 0), (524288, 524288, 3)], m
PY
nbdsh --base-allocation -u "$uri" -c '
got = []
h.block_status(4096, 524288 - 1024,
               lambda ctx, off, ents, err: got.append(list(ents)))
print(got)
e = got[0]
assert e[:2] == [1024, 0] and e[3] == 3, got
# The last extent may run past the request, but not past the export.
assert 3072 <= e[2] <= 524288, got
'
stop_server
cat "$log"

# logged LINE: the plugin logged exactly LINE.
logged() { grep -qxF "$1" "$log" || fail "not logged: $1"; }
logged 'open export=alpha'
logged 'open export=beta'
logged 'pwrite 512 4096 fua=1'
logged 'zero 4096 8192 may_trim=1 fast=0 fua=0'
logged 'zero 4096 12288 may_trim=0 fast=0 fua=1'
logged 'zero 4096 16384 may_trim=1 fast=1 fua=0'
logged 'trim 4096 20480 fua=1'
# .config strings stay valid for the plugin's lifetime (nbdkit-plugin(3)).
logged 'config strings valid=1'
logged 'config strings at unload valid=1'
if grep -qx 'open export=' "$log"; then
    fail ".open saw an empty export name"
fi
# Native FUA: the server must not add a flush after the FUA write.
expect_eq "flushes" 1 "$(grep -cx flush "$log")"
# Lifecycle order, first occurrence of each.
order=$(awk '!seen[$1]++ { print $1 }' "$log" |
        grep -E '^(config_complete|get_ready|after_fork|preconnect|open|close|cleanup|unload)$' |
        tr '\n' ' ')
expect_eq "lifecycle order" \
    "config_complete get_ready after_fork preconnect open close cleanup unload " \
    "$order"
# The same through an @PATH parameter file (servers whose --help has it).
if "$NBDX" --help | grep -q '@PATH'; then
    printf 'size=512K\n# a comment\nlog=%s\n' "$tmp/log2" >"$tmp/params"
    start_server -U "$tmp/sock2" "$so" @"$tmp/params"
    nbdsh -u "nbd+unix:///alpha?socket=$tmp/sock2" \
        -c 'assert h.get_size() == 524288'
    stop_server
    cat "$tmp/log2"
    grep -qxF 'config strings valid=1' "$tmp/log2" ||
        fail "@PATH: .config strings changed before config_complete"
    grep -qxF 'config strings at unload valid=1' "$tmp/log2" ||
        fail "@PATH: .config strings changed before unload"
fi
expect_eq "opens matched by closes" "$(grep -c '^open ' "$log")" \
    "$(grep -cx close "$log")"
exit $status
