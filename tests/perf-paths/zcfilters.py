# SPDX-License-Identifier: BSD-3-Clause
# zcfilters.py URI SIZE [FILE HEAD]: WRITEs and READs through filters,
# each checked by the other path: data written the zero-copy way (no
# FUA) is read back the ordinary way (DF, which the zero-copy READ does
# not take) and data written the ordinary way (FUA) is read back the
# zero-copy way, so a filter that mapped offsets wrongly in one path
# only cannot pass.  With FILE and HEAD, the export must also be the
# bytes of FILE from HEAD on (what the plugin really stored).
import random
import sys

import nbd

uri, size = sys.argv[1], int(sys.argv[2])
path, head = (sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else (None,
                                                                       0)
rng = random.Random(9)
model = bytearray(size)


def fail(msg):
    print("zcfilters: " + msg, file=sys.stderr)
    sys.exit(1)


def check(what, got, off):
    want = bytes(model[off:off + len(got)])
    if got != want:
        bad = next(i for i in range(len(got)) if got[i] != want[i])
        fail("%s: byte %d differs" % (what, off + bad))


h = nbd.NBD()
h.connect_uri(uri)
if h.get_size() != size:
    fail("size %d, not %d" % (h.get_size(), size))
written = []
for i in range(120):
    n = rng.choice([1, 512, 4096, 65536, 65536 + 7, 300001, 1 << 20])
    off = rng.randrange(0, size - n)
    data = rng.randbytes(n)
    fua = i % 2 == 1
    h.pwrite(data, off, nbd.CMD_FLAG_FUA if fua else 0)
    model[off:off + n] = data
    written.append((off, n, fua))
for off, n, fua in written:
    # Written without FUA (zero-copy): read with DF (ordinary), and the
    # other way round.
    if fua:
        got = h.pread(n, off)
    else:
        got = h.pread_structured(n, off, lambda *a: 0, nbd.CMD_FLAG_DF)
    check("read back", got, off)
step = 4 << 20
for off in range(0, size, step):
    check("whole export", h.pread(min(step, size - off), off), off)
h.shutdown()
if path:
    with open(path, "rb") as f:
        f.seek(head)
        for off in range(0, size, step):
            check("the file", f.read(min(step, size - off)), off)
