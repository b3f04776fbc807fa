#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# help.sh: --help prints the usage on stdout and exits 0; --help PLUGIN
# adds the plugin's own help after it.
. "$SRCDIR/tests/lib.sh"
set -x

"$NBDX" --help >"$tmp/out"
grep -q '^nbdx \[-4|--ipv4-only\]' "$tmp/out"
grep -q 'nbdx --dump-config' "$tmp/out"
fails grep -q '^plugin:' "$tmp/out"

"$NBDX" --help memory >"$tmp/plugin"
grep -q '^nbdx \[-4|--ipv4-only\]' "$tmp/plugin"
grep -q '^plugin: memory' "$tmp/plugin"
# The plugin's config_help mentions its size parameter.
grep -q 'size' "$tmp/plugin"

# Options may follow the plugin name, as with nbdkit.
"$NBDX" memory --help >"$tmp/after"
cmp "$tmp/plugin" "$tmp/after"
