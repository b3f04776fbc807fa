#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The plugin API page documents every function and callback of the
# plugin headers, and is valid POD.
set -eu
: "${SRCDIR:?run this test through meson test}"
page="$SRCDIR/docs/nbdx-plugin.pod"
inc="$SRCDIR/include"
missing=0

funcs=$(grep -ho 'NBDKIT_EXTERN_DECL([^,]*, *nbdkit_[a-z0-9_]*' \
            "$inc/nbdkit-common.h" "$inc/nbdkit-plugin.h" | sed 's/.*, *//')
# Callbacks and named fields; the v1/v2 placeholder slots are not API.
fields=$(sed -n '/^struct nbdkit_plugin {/,/^};/p' "$inc/nbdkit-plugin.h" |
             grep -o '(\*[a-z_0-9]*)\|[a-z_0-9]*;' | tr -d '(*);' |
             grep -v '^_\(unused\|[a-z]*_v1\)' | sort -u)
[ -n "$funcs" ] && [ -n "$fields" ] || { echo "could not read headers"; exit 1; }

for name in $funcs $fields; do
    if ! grep -q "\b$name\b" "$page"; then
        echo "not documented: $name"
        missing=$((missing + 1))
    fi
done
if command -v podchecker >/dev/null; then
    podchecker "$page"
fi
echo "$(echo $funcs $fields | wc -w) names checked, $missing missing"
[ "$missing" -eq 0 ]
