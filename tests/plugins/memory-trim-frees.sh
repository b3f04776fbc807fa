#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-trim-frees.sh: the memory plugin gives memory back: writing
# 64 MiB grows the server by about that much, and trimming it (or zeroing
# it) shrinks the server again.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

# meson test sets MALLOC_PERTURB_, which makes free() fill freed memory
# and so touch again the pages the plugin just gave back.
unset MALLOC_PERTURB_
start_server -U "$sock" memory 1G
export pid
nbdsh_u -c '
import os

# smaps_rollup walks the page tables; VmRSS in status is only an
# estimate on recent kernels.
def rss():
    for line in open("/proc/%s/smaps_rollup" % os.environ["pid"]):
        if line.startswith("Rss:"):
            return int(line.split()[1]) * 1024
    raise Exception("no Rss")

mib = 1 << 20
data = os.urandom(mib)
base = rss()
for i in range(64):
    h.pwrite(data, i * mib)
full = rss()
print("rss base %d, after writes %d" % (base, full))
assert full - base > 48 * mib, "64 MiB of writes did not use memory"

h.trim(32 * mib, 0)
h.zero(32 * mib, 32 * mib, nbd.CMD_FLAG_NO_HOLE)
after = rss()
print("rss after trim and zero %d" % after)
assert full - after > 48 * mib, "trim and zero did not free memory"
for i in range(4):
    assert h.pread(16 * mib, i * 16 * mib) == bytes(16 * mib)
'
