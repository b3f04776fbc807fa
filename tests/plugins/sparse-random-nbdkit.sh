#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sparse-random-nbdkit.sh: for several sets of parameters the
# sparse-random plugin serves byte for byte what nbdkit's sparse-random
# plugin serves, with the same allocation map: whole disks, maps, and
# reads at random unaligned offsets of both servers at once.
# Skipped (77) if nbdkit or its sparse-random plugin is not installed.
. "$SRCDIR/tests/lib.sh"
requires nbdkit nbdsh nbdcopy nbdinfo
nbdkit sparse-random --dump-plugin >/dev/null 2>&1 ||
    { echo "SKIP: nbdkit's sparse-random plugin is not installed"; exit 77; }
set -x

ksock="$tmp/ksock"
kuri="nbd+unix:///?socket=$ksock"

while read -r args; do
    # shellcheck disable=SC2086 # the parameters are split on purpose
    start_server -U "$sock" sparse-random $args
    ours=$pid
    # shellcheck disable=SC2086
    NBDX=nbdkit start_server -U "$ksock" sparse-random $args
    theirs=$pid
    nbdcopy "$uri" "$tmp/ours"
    nbdcopy "$kuri" "$tmp/theirs"
    cmp "$tmp/ours" "$tmp/theirs"
    nbdinfo --map "$uri" >"$tmp/ours.map"
    nbdinfo --map "$kuri" >"$tmp/theirs.map"
    cmp "$tmp/ours.map" "$tmp/theirs.map"
    nbdsh -c "
import random
ours = nbd.NBD()
ours.connect_uri('$uri')
theirs = nbd.NBD()
theirs.connect_uri('$kuri')
size = ours.get_size()
assert size == theirs.get_size()
rng = random.Random(size)
for _ in range(200):
    n = rng.randint(1, min(size, 70000))
    off = rng.randint(0, size - n)
    assert ours.pread(n, off) == theirs.pread(n, off), (off, n)
"
    pid=$theirs; stop_server
    rm -f "$ksock"
    pid=$ours; stop_server
done <<'EOF2'
size=100M seed=7
size=256M seed=42 percent=50 runlength=1048576
size=64M seed=3 percent=90 runlength=65536 random-content=true
size=10000005 seed=5 percent=33.3 runlength=4096 random-content=true
size=30M seed=9 percent=1 runlength=1
size=1G seed=4294967295 percent=25 runlength=8388608
size=2M percent=100 seed=0
EOF2
