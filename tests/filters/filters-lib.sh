# SPDX-License-Identifier: BSD-3-Clause
# filters-lib.sh: sourced by the filter tests after tests/lib.sh.
#   same_as_nbdkit SERVER-ARGS...  nbdx and nbdkit, given the same filters
#                                  and Debian's memory plugin, look the same
#                                  to a client (compare.py)
#   $memory                        that plugin's .so
requires nbdkit nbdsh
memory=""
for d in /usr/lib/*/nbdkit/plugins /usr/lib64/nbdkit/plugins; do
    [ -f "$d/nbdkit-memory-plugin.so" ] && memory="$d/nbdkit-memory-plugin.so"
done
[ -n "$memory" ] || { echo "SKIP: nbdkit's memory plugin not installed"; exit 77; }
same_as_nbdkit() {
    /usr/bin/python3 "$SRCDIR/tests/filters/compare.py" "$@"
}
