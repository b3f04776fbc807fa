# SPDX-License-Identifier: BSD-3-Clause
# filters-lib.sh: sourced by the filter tests after tests/lib.sh.
#   same_as_nbdkit SERVER-ARGS...  nbdx and nbdkit, given the same filters
#                                  and Debian's memory plugin, look the same
#                                  to a client (compare.py)
#   $memory                        that plugin's .so
#   reads_match FILE, read_only    the export at $uri reads as FILE;
#                                  it is read-only
requires nbdkit nbdsh
memory=""
for d in /usr/lib/*/nbdkit/plugins /usr/lib64/nbdkit/plugins; do
    [ -f "$d/nbdkit-memory-plugin.so" ] && memory="$d/nbdkit-memory-plugin.so"
done
[ -n "$memory" ] || { echo "SKIP: nbdkit's memory plugin not installed"; exit 77; }
same_as_nbdkit() {
    /usr/bin/python3 "$SRCDIR/tests/filters/compare.py" "$@"
}
# reads_match FILE: the export at $uri is FILE: same size, nbdcopy gives
# FILE back, and 100 reads at random offsets, up to 1 MiB each, match it.
reads_match() {
    [ "$(nbdinfo --size "$uri")" = "$(stat -c %s "$1")" ]
    nbdcopy "$uri" "$tmp/reads-match.out"
    cmp "$1" "$tmp/reads-match.out"
    nbdsh_u -c '
import random
disk = open("'"$1"'", "rb").read()
rng = random.Random(len(disk))
for _ in range(100):
    n = rng.randint(1, min(1 << 20, len(disk)))
    off = rng.randint(0, len(disk) - n)
    assert h.pread(n, off) == disk[off:off + n], (off, n)
'
}
# read_only: the export at $uri says it is read-only and refuses a write.
read_only() {
    nbdsh_u -c '
assert h.is_read_only()
try:
    h.pwrite(b"x", 0)
    raise SystemExit("a write succeeded")
except nbd.Error:
    pass
'
}
