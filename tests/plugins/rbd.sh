#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# rbd.sh: against one single-node Ceph cluster of its own (a monitor and
# one memstore OSD on 127.0.0.1, no authentication, every file in
# $tmp), the rbd plugin serves an image that nbdcopy writes and reads
# back byte for byte (qemu-img compare, also against `rbd export`), with
# holes where nothing was written (nbdinfo --map), trims and zeroes that
# read back as zeroes, a snapshot served read-only with the data it
# had, several connections copying at once; a missing image and an
# unreachable monitor fail at start with one line, the latter within a
# few seconds.  Skipped (77) if the plugin was not built or Ceph's
# daemons are not installed.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/ceph.sh"
[ -e "$BUILDDIR/plugins/rbd/nbdkit-rbd-plugin.so" ] ||
    { echo "SKIP: the rbd plugin was not built"; exit 77; }
ceph_requires
requires rbd nbdsh nbdcopy nbdinfo qemu-img timeout
set -x
watchdog 270

# --- The cluster --------------------------------------------------------
stop() { stop_server; pid=""; }
ceph_start

rbd() { command rbd -c "$conf" "$@"; }

# --- Round trip ---------------------------------------------------------
rbd create --size 64M disk
random_file "$tmp/data" 4096 # 4 MiB
truncate -s 64M "$tmp/in"
dd if="$tmp/data" of="$tmp/in" bs=1M seek=8 conv=notrunc status=none
dd if="$tmp/data" of="$tmp/in" bs=1M seek=40 count=2 conv=notrunc status=none

start_server -U "$sock" rbd conf="$conf" image=disk
nbdinfo "$uri" | tee "$tmp/info"
grep -q 'export-size: 67108864' "$tmp/info"
grep -q 'can_multi_conn: true' "$tmp/info"
nbdcopy "$tmp/in" "$uri"
nbdcopy "$uri" "$tmp/out"
qemu-img compare -f raw -F raw "$tmp/in" "$tmp/out"
rbd export disk "$tmp/export"
qemu-img compare -f raw -F raw "$tmp/in" "$tmp/export"

# Never-written areas are holes: [0, 8M) and [12M, 40M) at least.
nbdinfo --map --json "$uri" >"$tmp/map"
python3 - "$tmp/map" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(m)
def kind(off):
    for e in m:
        if e["offset"] <= off < e["offset"] + e["length"]:
            return e["type"]
    raise AssertionError("no extent at %d" % off)
M = 1 << 20
assert m[-1]["offset"] + m[-1]["length"] == 64 * M
for off in (0, 4 * M, 13 * M, 30 * M, 60 * M):
    assert kind(off) == 3, ("not a hole", off)
for off in (8 * M, 11 * M, 40 * M, 41 * M + 5):
    assert kind(off) == 0, ("not data", off)
EOF

# Trim, zero (with and without may_trim, with fua), unaligned writes,
# flush, all read back as the model says.
nbdsh_u -c '
import errno
M = 1 << 20
d = bytearray(open("'"$tmp/in"'", "rb").read())
h.zero(3 * M + 17, 8 * M + 5)
d[8 * M + 5:11 * M + 22] = bytes(3 * M + 17)
h.zero(4096, 40 * M + 100, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FUA)
d[40 * M + 100:40 * M + 4196] = bytes(4096)
h.trim(4 * M, 8 * M)   # whole objects: read as zeroes afterwards
d[8 * M:12 * M] = bytes(4 * M)
h.pwrite(b"abc" * 1000, 20 * M - 7, nbd.CMD_FLAG_FUA)
d[20 * M - 7:20 * M + 2993] = b"abc" * 1000
h.flush()
for off in range(0, len(d), 16 * M):
    assert h.pread(16 * M, off) == d[off:off + 16 * M], off
# A fast zero without may_trim is refused as not supported.
try:
    h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
    assert False, "fast thick zero succeeded"
except nbd.Error as e:
    assert e.errnum == errno.ENOTSUP, e
open("'"$tmp/model"'", "wb").write(d)
'
nbdcopy "$uri" "$tmp/out2"
qemu-img compare -f raw -F raw "$tmp/model" "$tmp/out2"

# Several connections at once, each with requests in flight.
random_file "$tmp/big" 32768 # 32 MiB
nbdcopy -C 4 --requests=16 --request-size=262144 "$tmp/big" "$uri"
nbdcopy -C 4 --requests=16 "$uri" "$tmp/big2"
cmp <(head -c 32M "$tmp/big2") "$tmp/big"

# --- A snapshot, served read-only with the data it had ------------------
rbd snap create disk@s1
nbdsh_u -c 'h.pwrite(b"after the snapshot" * 100, 0); h.flush()'
stop
start_server -U "$sock" rbd conf="$conf" disk snapshot=s1
nbdsh_u -c '
assert h.is_read_only()
with open("'"$tmp/big"'", "rb") as f:
    assert h.pread(1 << 20, 0) == f.read(1 << 20)
try:
    h.pwrite(b"x", 0)
    assert False, "write to a snapshot succeeded"
except nbd.Error:
    pass
'
stop

# A namespace of the pool; the extra key rbd_cache=false reaches Ceph.
rbd namespace create rbd/ns1
rbd create --size 1M rbd/ns1/small
start_server -U "$sock" rbd conf="$conf" image=small namespace=ns1 \
    rbd_cache=false
nbdsh_u -c 'h.pwrite(b"ns", 0); assert h.pread(2, 0) == b"ns"'
stop

# Daemonised: librados's threads start after the fork.
"$NBDX" -P "$tmp/daemon.pid" -U "$tmp/dsock" rbd conf="$conf" disk
for _ in $(seq 100); do [ -s "$tmp/daemon.pid" ] && break; sleep 0.1; done
_pids="$_pids $(cat "$tmp/daemon.pid")"
nbdsh -u "nbd+unix:///?socket=$tmp/dsock" -c '
with open("'"$tmp/big"'", "rb") as f:
    assert h.pread(1 << 20, 1 << 20) == f.read(2 << 20)[1 << 20:]
'
dpid=$(cat "$tmp/daemon.pid")
kill "$dpid"
for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
fails kill -0 "$dpid"

# --- Failures: one line each, at start ----------------------------------
# expect_one_line SECONDS PATTERN NBDX-ARGS...: nbdx fails within SECONDS
# with exactly one error line, matching PATTERN.
expect_one_line() {
    local secs=$1 pat=$2 start=$SECONDS
    shift 2
    rm -f "$tmp/sock-bad" # nbdx leaves its socket behind
    if timeout 30 "$NBDX" -f -U "$tmp/sock-bad" "$@" 2>"$tmp/err"; then
        echo "FAIL: nbdx $* started" >&2
        return 1
    fi
    cat "$tmp/err"
    [ $((SECONDS - start)) -le "$secs" ]
    [ "$(wc -l <"$tmp/err")" = 1 ]
    grep -q "$pat" "$tmp/err"
}
expect_one_line 5 "image nosuch in pool rbd: no such image" \
    rbd conf="$conf" nosuch
expect_one_line 5 "no such image or snapshot" \
    rbd conf="$conf" disk snapshot=nosuch
expect_one_line 5 "pool nopool: no such pool" \
    rbd conf="$conf" pool=nopool disk
expect_one_line 5 "cannot read Ceph configuration" \
    rbd conf="$tmp/nosuch.conf" disk
expect_one_line 5 "unknown parameter 'no_such_option'" \
    rbd conf="$conf" disk no_such_option=1
expect_one_line 5 "image=" rbd conf="$conf"
# An unreachable monitor: a closed port.
dead=$(free_port 127.0.0.1)
printf '[global]\nmon host = 127.0.0.1:%s\nauth client required = none\n' \
    "$dead" >"$tmp/dead.conf"
expect_one_line 8 "cannot connect to the Ceph cluster.*timed out" \
    rbd conf="$tmp/dead.conf" disk client_mount_timeout=3

ceph_stop
