#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# log-flush.sh: request lines reach the log file while the client is
# still connected (they wait at most a few ms in the filter's buffer),
# and a failed request's end line is in the file as soon as its reply.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

truncate -s 1M "$tmp/disk"
start_server -U "$sock" --filter=log file "$tmp/disk" \
    logfile="$tmp/log"
LOG="$tmp/log" nbdsh -u "nbd+unix:///?socket=$sock" -c '
import os, time

def wait_for(text, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if text in open(os.environ["LOG"]).read():
            return time.monotonic()
        time.sleep(0.002)
    raise AssertionError("not in the log after %gs: %s" % (limit, text))

h.pread(512, 4096)
wait_for("...Read id=1 return=0", 2)
# Quiet, then one more request: it is not held until the next one.
time.sleep(0.3)
h.pwrite(b"y" * 512, 0)
wait_for("...Write id=2 return=0", 2)
'
grep -q "connection=1 Read id=1 offset=0x1000 count=0x200 \.\.\.$" "$tmp/log"
