#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# retry.sh: the retry filter as nbdkit's (flags and a fixed request
# script); over nbdkit's sh plugin serving a disk file, with a script
# that fails as many requests and opens as the test asks and logs every
# open and close: a failing read, write and block status succeed after
# the plugin was closed and reopened (opens counted, data checked), a
# failed reopen is retried, retries run out with the plugin's EIO (or
# ESHUTDOWN when reopening keeps failing) after the waits of the
# schedule (fixed or exponential), the next request reopens (also in
# a new connection after one left while the plugin was closed), and
# retry-readonly reopens read-only so that writes fail with EPERM;
# stacked over the error filter, a read heals once a trigger file goes;
# bad parameters are refused by name.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
sh_plugin="${memory%/*}/nbdkit-sh-plugin.so"
[ -f "$sh_plugin" ] || { echo "SKIP: nbdkit's sh plugin not installed"; exit 77; }
same_as_nbdkit --filter=retry "$memory" size=1M
same_as_nbdkit --filter=retry "$memory" size=1M retries=1 retry-delay=1 \
    retry-exponential=no retry-readonly=yes

st="$tmp/state"
mkdir "$st"
head -c 1M /dev/urandom >"$st/disk"
cp "$st/disk" "$tmp/orig"
cat >"$tmp/plugin.sh" <<SCRIPT
#!/bin/bash
st="$st"
SCRIPT
cat >>"$tmp/plugin.sh" <<'SCRIPT'
# due FILE: a failure is due (FILE holds how many are left; one is used).
due() {
    local n
    n=$(cat "$st/$1" 2>/dev/null || echo 0)
    [ "$n" -gt 0 ] || return 1
    echo $((n - 1)) >"$st/$1"
}
fail() { echo "EIO $1 failed on purpose" >&2; exit 1; }
case "$1" in
open) due openfail && fail open
      echo "open $2" >>"$st/log"; echo handle ;;
close) echo close >>"$st/log" ;;
get_size) stat -c %s "$st/disk" ;;
can_write|can_extents|can_flush) exit 0 ;;
flush) exit 0 ;;
pread) due fail && fail pread
       dd if="$st/disk" skip="$4" count="$3" iflag=skip_bytes,count_bytes \
          status=none ;;
pwrite) due fail && fail pwrite
        dd of="$st/disk" seek="$4" oflag=seek_bytes conv=notrunc status=none ;;
extents) due fail && fail extents
         echo "0 $(stat -c %s "$st/disk")" ;;
*) exit 2 ;;
esac
SCRIPT
chmod +x "$tmp/plugin.sh"
: >"$st/log"

# nbdsh helpers: put(FILE, N) arms N failures; opens()/closes() count.
cat >"$tmp/lib.py" <<PY
import os, time
st = "$st"
orig = open("$tmp/orig", "rb").read()
PY
cat >>"$tmp/lib.py" <<'PY'
def put(name, n):
    with open(os.path.join(st, name), "w") as f:
        f.write("%d\n" % n)
def count(word):
    return sum(1 for l in open(os.path.join(st, "log")) if l.split()[0] == word)
def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t
def fails_with(errno, fn):
    t = time.monotonic()
    try:
        fn()
    except nbd.Error as e:
        assert e.errno == errno, (e.errno, errno)
        return time.monotonic() - t
    raise SystemExit("a request that should fail succeeded")
PY

start_server -U "$sock" -v --filter=retry "$sh_plugin" "$tmp/plugin.sh" \
    retries=2 retry-delay=1 retry-exponential=no
nbdsh --base-allocation -u "$uri" -c "exec(open('$tmp/lib.py').read())" -c '
assert count("open") == 1 and count("close") == 0
# Two failures, two reopens, then the data.
put("fail", 2)
r, took = timed(lambda: h.pread(4096, 8192))
assert r == orig[8192:12288]
assert 1.9 <= took < 10, took
assert count("open") == 3 and count("close") == 2, (count("open"), count("close"))
# A write, retried after a reopen, reaches the disk.
put("fail", 1)
h.pwrite(b"W" * 512, 512)
assert count("open") == 4
assert h.pread(1024, 0) == orig[:512] + b"W" * 512
# Block status too.
put("fail", 1)
seen = []
h.block_status(65536, 0, lambda ctx, off, ents, err: seen.extend(ents))
assert seen == [65536, 0], seen
assert count("open") == 5
# A reopen that fails is one more retry.
put("fail", 1); put("openfail", 1)
r, took = timed(lambda: h.pread(512, 0))
assert r == orig[:512]
assert 1.9 <= took < 10, took
assert count("open") == 6 and count("close") == 5
# Out of retries: the plugin error, after 1 + 1 seconds, 2 reopens.
put("fail", 100)
took = fails_with("EIO", lambda: h.pread(512, 0))
assert 1.9 <= took < 10, took
assert count("open") == 8
put("fail", 0)
assert h.pread(512, 4096) == orig[4096:4608]
assert count("open") == 8
# Reopening keeps failing: ESHUTDOWN, and the plugin stays closed ...
put("fail", 1); put("openfail", 100)
took = fails_with("ESHUTDOWN", lambda: h.pread(512, 0))
assert 1.9 <= took < 10, took
assert count("open") == 8 and count("close") == 8
# ... until the next request reopens it, after a wait.
put("openfail", 0)
r, took = timed(lambda: h.pread(512, 0))
assert r == orig[:512]
assert 0.9 <= took < 10, took
assert count("open") == 9
'
# A client that leaves while the plugin is closed; the server goes on.
nbdsh -u "$uri" -c "exec(open('$tmp/lib.py').read())" -c '
put("fail", 1); put("openfail", 100)
fails_with("ESHUTDOWN", lambda: h.pread(512, 0))
put("openfail", 0)
'
nbdsh -u "$uri" -c "exec(open('$tmp/lib.py').read())" -c '
assert h.pread(512, 0) == orig[:512]
'
kill -0 "$pid"
stop_server
grep "retry: pread failed (errno 5): retry 1 of 2 after 1 seconds" "$tmp/server.log"
grep "retry: pread: giving up after 2 retries" "$tmp/server.log"
grep "retry: reopen failed" "$tmp/server.log"
cmp <(head -c 512 "$tmp/orig"; printf 'W%.0s' $(seq 512); tail -c +1025 "$tmp/orig") "$st/disk"

# Exponential back-off (the default): 1 + 2 seconds; read-only reopens.
: >"$st/log"
start_server -U "$sock" --filter=retry "$sh_plugin" "$tmp/plugin.sh" \
    retries=2 retry-delay=1 retry-readonly=yes
nbdsh -u "$uri" -c "exec(open('$tmp/lib.py').read())" -c '
assert not h.is_read_only()
h.pwrite(b"A" * 512, 0)
put("fail", 100)
took = fails_with("EIO", lambda: h.pread(512, 0))
assert 2.9 <= took < 10, took
put("fail", 0)
assert h.pread(512, 0) == b"A" * 512
took = fails_with("EPERM", lambda: h.pwrite(b"B" * 512, 0))
assert took < 0.9, took
assert h.pread(512, 0) == b"A" * 512
'
stop_server
[ "$(cat "$st/log")" = "$(printf 'open false\nclose\nopen true\nclose\nopen true\nclose')" ]

# Over the error filter: the read heals when the trigger file goes.
trig="$tmp/trigger"
touch "$trig"
start_server -U "$sock" --filter=retry --filter=error memory 1M \
    error-pread-rate=1 error-file="$trig" retry-delay=1
nbdsh_u -c '
import os, threading, time
threading.Timer(1.5, os.unlink, ["'"$trig"'"]).start()
t = time.monotonic()
assert h.pread(512, 0) == bytes(512)
took = time.monotonic() - t
assert 2.9 <= took < 10, took      # retries after 1 s and 1 + 2 s
'
stop_server

for bad in retries=-1 retries=x retry-delay=0 retry-delay=2s \
    retry-exponential=maybe retry-readonly=maybe; do
    "$NBDX" -U - --filter=retry memory 1M "$bad" --run true \
        2>"$tmp/err" && exit 1
    cat "$tmp/err"
    grep "nbdx: retry: ${bad%%=*}: " "$tmp/err"
done
