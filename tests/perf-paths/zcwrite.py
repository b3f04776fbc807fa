# SPDX-License-Identifier: BSD-3-Clause
# zcwrite.py SOCKET SIZE: WRITEs whose payload the server receives
# straight into fresh pages of the memory plugin (nbdx_extension
# write_begin, swapped in by write_commit), checked against a model of
# the disk: many sizes and alignments, many in flight at once, payloads
# of zeroes (which must not take pages), a client that pauses in the
# middle of a payload, one that disconnects in the middle of a payload
# (which must leave the disk as it was), and TRIMs racing WRITEs.
import random
import socket
import struct
import sys
import time

import nbd

sock_path, size = sys.argv[1], int(sys.argv[2])
uri = "nbd+unix:///?socket=" + sock_path
model = bytearray(size)
rng = random.Random(4)


def fail(msg):
    print("zcwrite: " + msg, file=sys.stderr)
    sys.exit(1)


def connect():
    h = nbd.NBD()
    h.add_meta_context("base:allocation")
    h.connect_uri(uri)
    return h


def check_all(h, what):
    step = 4 << 20
    for off in range(0, size, step):
        got = h.pread(step, off)
        if got != model[off:off + step]:
            bad = next(i for i in range(step) if got[i] != model[off + i])
            fail("%s: byte %d differs" % (what, off + bad))


def put(h, off, data):
    h.pwrite(data, off)
    model[off:off + len(data)] = data


def sizes_and_alignments(h):
    page = 32768
    cases = [(0, 1), (1, 511), (page - 3, 7), (page - 1, page + 2),
             (5 * page, page), (3 * page + 100, 5 * page),
             (1 << 20, 1 << 20), (7, (2 << 20) + 13), (8 << 20, 32 << 20)]
    for off, n in cases:
        put(h, off, rng.randbytes(n))
    for _ in range(300):
        n = rng.choice([1, 512, 4096, 4097, 65536, 300000, 1 << 20])
        off = rng.randrange(0, size - n)
        put(h, off, rng.randbytes(n))
    check_all(h, "sizes and alignments")


def pipelined(h):
    """Batches of 32 WRITEs in flight: the reader receives them back to
    back.  Writes in flight at once do not overlap (their order would be
    undefined); each batch takes 32 distinct 1 MiB slots."""
    slots = size // (1 << 20)
    for _ in range(60):
        cookies = []
        for slot in rng.sample(range(slots), 32):
            n = rng.choice([4096, 8192, 65536, 1 << 20])
            off = (slot << 20) + rng.randrange(0, (1 << 20) - n + 1)
            data = rng.randbytes(n)
            model[off:off + n] = data
            cookies.append(h.aio_pwrite(nbd.Buffer.from_bytearray(data), off))
        while h.aio_in_flight() > 0:
            h.poll(-1)
        for c in cookies:
            if not h.aio_command_completed(c):
                fail("a pipelined write did not complete")
    check_all(h, "pipelined")


def extents(h, off, n):
    """(length, flags) pairs of base:allocation for [off, off + n)."""
    out = []

    def cb(meta, offset, entries, err):
        if meta == "base:allocation":
            out.extend(zip(entries[0::2], entries[1::2]))
    h.block_status(n, off, cb)
    return out


def zero_payloads(h):
    """A WRITE of zeroes over a hole leaves a hole (no pages taken), and
    over data leaves allocated zeroes or a hole: either reads as zero."""
    off, n = 96 << 20, 4 << 20
    h.trim(n, off)
    model[off:off + n] = bytes(n)
    put(h, off, bytes(n))
    for length, flags in extents(h, off, n):
        if not flags & nbd.STATE_HOLE:
            fail("zero payload took pages: %d bytes flags %d" % (length, flags))
    put(h, off, rng.randbytes(n))
    put(h, off, bytes(n))
    if h.pread(n, off) != bytes(n):
        fail("zero payload over data did not read back as zero")


def handshake_raw():
    """A raw newstyle client (NBD_OPT_EXPORT_NAME, NO_ZEROES)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    greeting = recv_exact(s, 18)
    if greeting[:16] != b"NBDMAGICIHAVEOPT":
        fail("bad greeting")
    s.sendall(struct.pack(">I", 3))  # FIXED_NEWSTYLE | NO_ZEROES
    s.sendall(struct.pack(">QII", 0x49484156454F5054, 1, 0))
    recv_exact(s, 10)  # export size, transmission flags
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        r = s.recv(n - len(b))
        if not r:
            fail("server closed the connection")
        b += r
    return b


def write_header(off, n, cookie):
    return struct.pack(">IHHQQI", 0x25609513, 0, 1, cookie, off, n)


def slow_payload():
    """The payload arrives in pieces with long pauses: it must still
    land, whole."""
    s = handshake_raw()
    off, n = 40 << 20, (3 << 20) + 12345
    data = rng.randbytes(n)
    s.sendall(write_header(off, n, 7) + data[:100000])
    time.sleep(0.5)
    s.sendall(data[100000:2000000])
    time.sleep(0.5)
    s.sendall(data[2000000:])
    magic, err, cookie = struct.unpack(">IIQ", recv_exact(s, 16))
    if magic != 0x67446698 or err != 0 or cookie != 7:
        fail("slow write: reply magic %#x error %d cookie %d" % (magic, err,
                                                                cookie))
    model[off:off + n] = data
    s.close()


def vanishing_payload(h):
    """A client that disconnects in the middle of a payload: the server
    lives on and the disk is as it was, inside that WRITE's range too
    (the payload's pages are dropped, never swapped in)."""
    off, n = 60 << 20, 2 << 20
    s = handshake_raw()
    s.sendall(write_header(off, n, 9) + rng.randbytes(n // 3))
    time.sleep(0.1)
    s.close()
    time.sleep(0.3)
    check_all(h, "after a vanished client")


def trim_races(h):
    """TRIMs and zeroes racing WRITEs on the same ranges, from two
    connections, must not crash the server; then a final write per
    range settles the model."""
    h2 = connect()
    base, span = 120 << 20, 1 << 20
    for _ in range(200):
        off = base + rng.randrange(0, 8) * span
        h.aio_pwrite(nbd.Buffer.from_bytearray(rng.randbytes(span)), off)
        h2.aio_trim(span, off)
        h2.aio_zero(span // 2, off + span // 4)
        while h.aio_in_flight() > 16 or h2.aio_in_flight() > 16:
            h.poll(0)
            h2.poll(0)
    for hh in (h, h2):
        while hh.aio_in_flight() > 0:
            hh.poll(-1)
    for i in range(8):
        put(h, base + i * span, rng.randbytes(span))
    h2.shutdown()
    check_all(h, "after racing trims")


if size < 136 << 20:
    fail("SIZE must be at least 136 MiB")
h = connect()
sizes_and_alignments(h)
pipelined(h)
zero_payloads(h)
slow_payload()
check_all(h, "after a slow payload")
vanishing_payload(h)
trim_races(h)
h.shutdown()
