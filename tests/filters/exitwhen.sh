#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# exitwhen.sh: each event (file created or deleted, script, process, pipe)
# makes the idle server exit; with a client
# connected the server refuses new clients and exits when it leaves; a
# script failing with another code is logged and ignored.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x

# Wait up to 10 s for $pid to exit; fail if it does not.
gone() {
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    return 1
}
alive() { sleep 1.5; kill -0 "$pid"; }

# file created, idle server, polled every second.
start_server -U "$sock" --filter=exitwhen "$memory" size=1M \
    exit-when-file-created="$tmp/stop" exit-when-poll=1
alive
touch "$tmp/stop"
gone
rm -f "$sock"

# Already there at start: exits at once.
start_server -U "$sock" --filter=exitwhen "$memory" size=1M \
    exit-when-file-created="$tmp/stop"
gone
rm -f "$sock" "$tmp/stop"

# file deleted.
touch "$tmp/keep"
start_server -U "$sock" --filter=exitwhen "$memory" size=1M \
    exit-when-file-deleted="$tmp/keep" exit-when-poll=1
alive
rm "$tmp/keep"
gone
rm -f "$sock"

# script: exit 3 is an error and changes nothing; exit 88 is the event.
echo 3 > "$tmp/code"
start_server -U "$sock" --filter=exitwhen "$memory" size=1M \
    exit-when-script="exit \$(cat $tmp/code)" exit-when-poll=1
alive
grep -q 'exit-when-script: command failed with exit code 3' "$tmp/server.log"
echo 88 > "$tmp/code"
gone
rm -f "$sock"

# process exits.
sleep 60 &
sleeper=$!
start_server -U "$sock" --filter=exitwhen "$memory" size=1M \
    exit-when-process-exits=$sleeper exit-when-poll=1
alive
kill $sleeper
wait $sleeper || true
gone
rm -f "$sock"

# pipe closed: the server holds the read end on fd 7; killing the only
# writer closes the pipe.
mkfifo "$tmp/fifo"
sleep 60 > "$tmp/fifo" &
writer=$!
exec 7< "$tmp/fifo"
start_server -U "$sock" --filter=exitwhen "$memory" size=1M \
    exit-when-pipe-closed=7 exit-when-poll=1
exec 7<&-
alive
kill $writer
wait $writer || true
gone
rm -f "$sock"

# A connected client keeps the server up after the event, though new
# clients are refused; its leaving ends the server.  Poll is long, so
# the checks at connect and disconnect do the work.
start_server -U "$sock" --filter=exitwhen "$memory" size=1M \
    exit-when-file-created="$tmp/stop" exit-when-poll=600
/usr/bin/python3 -c '
import nbd, os, sys, time
a = nbd.NBD(); a.connect_uri(sys.argv[1])
open(sys.argv[2], "w").close()
b = nbd.NBD()
try:
    b.connect_uri(sys.argv[1])
    assert False, "new client accepted after the event"
except nbd.Error:
    pass
time.sleep(0.5)
os.kill(int(sys.argv[3]), 0)
a.pwrite(b"x" * 512, 0)
assert a.pread(1, 0) == b"x"
a.shutdown()
' "$uri" "$tmp/stop" "$pid"
grep -q 'rejecting new connection' "$tmp/server.log"
gone
rm -f "$sock" "$tmp/stop"

# Stacked over the log filter: the same, the log sees the client.
start_server -U "$sock" --filter=exitwhen --filter=log "$memory" size=1M \
    logfile="$tmp/log" exit-when-file-created="$tmp/stop" exit-when-poll=1
nbdsh_u -c 'h.pread(512, 0)'
alive
touch "$tmp/stop"
gone
grep -q 'Read id=1' "$tmp/log"

fails "$NBDX" --filter=exitwhen "$memory" size=1M exit-when-poll=x \
    --run true 2> "$tmp/err"
grep -q exit-when-poll "$tmp/err"
fails "$NBDX" --filter=exitwhen "$memory" size=1M exit-when-process-exits=0 \
    --run true 2> "$tmp/err"
grep -q exit-when-process-exits "$tmp/err"
