#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# plugin-docs.sh: every plugin and filter built in the tree has its man
# page (plugins/NAME/nbdx-NAME-plugin.pod, filters/NAME/nbdx-NAME-filter.pod),
# and the parameters agree both ways: each KEY=... line of the config help
# printed by `nbdx --help` is documented as "=item B<KEY=" (or
# "=item [B<KEY=>]" for a magic key), and each such item in the page's
# PARAMETERS section (the whole page if it has none) is in the help.
. "$SRCDIR/tests/lib.sh"

# help_keys KIND NAME: the keys of NAME's config help, one per line.
help_keys() {
    if [ "$1" = plugin ]; then
        "$NBDX" --help "$2" >"$tmp/help" 2>&1
    else
        "$NBDX" --filter="$2" --help null >"$tmp/help" 2>&1
    fi || { cat "$tmp/help" >&2; echo "FAIL: --help for $1 $2" >&2; return 1; }
    # The block after "KIND: NAME" (and its path line) up to a blank line.
    awk -v hdr="$1: $2" '
        index($0, hdr) == 1 { on = 1; next }
        on && /^$/ { exit }
        on { print }' "$tmp/help" |
        sed -nE 's/^\[?([A-Za-z][A-Za-z0-9_.-]*)\]?=.*/\1/p;
                 s/^\[([A-Za-z][A-Za-z0-9_.-]*)=\].*/\1/p' | sort -u
}

# pod_keys POD: the KEY of each "=item B<KEY=" / "=item [B<KEY=>]".
pod_keys() {
    local section
    if grep -q '^=head1 PARAMETERS' "$1"; then
        section=$(awk '/^=head1 / { on = ($0 ~ /^=head1 PARAMETERS/) } on' "$1")
    else
        section=$(cat "$1")
    fi
    printf '%s\n' "$section" |
        sed -nE 's/^=item \[?B<([A-Za-z][A-Za-z0-9_.-]*)=.*/\1/p' | sort -u
}

status=0
checked=0
for kind in plugin filter; do
    for so in "$BUILDDIR/${kind}s"/*/nbdkit-*-"$kind".so; do
        [ -e "$so" ] || continue
        name=$(basename "$so" .so)
        name=${name#nbdkit-}
        name=${name%-"$kind"}
        pod="$SRCDIR/${kind}s/$name/nbdx-$name-$kind.pod"
        checked=$((checked + 1))
        if [ ! -f "$pod" ]; then
            echo "FAIL: $kind $name has no man page ${pod#"$SRCDIR"/}" >&2
            status=1
            continue
        fi
        help_keys "$kind" "$name" >"$tmp/h.keys" || { status=1; continue; }
        pod_keys "$pod" >"$tmp/p.keys"
        echo "$kind $name: help keys: $(tr '\n' ' ' <"$tmp/h.keys")"
        for k in $(comm -23 "$tmp/h.keys" "$tmp/p.keys"); do
            echo "FAIL: $kind $name: $k= is in --help but not in the pod" >&2
            status=1
        done
        for k in $(comm -13 "$tmp/h.keys" "$tmp/p.keys"); do
            echo "FAIL: $kind $name: $k= is in the pod but not in --help" >&2
            status=1
        done
    done
done
if [ $checked = 0 ]; then
    echo "FAIL: no plugins or filters found under $BUILDDIR" >&2
    exit 1
fi
echo "checked $checked plugins and filters"
exit $status
