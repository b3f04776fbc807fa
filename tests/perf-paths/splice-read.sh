#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# splice-read.sh: large READs from the memory plugin are spliced from its
# pages (vmsplice into a pipe, splice to the socket) and return the data
# written; when the kernel refuses vmsplice (the probe fails) or refuses
# to splice to the socket (the pipe is copied out instead), READs still
# return the right data over the copying path.
. "$SRCDIR/tests/lib.sh"
requires nbdsh strace
# LeakSanitizer cannot run in a traced process.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
strace -qq -o /dev/null true || { echo "SKIP: strace cannot trace here"; exit 77; }

# run_traced NAME STRACE-ARGS...: the round trip under strace.
run_traced() {
    local name=$1
    shift
    cat >"$tmp/nbdx-$name" <<WRAP
#!/bin/sh
exec strace -f -qq -o "$tmp/$name.log" $* "$NBDX" "\$@"
WRAP
    chmod +x "$tmp/nbdx-$name"
    NBDX="$tmp/nbdx-$name" start_server -U "$sock" memory 64M
    /usr/bin/python3 "$SRCDIR/tests/perf-paths/roundtrip.py" "$uri" $((64 << 20))
    stop_server
}

run_traced plain -e trace=vmsplice,splice
grep -q 'vmsplice(' "$tmp/plain.log"
grep -q '^[0-9]* *splice(.* = [1-9]' "$tmp/plain.log"

run_traced novmsplice -e trace=vmsplice,splice -e inject=vmsplice:error=EPERM
grep -q 'vmsplice(.*EPERM' "$tmp/novmsplice.log"
if grep -q '^[0-9]* *splice(' "$tmp/novmsplice.log"; then
    echo "spliced although vmsplice fails" >&2
    exit 1
fi

run_traced nosplice -e trace=vmsplice,splice -e inject=splice:error=EINVAL
grep -q '^[0-9]* *splice(.*EINVAL' "$tmp/nosplice.log"
