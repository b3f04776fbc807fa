#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The backend is opened only once the client picks an export (CVE-2019-14850),
# and each NBD_OPT_INFO closes what it opened (CVE-2019-14851): the log
# filter sees no connection from clients that never choose, and one
# Connect/Disconnect pair per INFO and GO.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" --filter=log memory 1M logfile="$tmp/log"
# Clients that go away before choosing an export, or only list.
"$BUILDDIR/tests/hostile/rawclient" "$sock" vanish 1048576 || true
nbdsh --opt-mode -u "$uri" -c 'h.opt_list(lambda n, d: 0); h.opt_abort()'
nbdsh --opt-mode -u "$uri" -c 'h.opt_list_meta_context(lambda n: 0)'
# vanish opens two connections that do choose an export (GO).
test "$(grep -c '^.*Connect export' "$tmp/log")" = 2
nbdsh --opt-mode -u "$uri" -c '
h.opt_info()
h.opt_info()
h.opt_go()
h.pread(512, 0)
h.shutdown()
'
for _ in $(seq 50); do
    [ "$(grep -c 'Disconnect' "$tmp/log")" = 5 ] && break
    sleep 0.1
done
cat "$tmp/log"
test "$(grep -c 'Connect export' "$tmp/log")" = 5
test "$(grep -c 'Disconnect' "$tmp/log")" = 5
