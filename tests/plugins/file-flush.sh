#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-flush.sh: flush and FUA writes of the file plugin call fdatasync;
# once fdatasync has failed (an injected EIO), every later flush and FUA
# write on that connection fails too, without asking the kernel again.
. "$SRCDIR/tests/lib.sh"
requires nbdsh strace
# LeakSanitizer cannot run in a traced process: no leak check here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
set -x

# Without a failure, flush and FUA writes do call fdatasync.
truncate -s 1M "$tmp/disk"
strace -f -qq -o "$tmp/ok.log" -e trace=fdatasync \
    "$NBDX" -U - file "$tmp/disk" --run 'nbdsh -u "$uri" -c "
h.flush()
h.pwrite(b\"x\", 0, nbd.CMD_FLAG_FUA)
h.zero(4096, 4096, nbd.CMD_FLAG_FUA)
"'
cat "$tmp/ok.log"
[ "$(grep -c 'fdatasync(.* = 0' "$tmp/ok.log")" = 3 ]

truncate -s 1M "$tmp/disk"
# strace makes the first fdatasync fail with EIO and logs every call.
cat >"$tmp/nbdx-strace" <<WRAP
#!/bin/sh
exec strace -f -qq -o "$tmp/strace.log" -e trace=fdatasync \
    -e inject=fdatasync:error=EIO:when=1 "$NBDX" "\$@"
WRAP
chmod +x "$tmp/nbdx-strace"
strace -qq -o /dev/null true ||
    { echo "SKIP: strace cannot trace here"; exit 77; }
NBDX="$tmp/nbdx-strace" start_server -U "$sock" file "$tmp/disk"
# strace detaches when killed: stop nbdx itself as well.
kill_nbdx() { kill "$pid" 2>/dev/null; }
cleanup_fn kill_nbdx

nbdsh_u -c '
def fails(f):
    try:
        f()
    except nbd.Error as e:
        assert e.errno == "EIO", e
        return
    assert False, "expected EIO"

h.pwrite(b"a" * 4096, 0)
fails(h.flush)                                   # the injected failure
fails(h.flush)                                   # tainted
fails(lambda: h.pwrite(b"b", 0, nbd.CMD_FLAG_FUA))
'
cat "$tmp/strace.log"
# strace counts calls per thread, so a later fdatasync on another worker
# thread would fail too: what proves the taint is that there was none.
[ "$(grep -c 'fdatasync(' "$tmp/strace.log")" = 1 ]
grep -q 'fdatasync(.*EIO (Input/output error) (INJECTED)' "$tmp/strace.log"
