#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdkit-short-names.sh: a plugin nbdx does not ship (sh, eval) is found
# by its short name in Debian's nbdkit plugin directory, and the bare
# first parameter of a script plugin becomes script=.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh
plugindir=$(pkg-config --variable=plugindir nbdkit 2>/dev/null || true)
[ -f "$plugindir/nbdkit-sh-plugin.so" ] ||
    { echo "SKIP: Debian's nbdkit plugins are not installed"; exit 77; }

cat >"$tmp/disk.sh" <<'SH'
#!/usr/bin/env bash
case "$1" in
get_size) echo 65536 ;;
pread) head -c "$3" /dev/zero | tr '\0' 'S' ;;
*) exit 2 ;;
esac
SH
chmod +x "$tmp/disk.sh"

# sh by short name, script as the bare first parameter.
"$NBDX" -U - sh "$tmp/disk.sh" \
    --run 'nbdsh -u "$uri" -c "assert h.pread(4, 100) == b\"SSSS\""'

# eval by short name with key=value methods.
size=$("$NBDX" -U - eval get_size='echo 12345' \
    pread='head -c $3 /dev/zero' --run 'nbdinfo --size "$uri"')
[ "$size" = 12345 ]

# Our own plugins win over nbdkit's of the same name.
path=$("$NBDX" --dump-plugin memory | sed -n 's/^path=//p')
[ "$path" = "$BUILDDIR/plugins/memory/nbdkit-memory-plugin.so" ]
