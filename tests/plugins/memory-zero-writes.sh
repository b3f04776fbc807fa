#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-zero-writes.sh: writing zeroes over unwritten parts of the memory
# plugin allocates nothing (a client copying a sparse image by plain
# writes does not fill RAM), and reads of them return zeroes.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

# ASan keeps freed buffers in quarantine, which would count as growth.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
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
zero = bytes(mib)
h.pwrite(b"warm up", 0)
base = rss()
for i in range(128):
    h.pwrite(zero, (i + 1) * mib)
grown = rss() - base
print("rss grew by %d bytes" % grown)
assert grown < 16 * mib, "zero writes allocated memory"
assert h.pread(mib, 100 * mib) == zero
'
