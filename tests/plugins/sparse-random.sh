#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sparse-random.sh: the sparse-random plugin serves fixed bytes for each
# set of parameters (sha256 digests of nbdkit 1.32.5's output, recorded
# once); its allocation map and reads at any alignment agree with a
# reference model; writes succeed only if they change nothing, trim and
# zero only on holes; -r refuses writes; bad parameters are refused.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy sha256sum
set -x

model="$SRCDIR/tests/plugins/random_model.py"

# Whole-disk digests, recorded from nbdkit 1.32.5 (nbdkit -U -
# sparse-random size= seed= percent= runlength= random-content=
# --run 'nbdcopy "$uri" out'; sha256sum out).
while read -r size seed pct rl rc digest; do
    start_server -U "$sock" sparse-random size="$size" seed="$seed" \
        percent="$pct" runlength="$rl" random-content="$rc"
    nbdcopy "$uri" "$tmp/out"
    [ "$(sha256sum <"$tmp/out" | cut -d' ' -f1)" = "$digest" ]
    stop_server
done <<'EOF2'
64M 1 10 1048576 false acafd52760f70effbd6f20226bea603be9770e371d66de3900a41b935fbf08b4
64M 1 40 65536 true 0e7a4b0a924b705488529f4141be1fe997ae56774c2b4da5cf7d785deaf18451
10000005 5 33.3 4096 false 4c18df8335f77d71208d3e55b31cd2a2772a9e4b6273b4cef206d894bdd0c70b
10000005 5 33.3 4096 true 6880e9b589f14a1823978814258a321f744d9c65532fde63c5072ec9bbf4dff2
1M 2 100 16777216 true 7f05efbd2cb3a414ae3ae244211a13a0092b659d43f64081706d270026847d82
1M 2 0 16777216 false 30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58
EOF2

# check_model SIZE SEED PERCENT RUNLENGTH RC: the map, block by block, and
# 200 reads at random offsets (a third block-aligned) match the model.
check_model() {
    start_server -U "$sock" sparse-random size="$1" seed="$2" percent="$3" \
        runlength="$4" random-content="$5"
    nbdsh --base-allocation -u "$uri" -c "
import random
exec(open('$model').read())
size, seed, rc = $1, $2, '$5' == 'true'
bm = sparse_layout(size, seed, $3, $4)
assert h.get_size() == size
got, off = [], 0
def extent(ctx, o, ents, err):
    global off
    for i in range(0, len(ents), 2):
        n = min(ents[i], size - off)
        assert n % BS == 0 or off + n == size, (off, n)
        assert ents[i + 1] in (0, 3), ents[i + 1]
        got.extend([int(ents[i + 1] == 0)] * ((n + BS - 1) // BS))
        off += n
    return 0
while off < size:
    h.block_status(min(size - off, 1 << 30), off, extent)
assert got == bm, 'map differs from the model'
rng = random.Random(size)
for _ in range(200):
    n = rng.randint(1, 20000)
    o = rng.randint(0, size - n)
    if rng.random() < 0.3:
        o -= o % BS
    assert h.pread(n, o) == sparse_read(bm, seed, rc, o, n), (o, n)
"
    stop_server
}
check_model 33554432 9 50 65536 false
check_model 33554432 9 50 65536 true
check_model 10000005 3 20 1 true # runlength below a block

# Writes: what a read returns can be written back, over holes and data;
# different bytes fail with EIO; trim and zero succeed on holes only.
start_server -U "$sock" sparse-random 64M seed=1 runlength=1048576
nbdsh --base-allocation -u "$uri" -c "
exec(open('$model').read())
bm = sparse_layout(64 << 20, 1, 10, 1048576)
da = bm.index(1) * BS  # the first data block, after a hole
assert h.can_fua() and h.can_flush() and h.can_trim() and h.can_zero()
d = h.pread(3 * BS, da - BS)
h.pwrite(d, da - BS)
h.pwrite(d, da - BS, nbd.CMD_FLAG_FUA)
h.flush()
h.zero(BS, 0)
h.zero(100, 5)
h.trim(da, 0)
h.pwrite(bytes(10), 10)
bad = bytearray(d); bad[2 * BS] ^= 1
for f in [lambda: h.pwrite(bytes(bad), da - BS), lambda: h.pwrite(b'x', 10),
          lambda: h.zero(BS, da), lambda: h.zero(2, da - 1),
          lambda: h.trim(1, da + BS - 1)]:
    try:
        f()
        assert False, 'a change to the disk succeeded'
    except nbd.Error as e:
        assert e.errno == 'EIO', e
"
nbdcopy "$uri" "$uri" # a copy onto itself changes nothing
stop_server

# -r: every write is refused, even one that matches.
start_server -U "$sock" -r sparse-random 1M seed=3 percent=100
nbdsh_u -c '
assert h.is_read_only()
try:
    h.pwrite(h.pread(512, 0), 0)
    assert False, "write to a read-only disk succeeded"
except nbd.Error:
    pass
'
stop_server

# Without seed= the seed is the time the plugin was loaded.
t0=$(date +%s)
start_server -U "$sock" sparse-random 64k percent=100
t1=$(date +%s)
nbdsh_u -c "
exec(open('$model').read())
got = h.pread(BS, 0)
assert any(got == bytes([prng_next(prng_seed(t)) & 255 or 1]) * BS
           for t in range($t0, $t1 + 1)), got
"
stop_server

# Bad parameters.
"$NBDX" -U - sparse-random 1M percent=0 runlength=1 random-content=no --run true
fails "$NBDX" -U - sparse-random --run true
for bad in percent=-1 percent=101 percent=x runlength=0 runlength=1M \
           runlength=-1 random-content=x seed=4294967296 size=x; do
    fails "$NBDX" -U - sparse-random 1M "$bad" --run true
done
