#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# memory-largest.sh: the memory plugin serves 2^63-1 bytes; the last
# bytes can be written, read and trimmed, and one byte more is refused.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

start_server -U "$sock" memory 9223372036854775807
nbdsh --base-allocation -u "$uri" -c '
size = h.get_size()
assert size == 2**63 - 1, size
h.pwrite(b"last bytes", size - 10)
h.pwrite(b"first", 0)
assert h.pread(10, size - 10) == b"last bytes"
assert h.pread(12, size - 12) == b"\0\0last bytes"
assert h.pread(5, 0) == b"first"
ext = []
h.block_status(1 << 20, size - (1 << 20),
               lambda m, o, e, err: ext.extend(e))
assert ext[-1] == 0, ext                       # the last page holds data
h.trim(10, size - 10)
assert h.pread(10, size - 10) == bytes(10)
'
fails "$NBDX" -f -U "$tmp/sock2" memory 9223372036854775808
