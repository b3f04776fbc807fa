#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cow.sh: --filter=cow keeps writes, zeroes and trims in an unlinked
# overlay in $TMPDIR, never in the plugin: a file served through it is
# unchanged byte for byte after nbdcopy (parallel requests), qemu-io
# and nbdsh wrote, zeroed and trimmed it, while clients read back what
# they wrote and block status tells changed, zeroed and untouched
# blocks apart; cow-on-read and cow-on-cache keep the plugin's data as
# it was when read or prefetched; the flags and a request script match
# nbdkit's filter; bad parameters are refused by name.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires nbdcopy qemu-io nbdinfo
set -x

# nbdkit 1.32's cow does not advertise zero over a read-only plugin,
# ours does: compare the rest with zero hidden by nozero.
for a in "" cow-block-size=4096 cow-on-read=true "cow-on-cache=true"; do
    same_as_nbdkit --filter=nozero --filter=cow "$memory" size=1M $a
done

mkdir "$tmp/t"
export TMPDIR="$tmp/t"
head -c 3000000 /dev/urandom >"$tmp/disk" # not a whole number of blocks
sum=$(sha256sum <"$tmp/disk")
chmod a-w "$tmp/disk"
head -c 3000000 /dev/urandom >"$tmp/src"
start_server -U "$sock" --filter=cow file "$tmp/disk"

# The overlay is open but has no name left in $TMPDIR.
[ -z "$(ls -A "$tmp/t")" ]
ls -l /proc/$pid/fd | grep "$tmp/t/.*(deleted)"

nbdcopy --connections=4 --requests=16 --request-size=16384 "$tmp/src" "$uri"
nbdcopy "$uri" "$tmp/back"
cmp "$tmp/src" "$tmp/back"
qemu-io -f raw -c 'write -P 0x61 70000 5000' -c 'write -z 200000 131072' \
    -c 'discard 393216 131072' "$uri"
nbdsh --base-allocation -u "$uri" -c '
src = bytearray(open("'"$tmp/src"'", "rb").read())
src[70000:75000] = b"a" * 5000
src[200000:331072] = bytes(131072)
d = h.pread(3000000, 0)
assert d[:393216] == src[:393216]
assert h.pread(4096, 262144) == bytes(4096)   # small: no hole skipping
assert d[393216:524288] in (bytes(131072), src[393216:524288])
assert d[524288:] == src[524288:]
h.pwrite(b"t" * 7, 3000000 - 7)               # the partial last block
assert h.pread(8, 3000000 - 8) == src[-8:-7] + b"t" * 7
h.flush()
h.pwrite(b"f" * 100, 10, nbd.CMD_FLAG_FUA)
assert h.pread(100, 10) == b"f" * 100
ext = []
h.block_status(3000000, 0, lambda m, o, e, err: ext.extend(e))
pairs = list(zip(ext[0::2], ext[1::2]))
at, kinds = 0, {}
for length, kind in pairs:
    for b in range(at // 65536, (at + length) // 65536):
        kinds[b] = kind
    at += length
assert at == 3000000, at
assert kinds[0] == 0 and kinds[1] == 0              # written
assert kinds[6] == 3 and kinds[7] == 3              # discarded
'
stop_server
rm -f "$sock"
[ "$(sha256sum <"$tmp/disk")" = "$sum" ]
[ -z "$(ls -A "$tmp/t")" ]

# Over a sparse file the plugin's holes show through; written blocks
# are data, zeroed ones holes.
truncate -s 1M "$tmp/sparse"
start_server -U "$sock" --filter=cow file "$tmp/sparse"
nbdsh --base-allocation -u "$uri" -c '
h.pwrite(b"x" * 65536, 131072)
h.zero(65536, 262144)
ext = []
h.block_status(1 << 20, 0, lambda m, o, e, err: ext.extend(e))
kinds, at = [], 0
for length, kind in zip(ext[0::2], ext[1::2]):
    kinds += [kind] * (length // 65536)
    at += length
assert at == 1 << 20 and kinds[:6] == [3, 3, 0, 3, 3, 3], ext
assert h.pread(65536, 131072) == b"x" * 65536
'
stop_server
rm -f "$sock"
[ "$(stat -c %s "$tmp/sparse")" = 1048576 ] && ! grep -q x "$tmp/sparse"

# cow-on-read and cow-on-cache keep the data seen then, even if the
# file changes below the filter later; without them the change shows.
keeps() {                 # keeps yes|no OFFSET-REQUEST ARGS...
    local want=$1 req=$2
    shift 2
    cp "$tmp/src" "$tmp/live"
    start_server -U "$sock" --filter=cow file "$tmp/live" "$@"
    nbdsh_u -c "h.$req"
    printf 'Z%.0s' {1..4096} | dd of="$tmp/live" bs=4096 seek=2 conv=notrunc
    got=$(nbdsh_u -c 'import sys; sys.stdout.write(h.pread(1, 8192).decode("latin1"))')
    stop_server
    rm -f "$sock"
    if [ "$want" = yes ]; then [ "$got" != Z ]; else [ "$got" = Z ]; fi
}
keeps no "pread(4096, 8192)"
keeps yes "pread(4096, 8192)" cow-on-read=true
keeps no "pread(4096, 8192)" cow-on-read="$tmp/switch"
touch "$tmp/switch"
keeps yes "pread(4096, 8192)" cow-on-read="$tmp/switch"
keeps no "cache(4096, 8192)"
keeps yes "cache(4096, 8192)" cow-on-cache=true

# Stacked over offset: the window is what the overlay covers.
start_server -U "$sock" --filter=cow --filter=offset file "$tmp/disk" \
    offset=65536 range=131072
nbdsh_u -c '
assert h.get_size() == 131072
h.pwrite(b"w" * 3, 131069)
orig = open("'"$tmp/disk"'", "rb").read()
assert h.pread(131072, 0) == orig[65536:196605] + b"www"
'
stop_server
rm -f "$sock"
[ "$(sha256sum <"$tmp/disk")" = "$sum" ]

# A model: 3000 random unaligned writes, zeroes, trims and reads over
# blocks that are missing, written and trimmed, with 4 KiB blocks, read
# back as a bytearray that applies the same operations would.
start_server -U "$sock" --filter=cow file "$tmp/disk" cow-block-size=4096
nbdsh_u -c '
import random
m = bytearray(open("'"$tmp/disk"'", "rb").read())
rng = random.Random(7)
for i in range(3000):
    n = rng.choice((1, 100, 4095, 4096, 5000, 20000))
    off = rng.randrange(0, len(m) - n)
    op = rng.randrange(4)
    if op == 0:
        d = bytes([rng.randrange(256)]) * n
        h.pwrite(d, off)
        m[off:off + n] = d
    elif op == 1:
        h.zero(n, off)
        m[off:off + n] = bytes(n)
    elif op == 2:
        # Trim frees whole blocks only; the rest keeps its data.
        h.trim(n, off)
        lo, hi = -(-off // 4096) * 4096, (off + n) // 4096 * 4096
        if lo < hi:
            m[lo:hi] = bytes(hi - lo)
    assert h.pread(n, off) == m[off:off + n], i
assert h.pread(len(m), 0) == m
'
stop_server
rm -f "$sock"
[ "$(sha256sum <"$tmp/disk")" = "$sum" ]

for bad in cow-block-size=2048 cow-block-size=12K cow-block-size=4G \
    cow-block-size=x cow-on-read=maybe cow-on-cache=2x; do
    "$NBDX" -U - --filter=cow "$memory" size=1M $bad --run true \
        2>"$tmp/err" && exit 1
    cat "$tmp/err"
    grep -E "${bad%%=*}|could not|boolean|size" "$tmp/err"
done
