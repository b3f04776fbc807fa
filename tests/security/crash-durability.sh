#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# crash-durability.sh: four connections write 4 KiB blocks to the file
# plugin, with FUA now and then and flushes in between; the server is
# SIGKILLed at a random moment.  Afterwards every block holds its newest
# durable version (acknowledged with FUA, or before a flush that was
# acknowledged) or a newer version that was sent, never older or
# unrelated data.  Three rounds.  A process crash keeps the page cache,
# so this proves that acknowledged data reached the file; the fdatasync
# behind FLUSH and FUA is checked by flush-syncs.sh.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x
export PYTHONPATH="$SRCDIR/tests/security"
nblocks=4096
writers=4

for round in 1 2 3; do
    rm -f "$sock" "$tmp"/w*.json
    truncate -s 0 "$tmp/disk"
    truncate -s $((nblocks * 4096)) "$tmp/disk"
    start_server -U "$sock" file "$tmp/disk"
    for w in $(seq 0 $((writers - 1))); do
        python3 "$SRCDIR/tests/security/crash-writer.py" "$sock" "$w" \
            "$writers" "$nblocks" "$tmp/w$w.json" &
        eval "writer$w=\$!"
    done
    sleep "$(python3 -c 'import random; print(random.uniform(0.5, 2.0))')"
    kill -9 "$pid"
    for w in $(seq 0 $((writers - 1))); do
        eval "wait \$writer$w"
    done
    python3 - "$tmp/disk" "$writers" "$nblocks" "$tmp"/w*.json <<'EOT'
import json, struct, sys
disk, nwriters, nblocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
issued, durable = {}, {}
for path in sys.argv[4:]:
    with open(path) as f:
        d = json.load(f)
    issued.update({int(b): set(v) for b, v in d["issued"].items()})
    durable.update({int(b): v for b, v in d["durable"].items()})
assert len(durable) > 0, "nothing was made durable: test too short"
checked = 0
with open(disk, "rb") as f:
    for b in range(nblocks):
        data = f.read(4096)
        if data == b"\0" * 4096:
            assert b not in durable, "block %d lost (durable seq %d)" % (b, durable[b])
            continue
        magic, w, blk, seq = struct.unpack(">4sIQQ", data[:24])
        assert magic == b"nbdx" and blk == b and w == b % nwriters, \
            "block %d holds unrelated data" % b
        assert data == data[:24] * (4096 // 24) + b"\0" * (4096 % 24), \
            "block %d is torn" % b
        assert seq in issued.get(b, ()), "block %d: seq %d never sent" % (b, seq)
        assert seq >= durable.get(b, 0), \
            "block %d: seq %d older than durable %d" % (b, seq, durable[b])
        checked += 1
print("%d blocks checked, %d durable" % (checked, len(durable)))
EOT
done
