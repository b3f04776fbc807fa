#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# file-config.sh: the file plugin's parameters: file= is the magic key,
# exactly one of file= and dir= is needed, only files and block devices
# are served, and cache= and fadvise= take their documented values (and
# nothing else) while data still round-trips.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

truncate -s 1M "$tmp/disk"
mkdir "$tmp/d"
mkfifo "$tmp/fifo"
bad() {
    if "$NBDX" -f -U "$tmp/badsock" file "$@" 2>"$tmp/err"; then
        echo "FAIL: accepted: $*" >&2
        return 1
    fi
    cat "$tmp/err"
}
bad
grep -q 'file=' "$tmp/err"
bad file="$tmp/disk" dir="$tmp/d"
grep -q 'together' "$tmp/err"
bad "$tmp/disk" cache=writeback
grep -q 'cache=' "$tmp/err"
bad "$tmp/disk" fadvise=willneed
grep -q 'fadvise=' "$tmp/err"
bad dir="$tmp/nodir"
grep -q "open: $tmp/nodir" "$tmp/err"

# A directory or a FIFO given as file= is refused when a client opens it.
start_server -U "$sock" file "$tmp/d"
fails nbdinfo "$uri"
start_server -U "$tmp/sock2" file "$tmp/fifo"
fails nbdinfo "nbd+unix:///?socket=$tmp/sock2"

n=0
for opts in "cache=none" "cache=default" "fadvise=random" \
            "fadvise=sequential" "fadvise=normal cache=none"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    start_server -U "$tmp/s$n" file file="$tmp/disk" $opts
    nbdsh -u "nbd+unix:///?socket=$tmp/s$n" -c "
h.pwrite(b'$n' * 70000, 12345)
h.flush()
assert h.pread(70000, 12345) == b'$n' * 70000
"
done
