# SPDX-License-Identifier: BSD-3-Clause
# vmdk-ops.py: test data for the vmdk tests.
#   make RAW MIB             a sparse disk image with known data
#   write URI RAW SEED N [THREADS]
#                            N random writes (1 byte to 200 KiB, many
#                            crossing grains) to the export and to RAW,
#                            from THREADS connections at once, then flush
#   check URI RAW SEED N     N reads of 512 B to 192 KiB, random and in
#                            runs forwards and backwards through a grain,
#                            compared with RAW
#   stream RAW OUT           a streamOptimized VMDK of RAW laid out as
#                            VMware writes it (qemu-img's differs): grain
#                            markers, each grain table after its grains,
#                            the directory and the footer at the end
import os
import struct
import zlib
import random
import sys
import threading

import nbd


def make(path, mib):
    rnd = random.Random(1)
    with open(path, "wb") as f:
        f.truncate(mib << 20)
        for _ in range(4 * mib):
            off = rnd.randrange(0, (mib << 20) - 300000) & ~511
            f.seek(off)
            f.write(rnd.randbytes(rnd.choice([512, 4096, 70000, 300000])))
        f.seek(5 << 16)  # a grain of zeros, allocated by qemu-img or not
        f.write(bytes(65536))


def write(uri, raw, seed, n, threads):
    size = os.path.getsize(raw)
    rnd = random.Random(seed)
    # Disjoint ranges per thread, so the result is defined; threads race
    # for the same grains, as multi-conn clients do.
    todo = [[] for _ in range(threads)]
    for i in range(n):
        # The export's block size is 512: sectors, not bytes.
        off = rnd.randrange(0, size - 200704) & ~511
        todo[i % threads].append((off, rnd.choice([512, 1024, 4096, 65536,
                                                   70144, 200704])))
    taken = bytearray(size)
    plan = [[] for _ in range(threads)]
    for t, items in enumerate(todo):
        for off, count in items:
            if any(taken[off:off + count]):
                continue
            taken[off:off + count] = b"\1" * count
            plan[t].append((off, rnd.randbytes(count)))
    def run(items):
        h = nbd.NBD()
        h.connect_uri(uri)
        for off, data in items:
            h.pwrite(data, off)
        h.flush()
        h.shutdown()
    ts = [threading.Thread(target=run, args=(p,)) for p in plan]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(raw, "r+b") as f:
        for items in plan:
            for off, data in items:
                f.seek(off)
                f.write(data)


SECTOR = 512
GRAIN = 128  # sectors


def check(uri, raw, seed, n):
    data = open(raw, "rb").read()
    rnd = random.Random(seed)
    h = nbd.NBD()
    h.connect_uri(uri)
    reads = []
    for _ in range(n):
        kind = rnd.randrange(3)
        g = rnd.randrange(len(data) // 65536) * 65536
        if kind == 0:  # anywhere, any size
            off = rnd.randrange(len(data) // 512 - 384) * 512
            reads.append((off, rnd.randrange(1, 385) * 512))
        else:  # 4 KiB at a time through one grain, either way
            offs = [g + i * 4096 for i in range(16)]
            reads += [(o, 4096) for o in (offs if kind == 1 else offs[::-1])]
    for off, count in reads:
        got = h.pread(count, off)
        if got != data[off:off + count]:
            sys.exit("read of %d at %d differs" % (count, off))
    h.shutdown()


def header(capacity, desc_sectors, gd):
    h = struct.pack("<IIIQQQQIQQQB4sH", 0x564D444B, 3, 0x30001, capacity,
                    GRAIN, 1, desc_sectors, 512, 0, gd, 1 + desc_sectors, 0,
                    b"\n \r\n", 1)
    return h.ljust(SECTOR, b"\0")


def marker(sectors, kind):
    return struct.pack("<QII", sectors, 0, kind).ljust(SECTOR, b"\0")


def pad(b):
    return b + bytes(-len(b) % SECTOR)


def stream(raw, out):
    data = open(raw, "rb").read()
    capacity = len(data) // SECTOR
    desc = pad(("# Disk DescriptorFile\nversion=1\nCID=fffffffe\n"
                "parentCID=ffffffff\ncreateType=\"streamOptimized\"\n"
                "RW %d SPARSE \"%s\"\n" % (capacity, os.path.basename(out))
                ).encode())
    ngrains = -(-capacity // GRAIN)
    ngts = -(-ngrains // 512)
    with open(out, "wb") as f:
        f.write(header(capacity, len(desc) // SECTOR, 0xFFFFFFFFFFFFFFFF))
        f.write(desc)
        gd = []
        for t in range(ngts):
            gt = [0] * 512
            for i in range(512):
                g = t * 512 + i
                grain = data[g * GRAIN * SECTOR:(g + 1) * GRAIN * SECTOR]
                if g >= ngrains or not any(grain):
                    continue
                gt[i] = f.tell() // SECTOR
                z = zlib.compress(grain)
                f.write(pad(struct.pack("<QI", g * GRAIN, len(z)) + z))
            if not any(gt):
                gd.append(0)
                continue
            f.write(marker(4, 1))
            gd.append(f.tell() // SECTOR)
            f.write(struct.pack("<512I", *gt))
        f.write(marker(-(-ngts * 4 // SECTOR), 2))
        gd_at = f.tell() // SECTOR
        f.write(pad(struct.pack("<%dI" % ngts, *gd)))
        f.write(marker(1, 3))
        f.write(header(capacity, len(desc) // SECTOR, gd_at))
        f.write(bytes(SECTOR))


if sys.argv[1] == "make":
    make(sys.argv[2], int(sys.argv[3]))
elif sys.argv[1] == "write":
    write(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
          int(sys.argv[6]) if len(sys.argv) > 6 else 1)
elif sys.argv[1] == "check":
    check(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
elif sys.argv[1] == "stream":
    stream(sys.argv[2], sys.argv[3])
else:
    sys.exit("usage: vmdk-ops.py make|write ...")
