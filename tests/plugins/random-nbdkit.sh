#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# random-nbdkit.sh: for several seeds and sizes the random plugin serves
# byte for byte what nbdkit's random plugin serves: whole disks, reads at
# random unaligned offsets, and reads near the end of a huge disk.
# Skipped (77) if nbdkit or its random plugin is not installed.
. "$SRCDIR/tests/lib.sh"
requires nbdkit nbdsh nbdcopy
nbdkit random --dump-plugin >/dev/null 2>&1 ||
    { echo "SKIP: nbdkit's random plugin is not installed"; exit 77; }
set -x

ksock="$tmp/ksock"
kuri="nbd+unix:///?socket=$ksock"

# Whole disks, one server at a time: nbdx, then nbdkit, on $sock.
for a in "0 1" "1 4097" "42 10M" "4294967295 1000003" "2026 3M"; do
    set -- $a
    start_server -U "$sock" random size="$2" seed="$1"
    nbdcopy "$uri" "$tmp/ours"
    stop_server
    NBDX=nbdkit start_server -U "$sock" random size="$2" seed="$1"
    nbdcopy "$uri" "$tmp/theirs"
    stop_server
    cmp "$tmp/ours" "$tmp/theirs"
done

# Random unaligned reads of both servers at once, on a disk of 1 TiB.
start_server -U "$sock" random 1T seed=99
NBDX=nbdkit start_server -U "$ksock" random 1T seed=99
nbdsh -c "
import random
ours = nbd.NBD(); ours.connect_uri('$uri')
theirs = nbd.NBD(); theirs.connect_uri('$kuri')
size = ours.get_size()
assert size == theirs.get_size() == 1 << 40
rng = random.Random(12)
for _ in range(200):
    n = rng.randint(1, 70000)
    off = rng.choice([rng.randint(0, 1 << 20), rng.randint(0, size - n),
                      size - n])
    assert ours.pread(n, off) == theirs.pread(n, off), (off, n)
"
