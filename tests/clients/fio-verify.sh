#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# fio-verify.sh: a short fio run with the nbd engine, random writes at
# queue depth 16 verified with crc32c (correctness, not speed).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires fio
fio --enghelp 2>/dev/null | grep -qw nbd ||
    { echo "SKIP: this fio has no nbd engine"; exit 77; }
set -x

start_server -U "$sock" memory 64M
fio --name=nbdverify --ioengine=nbd --uri="$uri" \
    --rw=randwrite --bsrange=4k-64k --size=32M --iodepth=16 \
    --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
    --runtime=20 --output-format=json --output="$tmp/fio.json"
cat "$tmp/fio.json"
python3 - "$tmp/fio.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
job = r["jobs"][0]
assert job["error"] == 0, job["error"]
assert job["write"]["io_bytes"] > 0, job["write"]
assert job["read"]["io_bytes"] > 0, "verify pass read nothing"
PY
