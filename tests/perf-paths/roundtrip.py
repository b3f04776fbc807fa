# SPDX-License-Identifier: BSD-3-Clause
# roundtrip.py URI|--pipes SIZE [SERVER-COMMAND...]: fill an export with
# data, holes and allocated zeroes, then read it back every way the data
# path has a shortcut for: large and unaligned READs with structured and
# simple replies, and many small READs and WRITEs in flight at once.
# With --pipes the server command is run with stdin/stdout pipes (as
# with -s), relayed to a socketpair for libnbd.
import os
import random
import socket
import subprocess
import sys
import threading

import nbd

MiB = 1 << 20


def relay(src_fd, dst_fd):
    while True:
        try:
            b = os.read(src_fd, 65536)
        except OSError:
            b = b""
        if not b:
            break
        try:
            os.write(dst_fd, b)
        except OSError:
            break
    for fd in (dst_fd,):
        try:
            os.close(fd)
        except OSError:
            pass


def connect(target, structured):
    h = nbd.NBD()
    h.set_request_structured_replies(structured)
    if target[0] == "--pipes":
        a, b = socket.socketpair()
        proc = subprocess.Popen(target[1:], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        threading.Thread(target=relay, args=(b.fileno(), proc.stdin.fileno()),
                         daemon=True).start()
        threading.Thread(target=relay, args=(proc.stdout.fileno(),
                                             os.dup(b.fileno())),
                         daemon=True).start()
        h.connect_socket(os.dup(a.fileno()))
        h._keep = (a, b, proc)
    else:
        h.connect_uri(target[0])
    return h


def fill(h, size, rnd):
    ref = bytearray(size)
    # Data in runs of odd lengths, leaving holes between them.
    pos = 12345
    while pos < size - 2 * MiB:
        n = rnd.randrange(1, 300000)
        data = rnd.randbytes(n)
        h.pwrite(data, pos)
        ref[pos:pos + n] = data
        pos += n + rnd.choice([0, 4096, 40000, 1 << 20])
    # Pages that are allocated but all zero again.
    for off in (5 * MiB, 9 * MiB + 100):
        h.pwrite(b"\1" * 70000, off)
        h.pwrite(bytes(70000), off)
        ref[off:off + 70000] = bytes(70000)
    return ref


def check_reads(h, ref, rnd):
    size = len(ref)
    ranges = [(0, min(size, 32 * MiB)), (0, 1), (size - 1, 1),
              (size - MiB, MiB)]
    for _ in range(60):
        n = rnd.choice([1, 511, 4096, 65536, 65537, MiB, MiB + 3, 4 * MiB])
        off = rnd.randrange(0, size - n)
        ranges.append((off, n))
    for off, n in ranges:
        got = h.pread(n, off)
        assert got == ref[off:off + n], (off, n)


def check_pipelined(h, ref, rnd):
    """Many requests in flight: read-ahead and held-back replies.  Writes
    go to the first half, reads to the second, so none overlap; and each
    write gets its own 8 KiB slot, because the server may run requests in
    flight in any order, so overlapping writes have no defined result."""
    half = len(ref) // 2
    slots = list(range(half // 8192))
    rnd.shuffle(slots)
    reads = []
    for i in range(3000):
        if i % 3 == 0:
            data = rnd.randbytes(rnd.choice([1, 4096, 8000]))
            off = slots.pop() * 8192 + rnd.randrange(0, 8192 - len(data) + 1)
            ref[off:off + len(data)] = data
            h.aio_pwrite(data, off)
        else:
            n = rnd.choice([1, 4096, 20000])
            off = rnd.randrange(half, len(ref) - n)
            b = nbd.Buffer(n)
            reads.append((b, off, h.aio_pread(b, off)))
        while h.aio_in_flight() >= 32:
            h.poll(-1)
    while h.aio_in_flight() > 0:
        h.poll(-1)
    for b, off, c in reads:
        assert h.aio_command_completed(c)
        n = len(b)
        assert bytes(b.to_bytearray()) == ref[off:off + n], off


def main():
    target = sys.argv[1:2]
    size = int(sys.argv[2])
    if sys.argv[1] == "--pipes":
        target = ["--pipes"] + sys.argv[3:]
    rnd = random.Random(42)
    h = connect(target, True)
    assert h.get_size() == size
    ref = fill(h, size, rnd)
    check_reads(h, ref, rnd)
    check_pipelined(h, ref, rnd)
    check_reads(h, ref, rnd)
    if target[0] == "--pipes":
        # -s serves one client only; the relays keep the socketpair open,
        # so end here rather than wait for EOF.
        h._keep[2].kill()
        h._keep[2].wait()
        sys.stdout.flush()
        os._exit(0)
    h.shutdown()
    h = connect(target, False)
    assert not h.get_structured_replies_negotiated()
    check_reads(h, ref, rnd)
    check_pipelined(h, ref, rnd)
    h.shutdown()


main()
