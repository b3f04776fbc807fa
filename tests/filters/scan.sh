#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scan.sh: the scan filter as nbdkit's.  The log filter below it sees
# cache requests of scan-size bytes over the whole export, in order,
# the very list nbdkit's filter sends; a read far ahead makes the next
# request start right after it (not with scan-ahead=false); a second
# connection goes on where the first stopped (from 0 with
# scan-clock=false); scan-forever goes round again; a server with many
# connections scanning, some clients killed, quits cleanly on SIGTERM
# with no request after any connection's end; the warnings where it
# cannot scan; bad parameters refused.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires nbdcopy python3 cmp
set -x
same_as_nbdkit --filter=scan "$memory" size=1M

# caches LOG: the scan's requests in LOG, "CONN OFFSET COUNT" in hex,
# one a line, in order; reads show as "CONN read OFFSET COUNT".
caches() {
    sed -nE 's/.*connection=([0-9]+) Cache id=[0-9]+ offset=0x([0-9a-f]+) count=0x([0-9a-f]+) .*/\1 \2 \3/p;
             s/.*connection=([0-9]+) Read id=[0-9]+ offset=0x([0-9a-f]+) count=0x([0-9a-f]+) .*/\1 read \2 \3/p' "$1"
}
# wait.py N LOG SIZE: until LOG holds at least N cache requests, or
# with N = 0 one that ends at SIZE (30 s at most).
cat >"$tmp/wait.py" <<'PY'
import re, sys, time
n, log, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def done():
    c = re.findall(r" Cache id=\d+ offset=0x(\w+) count=0x(\w+)",
                   open(log).read())
    if n == 0:
        return any(int(o, 16) + int(k, 16) == size for o, k in c)
    return len(c) >= n
for _ in range(300):
    if done():
        break
    time.sleep(0.1)
else:
    sys.exit("timed out waiting for cache requests in " + log)
PY
# client N1 LOG COUNT OFFSET N2: wait as wait.py N1 LOG, read COUNT
# bytes at OFFSET (if COUNT > 0), then wait as wait.py N2 LOG.
client() {
    nbdsh_u -c "
import subprocess, sys
w = lambda n: subprocess.run([sys.executable, '$tmp/wait.py', str(n), '$2',
                              str(h.get_size())], check=True)
w($1)
if $3:
    h.pread($3, $4)
w($5)
"
}

# The whole export, 2M at a time then the tail, as nbdkit's filter does.
start_server -U "$sock" --filter=scan --filter=log memory 9M \
    logfile="$tmp/ours"
client 5 "$tmp/ours" 0 0 5
stop_server
caches "$tmp/ours" >"$tmp/ours.c"
printf '1 %x 200000\n' 0 2097152 4194304 6291456 >"$tmp/want"
echo "1 800000 100000" >>"$tmp/want"
diff "$tmp/want" "$tmp/ours.c"
nbdkit -U - --filter=scan --filter=log "$memory" size=9M \
    logfile="$tmp/theirs" \
    --run "nbdsh -u \"\$uri\" -c 'import subprocess, sys
subprocess.run([sys.executable, \"$tmp/wait.py\", \"5\", \"$tmp/theirs\", \"0\"],
               check=True)'"
caches "$tmp/theirs" | diff - "$tmp/ours.c"
# scan-size.
start_server -U "$sock" --filter=scan --filter=log memory 4M \
    logfile="$tmp/size" scan-size=512K
client 8 "$tmp/size" 0 0 8
stop_server
[ "$(caches "$tmp/size" | tr '\n' ' ')" = "$(printf '1 %x 80000 ' $(seq 0 524288 3670016))" ]

# A read far ahead: the next request (or, if the thread had already
# taken its next step, the one after) starts where the read ended and
# the scan goes on from there; none covers what was skipped.
ahead() { # ARGS...: the server's extra args; log in $tmp/ahead
    rm -f "$tmp/ahead"
    start_server -U "$sock" --filter=scan --filter=log --filter=delay \
        memory 64M logfile="$tmp/ahead" delay-cache=100ms "$@"
    client 2 "$tmp/ahead" 4096 $((40 * 1048576 + 12345)) 0
    stop_server
    caches "$tmp/ahead" >"$tmp/ahead.c"
}
ahead_check='
import sys
rows = [l.split() for l in open(sys.argv[1])]
i = [r[1] for r in rows].index("read")
end = int(rows[i][2], 16) + int(rows[i][3], 16)
before = [(int(r[1], 16), int(r[2], 16)) for r in rows[:i]]
after = [(int(r[1], 16), int(r[2], 16)) for r in rows[i + 1:]]
offs = [o for o, _ in before + after]
mode = sys.argv[2]
if mode == "ahead":
    assert end in offs[len(before):len(before) + 2], (end, after[:3])
    j = offs.index(end)
    assert offs[:j] == [k << 21 for k in range(j)], offs[:j]
    want = list(range(end, 64 << 20, 2 << 20))
else:
    j = 0
    want = list(range(0, 64 << 20, 2 << 20))
assert offs[j:] == want, offs[j:]
assert sum(n for o, n in (before + after)[j:]) == (64 << 20) - want[0]
print(mode, "ok:", len(before), "before the read,", len(after), "after")
'
ahead
cat "$tmp/ahead.c"
python3 -c "$ahead_check" "$tmp/ahead.c" ahead
# scan-ahead=false: the read changes nothing.
ahead scan-ahead=false
python3 -c "$ahead_check" "$tmp/ahead.c" sequential
[ "$(wc -l <"$tmp/ahead.c")" = 33 ]

# scan-clock: the second connection starts at the last request of the
# first; with false, at 0.
clock() { # ARGS...: extra server args; the requests in $tmp/clock.c
    rm -f "$tmp/clock"
    start_server -U "$sock" --filter=scan --filter=log --filter=delay \
        memory 64M logfile="$tmp/clock" delay-cache=50ms "$@"
    client 3 "$tmp/clock" 0 0 3
    client 6 "$tmp/clock" 0 0 6
    stop_server
    caches "$tmp/clock" >"$tmp/clock.c"
    cat "$tmp/clock.c"
}
clock
last1=$(grep '^1 ' "$tmp/clock.c" | tail -1 | cut -d' ' -f2)
first2=$(grep '^2 ' "$tmp/clock.c" | head -1 | cut -d' ' -f2)
[ "$last1" = "$first2" ] && [ "$first2" != 0 ]
clock scan-clock=false
[ "$(grep '^2 ' "$tmp/clock.c" | head -1 | cut -d' ' -f2)" = 0 ]

# scan-forever: round and round.
start_server -U "$sock" --filter=scan --filter=log --filter=delay \
    memory 3M logfile="$tmp/forever" delay-cache=20ms scan-size=1M \
    scan-forever=true
client 10 "$tmp/forever" 0 0 10
stop_server
caches "$tmp/forever" | head -10 | cut -d' ' -f2 | tr '\n' ' ' >"$tmp/f.c"
[ "$(cat "$tmp/f.c")" = "0 100000 200000 0 100000 200000 0 100000 200000 0 " ]
# Without it the scan stops at the end.
start_server -U "$sock" --filter=scan --filter=log memory 3M \
    logfile="$tmp/once" scan-size=1M
client 3 "$tmp/once" 0 0 3
sleep 0.5
stop_server
[ "$(caches "$tmp/once" | wc -l)" = 3 ]

# Data through scan and cow-on-cache is the file's.
head -c 5000000 /dev/urandom >"$tmp/disk"
start_server -U "$sock" --filter=scan --filter=cow file "$tmp/disk" \
    cow-on-cache=true
reads_match "$tmp/disk"
stop_server

# Many connections scanning a large slow export, clients leaving, some
# killed, some still there at SIGTERM: the server exits 0 and no
# connection's log has a request after its Disconnect.
: >"$tmp/server.log"
"$NBDX" -f -U "$sock" -P "$tmp/many.pid" --filter=scan --filter=log \
    --filter=delay memory 1G logfile="$tmp/many" delay-cache=5ms \
    scan-size=64K 2>"$tmp/many.err" &
srv=$!
for _ in $(seq 100); do [ -s "$tmp/many.pid" ] && break; sleep 0.1; done
kids=""
for i in $(seq 24); do
    case $((i % 3)) in 0) t=0.5 ;; *) t=30 ;; esac
    nbdsh -u "$uri" -c "import time; time.sleep($t)" 2>/dev/null &
    kids="$kids $!"
done
for _ in $(seq 300); do
    [ "$(grep -c ' Connect ' "$tmp/many")" -ge 24 ] && break
    sleep 0.1
done
# Clients 1, 4, 7... killed; 3, 6, 9... gone; the rest connected.
for k in $(echo $kids | tr ' ' '\n' | awk 'NR % 3 == 1'); do kill -9 "$k"; done
sleep 1
kill "$srv"
rc=0
wait "$srv" || rc=$?
for k in $kids; do kill "$k" 2>/dev/null || :; wait "$k" 2>/dev/null || :; done
cat "$tmp/many.err"
[ "$rc" = 0 ]
rm -f "$sock"
python3 - "$tmp/many" <<'PY'
import re, sys
done, seen = set(), set()
for l in open(sys.argv[1]):
    m = re.search(r"connection=(\d+) (\w+)", l)
    if not m:
        continue
    c = m[1]
    assert c not in done, ("request after Disconnect", l)
    if m[2] == "Disconnect":
        done.add(c)
    elif m[2] == "Cache":
        seen.add(c)
print(len(seen), "connections scanned,", len(done), "closed")
assert len(seen) == 24 and done == seen, (seen, done)
PY

# Where it cannot scan: a warning, no cache request, the data served.
cannot() { # WARNING ARGS...
    local want=$1
    shift
    : >"$tmp/server.log"
    rm -f "$tmp/no"
    start_server -U "$sock" --filter=scan "$@"
    nbdsh -u "$u" -c 'h.pwrite(b"s" * 4096, 0); assert h.pread(4096, 0) == b"s" * 4096'
    stop_server
    grep "nbdx: memory\[1\]: scan: warning: $want" "$tmp/server.log"
    fails grep "Cache id" "$tmp/no"
}
u="nbd+unix:///other?socket=$sock"
cannot "not the default export, not scanning" --filter=log memory 1M \
    logfile="$tmp/no"
u=$uri
cannot "underlying plugin does not support NBD_CMD_CACHE, not scanning; try adding --filter=cache after this filter" \
    --filter=nocache --filter=log memory 1M logfile="$tmp/no"
cannot "underlying plugin does not support the PARALLEL thread model, not scanning" \
    --filter=noparallel --filter=log memory 1M logfile="$tmp/no" \
    serialize=requests

# Bad parameters.
bad() { # MESSAGE ARG
    "$NBDX" -U - --filter=scan memory 1M "$2" --run true 2>"$tmp/err" &&
        exit 1
    cat "$tmp/err"
    grep -F "nbdx: scan: $1" "$tmp/err"
}
for s in 3 256 64M 4G 1000; do
    bad "scan-size parameter should be [512..32M] and a power of two" \
        scan-size=$s
done
bad 'could not parse size string: "abc"' scan-size=abc
bad 'size cannot be negative: "-1"' scan-size=-1
bad "could not decipher boolean (maybe)" scan-ahead=maybe
bad "could not decipher boolean ()" scan-clock=
bad "could not decipher boolean (x)" scan-forever=x
"$NBDX" -U - --filter=scan memory 1M scan-size=512 scan-size=32M \
    scan-ahead=off scan-clock=0 scan-forever=no --run true
