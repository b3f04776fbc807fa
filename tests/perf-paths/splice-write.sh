#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# splice-write.sh: large WRITE payloads the file plugin takes by splice
# (socket -> pipe -> file, nbdx_extension pwrite_fd) land in the file
# exactly, also when the kernel refuses splice (copied instead), and a
# file that runs out of space fails that WRITE with ENOSPC while the
# connection carries on.
. "$SRCDIR/tests/lib.sh"
requires nbdsh strace
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
strace -qq -o /dev/null true || { echo "SKIP: strace cannot trace here"; exit 77; }

# Writes of many sizes and alignments, some pipelined; then the file
# itself must hold exactly what was written.
check_writes() {
    rm -f "$tmp/disk" && truncate -s 64M "$tmp/disk"
    start_server -U "$sock" file "$tmp/disk"
    nbdsh -u "$uri" -c "
import random
rng = random.Random(7)
size = 64 << 20
model = bytearray(size)
for n in [65536, 65537, 100000, 1 << 20, (1 << 20) + 3, 4 << 20, 32 << 20]:
    off = rng.randrange(0, size - n)
    data = rng.randbytes(n)
    h.pwrite(data, off)
    model[off:off + n] = data
for batch in range(8):
    for slot in rng.sample(range(64), 16):
        n = rng.choice([65536, 300000, 1 << 20])
        off = (slot << 20) + rng.randrange(0, (1 << 20) - n + 1)
        data = rng.randbytes(n)
        model[off:off + n] = data
        h.aio_pwrite(nbd.Buffer.from_bytearray(data), off)
    while h.aio_in_flight() > 0:
        h.poll(-1)
h.flush()
assert h.pread(32 << 20, 0) == model[:32 << 20]
open('$tmp/model', 'wb').write(model)
"
    stop_server
    cmp "$tmp/disk" "$tmp/model"
}

# run with the server under strace (its arguments in STRACE_ARGS).
traced() {
    cat >"$tmp/nbdx-traced" <<WRAP
#!/bin/sh
exec strace -f -qq -o "$tmp/$1.log" $STRACE_ARGS "$NBDX" "\$@"
WRAP
    chmod +x "$tmp/nbdx-traced"
    NBDX="$tmp/nbdx-traced" check_writes
}

STRACE_ARGS="-e trace=splice" traced plain
# Payloads really went socket -> pipe -> file (an offset is given).
grep -q 'splice(.*\[[0-9]*\], [0-9]*, SPLICE_F_MOVE) = [1-9]' "$tmp/plain.log"

STRACE_ARGS="-e trace=splice -e inject=splice:error=EINVAL" traced refused
grep -q 'splice(.*EINVAL' "$tmp/refused.log"

# A full file system: the WRITE fails with ENOSPC, the connection lives
# (and overwrites what space it did get).
mkdir "$tmp/small"
if mount -t tmpfs -o size=1m nbdx-test "$tmp/small" 2>/dev/null; then
    umount_small() { umount "$tmp/small"; }
    cleanup_fn umount_small
    truncate -s 8M "$tmp/small/disk"
    start_server -U "$sock" file "$tmp/small/disk"
    nbdsh -u "$uri" -c "import errno" -c "
try:
    h.pwrite(b'\x01' * (4 << 20), 0)
    raise SystemExit('a 4 MiB WRITE into 1 MiB of space worked')
except nbd.Error as e:
    assert e.errnum == errno.ENOSPC, e
h.pwrite(b'\x02' * 65536, 0)
assert h.pread(65536, 0) == b'\x02' * 65536
"
    stop_server
else
    echo "no tmpfs mount here: ENOSPC case skipped"
fi
