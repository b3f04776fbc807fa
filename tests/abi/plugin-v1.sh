#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# plugin-v1.sh PLUGIN.so: a plugin built from tests/abi/plugin-v1.c against
# our include/ with NBDKIT_API_VERSION 1 loads and serves; requests map onto
# the v1 callbacks as nbdkit defines (FUA emulated by flush, NO_HOLE as
# may_trim=0, EOPNOTSUPP from zero falls back to pwrite, unload at exit).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
so=${1:?usage: plugin-v1.sh PLUGIN.so}
requires nbdsh
set -x

"$NBDX" "$so" --dump-plugin >"$tmp/dump"
cat "$tmp/dump"
grep -qx 'name=abiv1' "$tmp/dump"
grep -qx 'api_version=1' "$tmp/dump"

log="$tmp/log"
start_server -U "$sock" "$so" size=1M log="$log"
nbdsh_u -c '
assert h.get_size() == 1048576
assert h.can_fua(), "FUA should be emulated with flush"
assert h.can_trim() and h.can_zero() and h.can_flush()
h.pwrite(b"v1" * 2048, 8192)
assert h.pread(4096, 8192) == b"v1" * 2048
h.pwrite(b"F" * 512, 0, nbd.CMD_FLAG_FUA)
h.zero(4096, 8192)
h.zero(4096, 12288, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(8192, 8192) == bytes(8192)
h.trim(512, 65536)
h.flush()
'
stop_server
cat "$log"
grep -q '^config_complete size=1048576$' "$log"
grep -q '^open readonly=0$' "$log"
# The FUA write is a pwrite followed by a flush.
grep -A1 '^pwrite 512 0$' "$log" | tail -1 | grep -qx flush ||
    { echo "FAIL: FUA not emulated by flush after pwrite" >&2; exit 1; }
grep -qx 'zero 4096 8192 may_trim=1' "$log"
grep -qx 'zero 4096 12288 may_trim=0' "$log"
grep -qx 'trim 512 65536' "$log"
expect_eq "last callback" unload "$(tail -1 "$log")"

# zero=refuse: the server falls back to writing zeroes.
rm -f "$log"
start_server -U "$tmp/sock2" "$so" size=1M log="$log" zero=refuse
nbdsh -u "nbd+unix:///?socket=$tmp/sock2" -c '
h.pwrite(b"\xee" * 65536, 0)
h.zero(65536, 0)
assert h.pread(65536, 0) == bytes(65536), "fallback did not zero"
'
stop_server
cat "$log"
grep -qx 'zero 65536 0 may_trim=1' "$log"
# ...followed by pwrites covering the range.
sed -n '/^zero 65536 0/,$p' "$log" | grep '^pwrite' |
    awk '{ n += $2 } END { if (n != 65536) { print "pwrite total " n; exit 1 } }'
