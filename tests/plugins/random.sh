#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# random.sh: the random plugin serves fixed bytes for each seed and size
# (sha256 digests of nbdkit 1.32.5's output, recorded once), reads at any
# alignment and near the end of a huge disk agree with a reference model
# of the algorithm, writes succeed only if they change nothing, trim and
# zero fail with EIO, -r refuses writes, and a missing seed= is the time.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy sha256sum
set -x

# The reference model of the bytes, in Python.
model="$SRCDIR/tests/plugins/random_model.py"

# Whole-disk digests, recorded from nbdkit 1.32.5 (nbdkit -U - random
# size=SIZE seed=SEED --run 'nbdcopy "$uri" out'; sha256sum out).
while read -r seed size digest; do
    start_server -U "$sock" random size="$size" seed="$seed"
    nbdcopy "$uri" "$tmp/out"
    [ "$(sha256sum <"$tmp/out" | cut -d' ' -f1)" = "$digest" ]
    stop_server
done <<'EOF2'
0 1M 8999da1ae07f0766e34b4a44115001765c6c074c82f45bc9c364bb28cd2b192f
42 4M 8dd1fdbc4aaccb0be73a4cf94b72a37daab093ca2599db34605bce4ba5a55426
4294967295 1000003 64ac0e4bfaa937d2fd69deb9d78be25b00fedd79435b585dadf04e0125e01ce4
12345 511 3e2474dd3a4668e34434549aaa7e43d49d11b52c0d0ad24226872acce237e6e3
EOF2

# Unaligned reads, reads across the end of a 4096-byte write buffer, and
# the last bytes, against the model and against a whole-disk copy.
start_server -U "$sock" random 1000003 seed=7
nbdcopy "$uri" "$tmp/whole"
nbdsh --base-allocation -u "$uri" -c "
exec(open('$model').read())
whole = open('$tmp/whole', 'rb').read()
size = h.get_size()
assert size == 1000003 and len(whole) == size
assert not h.is_read_only() and h.can_multi_conn() and h.can_cache()
for off, n in [(0, 1), (1, 3), (7, 9), (4095, 2), (4095, 4099), (65537, 333),
               (999990, 13), (size - 1, 1)]:
    got = h.pread(n, off)
    assert got == whole[off:off + n], (off, n)
    assert got == random_read(7, off, n), (off, n)
seen = []
def extent(ctx, off, ents, err):
    seen.extend(ents)
    return 0
h.block_status(size, 0, extent)
assert sum(seen[0::2]) > 0 and not any(seen[1::2]), seen  # all data
"
stop_server

# Far from the start of a huge disk; seed + offset is a 64-bit sum.
start_server -U "$sock" random 1E seed=4294967295
nbdsh_u -c "
exec(open('$model').read())
size = h.get_size()
assert size == 1 << 60, size
for off in [size - 100, (1 << 50) + 3, 4294967291]:
    assert h.pread(100, off) == random_read(4294967295, off, 100), off
"
stop_server

# Writes: the same bytes again succeed, over a 4096-byte piece boundary
# too; different bytes, trim and zero fail with EIO.
start_server -U "$sock" random 1M seed=3
nbdsh_u -c '
d = h.pread(10000, 4000)
h.pwrite(d, 4000)
bad = bytearray(d); bad[9000] ^= 1
for f in [lambda: h.pwrite(bytes(bad), 4000),
          lambda: h.pwrite(bytes([d[0] ^ 1]), 4000),
          lambda: h.zero(512, 0), lambda: h.trim(512, 0)]:
    try:
        f()
        assert False, "a change to the random disk succeeded"
    except nbd.Error as e:
        assert e.errno == "EIO", e
'
nbdcopy "$uri" "$uri" # a copy onto itself changes nothing
grep -q 'differs' "$tmp/server.log"
stop_server

# -r: every write is refused, even one that matches.
start_server -U "$sock" -r random 1M seed=3
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
start_server -U "$sock" random 64
t1=$(date +%s)
nbdsh_u -c "
exec(open('$model').read())
got = h.pread(64, 0)
assert any(got == random_read(t, 0, 64) for t in range($t0, $t1 + 1)), got
"
stop_server

# size= is required; seed= is a 32-bit number.
"$NBDX" -U - random 1M seed=4294967295 --run true
fails "$NBDX" -U - random --run true 2>"$tmp/err"
grep -q 'size=' "$tmp/err"
for bad in 4294967296 -1 x ''; do
    fails "$NBDX" -U - random 1M seed="$bad" --run true
done
