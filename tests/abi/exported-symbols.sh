#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# exported-symbols.sh: the nbdx binary exports exactly the nbdkit_*
# functions listed in server/nbdx.syms: each listed name is a defined
# function in the dynamic symbol table, and nothing else of ours is there
# (internal functions stay hidden from plugins).
. "$SRCDIR/tests/lib.sh"
requires nm
set -x

syms="$SRCDIR/server/nbdx.syms"
# The names and globs between the braces, without "global:"/"local:".
sed -e 's/#.*//' "$syms" | tr -s ' \t;{}' '\n' |
    grep -Ev '^(|global:|local:|\*)$' >"$tmp/patterns"
cat "$tmp/patterns"
[ -s "$tmp/patterns" ] || { echo "FAIL: no names in $syms" >&2; exit 1; }

nm -D --defined-only "$NBDX" >"$tmp/nm"
# Ignore symbols that the toolchain adds to every executable and glibc
# variables copied into it (they carry an @VERSION), and those of a
# sanitizer runtime in the sanitizer builds.
awk '{ print $2, $3 }' "$tmp/nm" | grep -v '@' |
    grep -Ev ' (_init|_fini|_edata|_end|__bss_start|_IO_stdin_used|__data_start|data_start|__dso_handle|_ITM_[A-Za-z]+|__TMC_END__|__(asan|lsan|ubsan|tsan|sanitizer)_[A-Za-z0-9_]+)$' \
        >"$tmp/ours" || :
cat "$tmp/ours"

status=0
while read -r type name; do
    ok=no
    while read -r pat; do
        # shellcheck disable=SC2053
        [[ $name == $pat ]] && { ok=yes; break; }
    done <"$tmp/patterns"
    if [ $ok = no ]; then
        echo "FAIL: exported but not in nbdx.syms: $name ($type)" >&2
        status=1
    fi
done <"$tmp/ours"

while read -r pat; do
    case "$pat" in *'*'*|*'?'*) continue ;; esac
    if ! grep -qE "^[TW] $pat\$" "$tmp/ours"; then
        echo "FAIL: listed in nbdx.syms but not exported as a function: $pat" >&2
        status=1
    fi
done <"$tmp/patterns"
exit $status
