#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# iso.sh: the iso plugin serves, read-only, an ISO 9660 image made by
# xorriso of several directories merged, with the parameters given
# (Rock Ridge names, a volume label); xorriso lists and extracts the same
# files; the temporary image is unlinked; a failing program stops the
# server; and with SOURCE_DATE_EPOCH the image is byte for byte the one
# nbdkit's iso plugin makes, when nbdkit is installed.
. "$SRCDIR/tests/lib.sh"
requires xorriso nbdcopy nbdinfo nbdsh blkid
set -x

cd "$tmp"
mkdir -p d1/sub "d 2" out isotmp
echo hello >d1/hello.txt
head -c 100000 /dev/urandom >d1/sub/random.bin
echo two >"d 2/a-rather-long-file-name-for-iso9660.txt"

export SOURCE_DATE_EPOCH=1700000000
TMPDIR="$tmp/isotmp" start_server -U "$sock" iso d1 dir="d 2" \
    params='-r -J -V "Test vol"'
# The image is made before the server is ready, and already unlinked.
[ -z "$(find isotmp -mindepth 1 -name 'iso*')" ]
nbdinfo "$uri" | tee info.txt
grep -q 'is_read_only: true' info.txt
nbdcopy "$uri" ours.iso
[ "$(nbdinfo --size "$uri")" = "$(stat -c %s ours.iso)" ]
nbdsh_u -c '
try:
    h.pwrite(b"x", 0)
    assert False, "write to the ISO succeeded"
except nbd.Error:
    pass
'
stop_server; rm -f "$sock"

blkid -p ours.iso | tee blkid.txt
grep -q 'TYPE="iso9660"' blkid.txt
grep -q 'LABEL="Test vol"' blkid.txt
xorriso -indev ours.iso -find / -type f 2>/dev/null | sort >list.txt
cat list.txt
diff list.txt - <<'LIST'
'/a-rather-long-file-name-for-iso9660.txt'
'/hello.txt'
'/sub/random.bin'
LIST
xorriso -osirrox on -indev ours.iso -extract / out 2>/dev/null
cmp out/hello.txt d1/hello.txt
cmp out/sub/random.bin d1/sub/random.bin
cmp out/a-rather-long-file-name-for-iso9660.txt \
    "d 2/a-rather-long-file-name-for-iso9660.txt"

# Failures: no directory, a missing one, a program that fails.
fails "$NBDX" -U - iso --run true
fails "$NBDX" -U - iso "$tmp/missing" --run true
fails "$NBDX" -U - iso d1 prog=false --run true 2>err.txt
grep -q 'exit code 1' err.txt

if command -v genisoimage >/dev/null; then
    "$NBDX" -U - iso d1 prog=genisoimage --run 'nbdcopy "$uri" geniso.iso'
    blkid -p geniso.iso | grep -q 'TYPE="iso9660"'
fi

if ! command -v nbdkit >/dev/null ||
    ! nbdkit iso --dump-plugin >/dev/null 2>&1; then
    echo "nbdkit's iso plugin is not installed: not compared"
    exit 0
fi
nbdkit -U - iso d1 dir="d 2" params='-r -J -V "Test vol"' \
    --run 'nbdcopy "$uri" theirs.iso'
cmp ours.iso theirs.iso
