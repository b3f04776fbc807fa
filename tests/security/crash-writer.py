# SPDX-License-Identifier: BSD-3-Clause
"""crash-writer.py SOCKET WRITER NWRITERS NBLOCKS OUT.json

One writer of crash-durability.sh.  It owns the blocks b with
b % NWRITERS == WRITER and writes them until the server dies, each block
filled with (writer, block, seq) so its version can be read back from
the file.  It records, per block, every seq it sent and the newest seq
known durable: acknowledged with FUA, or acknowledged before a flush
that later succeeded.  When the connection breaks it dumps both to OUT.
"""
import json
import random
import struct
import sys

import nbd

BS = 4096


def block_data(writer, block, seq):
    return struct.pack(">4sIQQ", b"nbdx", writer, block, seq) * (BS // 24) + \
        b"\0" * (BS % 24)


def main():
    path, writer, nwriters, nblocks, out = sys.argv[1:6]
    writer, nwriters, nblocks = int(writer), int(nwriters), int(nblocks)
    mine = list(range(writer, nblocks, nwriters))
    issued = {}       # block -> [seq, ...]
    durable = {}      # block -> newest durable seq
    acked = {}        # acknowledged since the last flush was sent
    seq = 0
    h = nbd.NBD()
    h.connect_unix(path)
    try:
        while True:
            for _ in range(random.randint(1, 8)):
                b = random.choice(mine)
                seq += 1
                fua = random.random() < 0.1
                issued.setdefault(b, []).append(seq)
                h.pwrite(block_data(writer, b, seq), b * BS,
                         nbd.CMD_FLAG_FUA if fua else 0)
                if fua:
                    durable[b] = max(durable.get(b, 0), seq)
                else:
                    acked[b] = seq
            if random.random() < 0.3:
                pending, acked = acked, {}
                h.flush()
                for b, s in pending.items():
                    durable[b] = max(durable.get(b, 0), s)
    except nbd.Error as e:
        print("writer %d stopped after seq %d: %s" % (writer, seq, e))
    with open(out, "w") as f:
        json.dump({"issued": issued, "durable": durable}, f)


main()
