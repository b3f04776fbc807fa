#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# debian-imports.sh: every nbdkit_* function that Debian's compiled nbdkit
# plugins and filters import is exported by nbdx, so none of them can fail
# to load for a missing symbol.
. "$SRCDIR/tests/lib.sh"
requires nm
set -x

dirs=$(ls -d ${NBDKIT_DEB_PLUGINDIR:-} /usr/lib/*/nbdkit/plugins \
    /usr/lib/*/nbdkit/filters 2>/dev/null || :)
[ -n "$dirs" ] || { echo "SKIP: Debian's nbdkit package is not installed"; exit 77; }

nm -D --defined-only "$NBDX" | awk '$2 ~ /^[TW]$/ { print $3 }' | sort -u \
    >"$tmp/exported"
status=0
for so in $(find $dirs -name 'nbdkit-*.so' | sort); do
    nm -D --undefined-only "$so" | awk '{ print $2 }' | sed 's/@.*//' |
        grep '^nbdkit_' | sort -u >"$tmp/imports"
    missing=$(comm -23 "$tmp/imports" "$tmp/exported" | tr '\n' ' ')
    if [ -n "$missing" ]; then
        echo "FAIL: $(basename "$so") needs: $missing" >&2
        status=1
    fi
done
exit $status
