#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# blocksize-policy.sh: the blocksize-policy filter as nbdkit's: nbdinfo
# shows the configured block sizes over the plugin's; with the error
# policy misaligned or undersized requests fail with EINVAL and never
# reach the log filter below, while with allow they do; a write over
# blocksize-write-disconnect drops the connection; stacked over the
# blocksize filter unaligned requests are served as aligned ones; bad
# parameters are refused by name.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires nbdinfo python3
set -x
for a in "blocksize-minimum=512 blocksize-error-policy=error" \
    "blocksize-preferred=64k" \
    "blocksize-minimum=4k blocksize-preferred=16k blocksize-maximum=1M blocksize-error-policy=error" \
    "blocksize-minimum=4k blocksize-error-policy=allow"; do
    # shellcheck disable=SC2086
    same_as_nbdkit --filter=blocksize-policy "$memory" size=1M $a
done

# The advertised sizes: $1 min, $2 preferred, $3 max, then server args.
sizes_are() {
    local min=$1 pref=$2 max=$3
    shift 3
    "$NBDX" -U - --filter=blocksize-policy "$@" \
        --run 'nbdinfo --json "$uri"' >"$tmp/info"
    python3 - "$tmp/info" "$min" "$pref" "$max" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["exports"][0]
got = [e["block_size_minimum"], e["block_size_preferred"],
       e["block_size_maximum"]]
want = [int(v) for v in sys.argv[2:]]
# The server caps the advertised maximum at the largest request it takes.
if want[2] == 4294967295 and got[2] == 33554432:
    want[2] = got[2]
assert got == want, (got, want)
PY
}
sizes_are 4096 16384 1048576 "$memory" size=1M blocksize-minimum=4k \
    blocksize-preferred=16k blocksize-maximum=1M
sizes_are 1 32768 4294967295 "$memory" size=1M blocksize-preferred=32K
sizes_are 512 4096 65536 "$memory" size=1M blocksize-minimum=512 \
    blocksize-write-disconnect=65636
sizes_are 1024 4096 4294967295 "$memory" size=1M blocksize-minimum=1024
# Over a layer with constraints (the blocksize filter: 1, 16k, 4G-1),
# only the given size changes.
sizes_are 1 16384 262144 --filter=blocksize "$memory" size=1M minblock=16k \
    blocksize-maximum=256k

# The error policy: misaligned requests never reach the layer below.
start_server -U "$sock" --filter=blocksize-policy --filter=log memory 1M \
    logfile="$tmp/log" blocksize-minimum=4k blocksize-maximum=64k \
    blocksize-error-policy=error
nbdsh --base-allocation -u "$uri" -c '
h.set_strict_mode(0)        # let the client send what it likes
def einval(fn):
    try:
        fn()
    except nbd.Error as e:
        assert e.errno == "EINVAL", e.errno
        return
    raise SystemExit("a misaligned request went through")
einval(lambda: h.pread(512, 0))
einval(lambda: h.pread(4096, 100))
einval(lambda: h.pwrite(b"x" * 6000, 0))
einval(lambda: h.zero(4096, 2048))
einval(lambda: h.trim(100, 0))
einval(lambda: h.cache(4097, 0))
einval(lambda: h.block_status(4096, 1, lambda *a: 0))
h.pwrite(b"y" * 8192, 4096)
assert h.pread(8192, 4096) == b"y" * 8192
h.zero(4096, 4096)
h.block_status(65536, 0, lambda *a: 0)
'
stop_server
cat "$tmp/log"
grep -q "offset=0x1000 count=0x2000" "$tmp/log"
python3 - "$tmp/log" <<'PY'
import re, sys
for l in open(sys.argv[1]):
    for v in re.findall(r"(?:offset|count)=0x([0-9a-f]+)", l):
        assert int(v, 16) % 4096 == 0, ("reached the plugin:", l)
PY
grep "client pread request rejected: offset 100 is not aligned" \
    "$tmp/server.log"
grep "client pwrite request rejected: count 6000 is not a multiple" \
    "$tmp/server.log"

# The allow policy passes them on.
start_server -U "$sock" --filter=blocksize-policy --filter=log memory 1M \
    logfile="$tmp/log2" blocksize-minimum=4k
nbdsh_u -c 'h.set_strict_mode(0); h.pwrite(b"z" * 10, 5); assert h.pread(3, 14) == b"z\0\0"'
stop_server
grep "Write id=1 offset=0x5 count=0xa " "$tmp/log2"

# A write over blocksize-write-disconnect drops the client.
start_server -U "$sock" --filter=blocksize-policy memory 1M \
    blocksize-maximum=1M blocksize-write-disconnect=64k
nbdsh_u -c '
h.pwrite(b"a" * 65536, 0)
try:
    h.pwrite(b"b" * 69632, 0)
except nbd.Error as e:
    print("oversize write:", e)
else:
    raise SystemExit("an oversize write succeeded")
assert not h.aio_is_ready(), "still connected"
'
nbdsh_u -c 'assert h.pread(65537, 0) == b"a" * 65536 + b"\0"'
stop_server
grep "disconnecting client due to oversize write request" "$tmp/server.log"

# Over the blocksize filter: advertised 4k, served for anyone, aligned below.
start_server -U "$sock" --filter=blocksize-policy --filter=blocksize \
    --filter=log memory 1M logfile="$tmp/log3" blocksize-minimum=4k minblock=4k
nbdinfo "$uri" | grep "block_size_minimum: 4096"
nbdsh_u -c 'h.set_strict_mode(0); h.pwrite(b"q" * 10, 5); assert h.pread(12, 4) == b"\0" + b"q" * 10 + b"\0"'
stop_server
grep "Write id=[0-9]* offset=0x0 count=0x1000 " "$tmp/log3"
fails grep "offset=0x5" "$tmp/log3"

for bad in "blocksize-minimum=3:blocksize-minimum must be a power of 2" \
    "blocksize-minimum=128k:blocksize-minimum must be <= 64K" \
    "blocksize-preferred=256:blocksize-preferred must be between 512 and 32M" \
    "blocksize-preferred=3000:blocksize-preferred must be a power of 2" \
    "blocksize-minimum=4k blocksize-preferred=1k:blocksize-minimum must be <= blocksize-preferred" \
    "blocksize-preferred=64k blocksize-maximum=32k:blocksize-preferred must be <= blocksize-maximum" \
    "blocksize-minimum=4k blocksize-write-disconnect=4k:blocksize-write-disconnect must be larger" \
    "blocksize-error-policy=foo:unknown blocksize-error-policy: foo" \
    "blocksize-maximum=5G:blocksize-maximum: could not parse 5G"; do
    args=${bad%%:*} msg=${bad#*:}
    # shellcheck disable=SC2086
    "$NBDX" -U - --filter=blocksize-policy memory 1M $args --run true \
        2>"$tmp/err" && exit 1
    cat "$tmp/err"
    grep -F "$msg" "$tmp/err"
done
# Sizes that cannot fit together fail the handshake, with the reason.
"$NBDX" -U - --filter=blocksize-policy "$memory" size=1M \
    blocksize-minimum=8k blocksize-maximum=4k \
    --run 'nbdinfo "$uri"' 2>"$tmp/err" && exit 1
grep "computed block size values are invalid" "$tmp/err"
