#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# extentlist.sh: the extentlist filter as nbdkit's.  Block status over
# the whole export, read with nbdsh, is the list in the file (unsorted,
# with gaps as hole,zero, word and number types, extents past the end
# clipped), the same as nbdkit's filter gives, whatever the plugin says
# (even over noextents); reads still come from the plugin; a list of
# 100000 extents is answered in full, a reply at a time; a missing
# parameter or file and each kind of bad line are refused, naming the
# file and the line.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
list="$tmp/list"
# nbdkit's format: allocated at 0 and 9M, the rest typed or gaps.
cat >"$list" <<'EOF'
9M   2M
0    64K
  128K	64K   hole,zero
256K 128K zero
512K 256K 1
1M   1M   zero,hole
3M   1M   2
5M   0    hole
EOF
# The same list with what nbdx takes beside: comments, blank lines.
cat >"$tmp/commented" <<'EOF'
# allocated at 0 and 9M

9M   2M  # past the end: clipped
0    64K
  128K	64K   hole,zero # a comment
256K 128K zero
512K 256K 1 #
1M   1M   zero,hole
	
3M   1M   2
5M   0    hole
EOF
same_as_nbdkit --filter=extentlist "$memory" size=10M extentlist="$list"
same_as_nbdkit -r --filter=extentlist "$memory" size=10M extentlist="$list"

# map SERVER ARGS...: every extent of the export, "offset length type",
# by block status requests from 0 to the end, each checked to start
# where the last ended; then one with REQ_ONE at 100000.
map() {
    "$@" --run 'nbdsh --base-allocation -u "$uri" -c "
off, size = 0, h.get_size()
while off < size:
    got = []
    h.block_status(min(size - off, 1 << 31), off,
                   lambda m, o, e, err: got.extend(e))
    assert got and len(got) % 2 == 0, got
    for n, t in zip(got[0::2], got[1::2]):
        if off < size:
            print(off, min(n, size - off), t)
        off += n
got = []
h.block_status(65536, 100000, lambda m, o, e, err: got.extend(e),
               nbd.CMD_FLAG_REQ_ONE)
print(\"one\", got)
"'
}
K=1024
M=1048576
map "$NBDX" -U - -r --filter=extentlist memory 10M extentlist="$list" \
    >"$tmp/ours"
cat "$tmp/ours"
cat >"$tmp/want" <<EOF
0 $((64 * K)) 0
$((64 * K)) $((192 * K)) 3
$((256 * K)) $((128 * K)) 2
$((384 * K)) $((128 * K)) 3
$((512 * K)) $((256 * K)) 1
$((768 * K)) $((3 * M - 768 * K)) 3
$((3 * M)) $M 2
$((4 * M)) $((5 * M)) 3
$((9 * M)) $M 0
one [65536, 3]
EOF
diff "$tmp/want" "$tmp/ours"
map nbdkit -U - -r --filter=extentlist "$memory" size=10M \
    extentlist="$list" >"$tmp/theirs"
diff "$tmp/theirs" "$tmp/ours"

map "$NBDX" -U - -r --filter=extentlist memory 10M \
    extentlist="$tmp/commented" >"$tmp/commented.map"
diff "$tmp/want" "$tmp/commented.map"

# Whatever is below: noextents, a plugin full of data.
map "$NBDX" -U - -r --filter=extentlist --filter=noextents memory 10M \
    extentlist="$list" >"$tmp/ne"
diff "$tmp/want" "$tmp/ne"
head -c $((10 * M)) /dev/urandom >"$tmp/disk"
map "$NBDX" -U - -r --filter=extentlist file "$tmp/disk" \
    extentlist="$list" >"$tmp/file"
diff "$tmp/want" "$tmp/file"
start_server -U "$sock" -r --filter=extentlist file "$tmp/disk" \
    extentlist="$list"
# Reads are the plugin's; nbdcopy, trusting the list, writes zeroes
# (not necessarily everywhere) where it says zero, and nowhere else.
nbdsh_u -c '
disk = open("'"$tmp/disk"'", "rb").read()
for off in range(0, len(disk), 1 << 20):
    assert h.pread(1 << 20, off) == disk[off:off + (1 << 20)], off
'
nbdcopy "$uri" "$tmp/copy"
stop_server
python3 - "$tmp/disk" "$tmp/copy" "$tmp/want" <<'PY'
import sys
disk = open(sys.argv[1], "rb").read()
copy = open(sys.argv[2], "rb").read()
assert len(copy) == len(disk) and copy != disk
for l in open(sys.argv[3]):
    f = l.split()
    if f[0] == "one":
        continue
    off, n, t = map(int, f)
    if not t & 2:
        assert copy[off:off + n] == disk[off:off + n], off
    else:
        assert copy[off:off + n] in (disk[off:off + n], bytes(n)), off
PY

# An empty list: all hole; the same as nbdkit.
: >"$tmp/empty"
map "$NBDX" -U - -r --filter=extentlist memory 10M extentlist="$tmp/empty" \
    >"$tmp/e.ours"
printf '0 %d 3\none [65536, 3]\n' $((10 * M)) | diff - "$tmp/e.ours"
map nbdkit -U - -r --filter=extentlist "$memory" size=10M \
    extentlist="$tmp/empty" | diff - "$tmp/e.ours"

# 100000 extents, 4K each, types cycling 0 1 2 3, given backwards.
python3 -c '
for i in reversed(range(100000)):
    print(i * 4096, 4096, i % 4)' >"$tmp/big"
map "$NBDX" -U - -r --filter=extentlist memory 400M extentlist="$tmp/big" \
    >"$tmp/b.ours"
python3 - "$tmp/b.ours" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
assert rows[-1] == ["one", "[2400,", "0]"], rows[-1]
rows = [tuple(map(int, r)) for r in rows[:-1]]
want = [(i * 4096, 4096, i % 4) for i in range(99999)]
want.append((99999 * 4096, 400 * 1048576 - 99999 * 4096, 3)) # with the gap
assert rows == want, next((a, b) for a, b in zip(rows, want) if a != b)
PY

# Errors.
bad() { # FILE-CONTENT MESSAGE
    printf "$1" >"$tmp/bad"
    "$NBDX" -U - -r --filter=extentlist memory 10M extentlist="$tmp/bad" \
        --run true 2>"$tmp/err" && exit 1
    cat "$tmp/err"
    grep -F "nbdx: extentlist: $tmp/bad:$2" "$tmp/err"
}
bad '0 1M\n\n2M\n' '3: expected "offset length [type]"'
bad '0 1M hole zero\n' '1: expected "offset length [type]"'
bad '0 1M\nx 1M\n' '2: cannot parse the offset'
bad '0 1M\n2M 1Q\n' '2: cannot parse the length'
bad '0 -1\n' '1: cannot parse the length'
bad '0 1M foo\n' '1: type "foo" is not a number nor a list of "hole" and "zero"'
bad '0 1M hole,data\n' '1: type "hole,data" is not a number nor a list'
bad '0 1M 3x\n' '1: type "3x" is not a number'
bad '9223372036854775807 1\n' '1: the extent ends beyond 2^63-1'
bad '# x\n4M 2M\n0 1M\n5M 1M zero\n' '4: the extent overlaps the one at line 2'
bad '0 1M\n1M 1M\n1536K 1\n' '3: the extent overlaps the one at line 2'
printf '0 1M\n1M\0 1M\n' >"$tmp/nul"
"$NBDX" -U - -r --filter=extentlist memory 10M extentlist="$tmp/nul" \
    --run true 2>"$tmp/err" && exit 1
grep -F "nbdx: extentlist: $tmp/nul:2: NUL byte in the line" "$tmp/err"
"$NBDX" -U - -r --filter=extentlist memory 10M extentlist="$tmp/no/such" \
    --run true 2>"$tmp/err" && exit 1
grep -F "nbdx: extentlist: $tmp/no/such: No such file or directory" "$tmp/err"
"$NBDX" -U - -r --filter=extentlist memory 10M --run true 2>"$tmp/err" &&
    exit 1
grep -F "nbdx: extentlist: you must supply the extentlist parameter" \
    "$tmp/err"
# A relative name is found from where the server started.
(cd "$tmp" && "$NBDX" -U - -r --filter=extentlist memory 10M \
    extentlist=list --run 'nbdinfo --map "$uri"') >"$tmp/rel"
grep -E '^ +9437184 +1048576 +0 +data$' "$tmp/rel"
