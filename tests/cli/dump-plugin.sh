#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# dump-plugin.sh: PLUGIN --dump-plugin prints the plugin's metadata and
# exits without needing its required parameters.
. "$SRCDIR/tests/lib.sh"
set -x

"$NBDX" memory --dump-plugin >"$tmp/out"
cat "$tmp/out"
grep -q '^name=memory$' "$tmp/out"
grep -q '^api_version=2$' "$tmp/out"
grep -q '^has_pread=1$' "$tmp/out"
path=$(sed -n 's/^path=//p' "$tmp/out")
[ -f "$path" ]
case "$path" in */nbdkit-memory-plugin.so) ;; *) exit 1 ;; esac

# Parameters before --dump-plugin are accepted (config runs, not
# config_complete).
"$NBDX" --dump-plugin memory size=1M >"$tmp/out2"
grep -q '^name=memory$' "$tmp/out2"
