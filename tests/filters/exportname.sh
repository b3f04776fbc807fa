#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# exportname.sh: over nbdkit's file plugin in dir= mode, the list modes
# seen by nbdinfo --list (the same as under nbdkit), the default export,
# strict refusal of unlisted names, and fixed and script descriptions.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires nbdinfo
set -x
file="${memory%/*}/nbdkit-file-plugin.so"
[ -f "$file" ] || { echo "SKIP: nbdkit's file plugin not installed"; exit 77; }
mkdir "$tmp/dir"
truncate -s 1M "$tmp/dir/file1"
truncate -s 2M "$tmp/dir/file2"
truncate -s 3M "$tmp/dir/file3"

# The names and descriptions nbdinfo --list shows, sorted.
list() { nbdinfo --list "$uri" | grep -E '^export=|description:' | sort; }
# Same, from the real nbdkit with the same arguments.
list_nbdkit() {
    nbdkit -U - --filter=exportname "$file" dir="$tmp/dir" "$@" \
        --run 'nbdinfo --list "$uri"' | grep -E '^export=|description:' | sort
}
# The list under nbdx, checked against nbdkit; the list goes to stdout.
check_list() {
    start_server -U "$sock" --filter=exportname "$file" dir="$tmp/dir" "$@"
    list > "$tmp/ours"
    stop_server
    list_nbdkit "$@" > "$tmp/theirs"
    diff -u "$tmp/theirs" "$tmp/ours"
    cat "$tmp/ours"
}

out=$(check_list)
[ "$(echo "$out" | grep -c '^export=')" = 3 ]
out=$(check_list exportname-list=empty)
[ -z "$out" ]
out=$(check_list exportname-list=defaultonly default-export=file2)
[ "$out" = 'export="file2":' ]
out=$(check_list exportname-list=explicit exportname=file1 exportname=file3 \
          exportdesc=fixed:hello)
[ "$(echo "$out" | grep -c 'description: hello')" = 2 ]
echo "$out" | grep -q 'export="file3"'
fails grep -q file2 <<<"$out"
out=$(check_list 'exportdesc=script:echo "size of $name"')
echo "$out" | grep -q 'description: size of file2'
out=$(check_list exportdesc=none)
fails grep -q description <<<"$out"

# error: the list request itself fails.
start_server -U "$sock" --filter=exportname "$file" dir="$tmp/dir" \
    exportname-list=error
fails nbdinfo --list "$uri"
grep -q 'export list restricted by policy' "$tmp/server.log"
stop_server

# The default export, and strict mode refusing what is not listed.
start_server -U "$sock" --filter=exportname "$file" dir="$tmp/dir" \
    default-export=file2 exportname-strict=true exportname=file1 exportname=
/usr/bin/python3 -c '
import nbd, sys
def size(name):
    h = nbd.NBD()
    h.set_export_name(name)
    try:
        h.connect_unix(sys.argv[1])
    except nbd.Error:
        return None
    return h.get_size()
assert size("file1") == 1048576
assert size("file3") is None  # exists, but not listed
assert size("") is None       # "" is allowed, but it means file2: unlisted
' "$sock"
grep -q "export 'file3' not found" "$tmp/server.log"
stop_server

start_server -U "$sock" --filter=exportname "$file" dir="$tmp/dir" \
    default-export=file2 'exportdesc=script:printf "d-%s\n" "$name"'
/usr/bin/python3 -c '
import nbd, sys
h = nbd.NBD()
h.set_full_info(True)
h.connect_unix(sys.argv[1])
assert h.get_size() == 2 * 1048576
assert h.get_canonical_export_name() == "file2"
assert h.get_export_description() == "d-file2", h.get_export_description()
' "$sock"
stop_server

start_server -U "$sock" --filter=exportname "$file" dir="$tmp/dir" \
    exportname-strict=true exportname=file1
/usr/bin/python3 -c '
import nbd, sys
h = nbd.NBD()
try:
    h.connect_unix(sys.argv[1])
    assert False, "default export allowed"
except nbd.Error:
    pass
' "$sock"
grep -q 'default export ("") not permitted' "$tmp/server.log"
stop_server

# Stacked under the log filter, the plugin still sees the listed names.
start_server -U "$sock" --filter=log --filter=exportname "$file" \
    dir="$tmp/dir" logfile="$tmp/log" exportname-list=explicit exportname=file3
[ "$(list)" = 'export="file3":' ]
stop_server

# Bad values name the parameter.
fails "$NBDX" --filter=exportname "$file" dir="$tmp/dir" exportname-list=bogus \
    --run true 2> "$tmp/err"
grep -q 'exportname-list' "$tmp/err"
fails "$NBDX" --filter=exportname "$file" dir="$tmp/dir" exportdesc=bogus \
    --run true 2> "$tmp/err"
grep -q 'exportdesc' "$tmp/err"
