#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# gzip.sh: a gzip'd 4 MiB image served by the file plugin under the gzip
# filter reads back whole (nbdcopy) and at random offsets, as with
# nbdkit's filter, read-only; it is inflated once, into an unlinked file
# in $TMPDIR, for every connection; concatenated members read as one
# file; a file that is not gzip, truncated or damaged fails the
# connection with zlib's reason, and a later connection tries again.
# Stacked under the offset filter.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires gzip nbdcopy
[ -f "$BUILDDIR/filters/gzip/nbdkit-gzip-filter.so" ] ||
    { echo "SKIP: the gzip filter was not built (no zlib)"; exit 77; }
set -x
fileso="${memory%/*}/nbdkit-file-plugin.so"

{ head -c $((2 << 20)) /dev/urandom; yes 'nbdx gzip test line' |
    head -c $((2 << 20)); } >"$tmp/disk"
gzip -c "$tmp/disk" >"$tmp/disk.gz"
mkdir "$tmp/tmpdir"

TMPDIR="$tmp/tmpdir" start_server -v -U "$sock" --filter=gzip \
    file "$tmp/disk.gz"
reads_match "$tmp/disk"
read_only
nbdsh_u -c 'h.cache(h.get_size(), 0)'
# The temporary file is open in the server, already unlinked.
[ -z "$(ls -A "$tmp/tmpdir")" ]
ls -l /proc/$pid/fd | grep -F "$tmp/tmpdir/gzip"
stop_server
[ "$(grep -c 'bytes inflated' "$tmp/server.log")" = 1 ]
same_as_nbdkit -r --filter=gzip "$fileso" file="$tmp/disk.gz"

# Two members, as cat a.gz b.gz makes.
head -c 100000 /dev/urandom >"$tmp/part2"
{ gzip -c "$tmp/part2"; cat "$tmp/disk.gz"; } >"$tmp/two.gz"
start_server -U "$sock" --filter=offset --filter=gzip file "$tmp/two.gz" \
    offset=4096
nbdcopy "$uri" "$tmp/out"
stop_server
cmp "$tmp/out" <(cat "$tmp/part2" "$tmp/disk" | tail -c +4097)

# refused FILE MESSAGE: the client cannot connect; the log says why.
refused() {
    start_server -U "$sock" --filter=gzip file "$1"
    fails nbdinfo "$uri"
    stop_server
    grep -F "$2" "$tmp/server.log"
}
refused "$tmp/disk" "gzip: inflate: incorrect header check"
head -c 100000 "$tmp/disk.gz" >"$tmp/short.gz"
refused "$tmp/short.gz" "gzip: inflate: the compressed data ends early"
cp "$tmp/disk.gz" "$tmp/bad.gz"
size=$(stat -c %s "$tmp/disk.gz")
printf '\0\0\0\0' | dd of="$tmp/bad.gz" bs=1 seek=$((size - 8)) \
    conv=notrunc status=none
refused "$tmp/bad.gz" "gzip: inflate: incorrect data check"

# After a failure the next connection inflates again.
cp "$tmp/disk" "$tmp/later.gz"
start_server -U "$sock" --filter=gzip file "$tmp/later.gz"
fails nbdinfo "$uri"
cp "$tmp/disk.gz" "$tmp/later.gz"
nbdcopy "$uri" "$tmp/out"
stop_server
cmp "$tmp/disk" "$tmp/out"
