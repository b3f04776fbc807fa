#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vmdk-bad.sh: damaged disks are refused at start with a message naming
# the file and the problem, never a crash: a bad magic, a truncated file,
# a grain table or grain past the end of the file, a capacity that does
# not fit, a missing or unsupported extent, a huge descriptor.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/vmdk/vmdk-lib.sh"
set -x

make_raw "$tmp/raw" 4
vmdk_of "$tmp/raw" monolithicSparse "$tmp/good.vmdk"
vmdk_of "$tmp/raw" monolithicFlat "$tmp/flat.vmdk"

# refused FILE MESSAGE: the server does not start, exits 1 (not a
# signal), and says MESSAGE.
refused() {
    local rc=0
    "$NBDX" -U - "$vmdk" "$1" --run true 2>"$tmp/err" || rc=$?
    cat "$tmp/err"
    [ $rc -eq 1 ]
    grep -F -- "$2" "$tmp/err"
}

# patch FILE OFFSET BYTES...: overwrite bytes (python struct-free hex).
patch() {
    local f=$1 at=$2
    shift 2
    printf "$(printf '\\x%s' "$@")" |
        dd of="$f" bs=1 seek="$at" conv=notrunc status=none
}
le32() { # the 4 little-endian bytes of $1
    printf '%02x %02x %02x %02x' $(($1 & 255)) $((($1 >> 8) & 255)) \
        $((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}
# The first entry of the primary grain directory, and of its first table.
gd=$(od -An -tu8 -j56 -N8 "$tmp/good.vmdk" | tr -d ' ')
gt=$(od -An -tu4 -j$((gd * 512)) -N4 "$tmp/good.vmdk" | tr -d ' ')

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
patch "$tmp/b.vmdk" 0 00
refused "$tmp/b.vmdk" "not a VMDK disk"

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
truncate -s 100000 "$tmp/b.vmdk"
refused "$tmp/b.vmdk" "b.vmdk: grain"

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
patch "$tmp/b.vmdk" $((gd * 512)) $(le32 0x7fffffff)
refused "$tmp/b.vmdk" "b.vmdk: grain table 0 lies past the end of the file"

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
rgd=$(od -An -tu8 -j48 -N8 "$tmp/good.vmdk" | tr -d ' ')
patch "$tmp/b.vmdk" $((rgd * 512)) $(le32 0x7fffffff)
refused "$tmp/b.vmdk" "b.vmdk: grain table 0 lies past the end of the file" # redundant

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
# An allocated grain of the first table pointed far away.
for i in $(seq 0 511); do
    e=$(od -An -tu4 -j$((gt * 512 + i * 4)) -N4 "$tmp/b.vmdk" | tr -d ' ')
    [ "$e" -gt 1 ] && break
done
patch "$tmp/b.vmdk" $((gt * 512 + i * 4)) $(le32 0x7ffffff0)
refused "$tmp/b.vmdk" "lies past the end of the file"

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
patch "$tmp/b.vmdk" 12 ff ff ff ff ff ff ff 7f # capacity
refused "$tmp/b.vmdk" "does not fit the file"

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
patch "$tmp/b.vmdk" 20 03 00 00 00 00 00 00 00 # grain: not a power of 2
refused "$tmp/b.vmdk" "bad grain size 3 sectors"

cp "$tmp/good.vmdk" "$tmp/b.vmdk"
patch "$tmp/b.vmdk" 56 00 00 00 00 00 00 00 01 # directory far away
refused "$tmp/b.vmdk" "lies past the end of the file"

# A VMware streamOptimized disk whose footer is gone.
/usr/bin/python3 "$ops" stream "$tmp/raw" "$tmp/so.vmdk"
head -c -1024 "$tmp/so.vmdk" >"$tmp/b.vmdk"
refused "$tmp/b.vmdk" "without its footer"

# A compressed grain that does not inflate is an EIO for that read only:
# damage the first one (after the header and descriptor).
cp "$tmp/so.vmdk" "$tmp/c.vmdk"
first=$(od -An -tu8 -j64 -N8 "$tmp/c.vmdk" | tr -d ' ') # overhead
lba=$(od -An -tu8 -j$((first * 512)) -N8 "$tmp/c.vmdk" | tr -d ' ')
patch "$tmp/c.vmdk" $((first * 512 + 12)) 00 11 22 33 44 55 66 77
serve -r "$tmp/c.vmdk"
nbdsh_u -c "
try:
    h.pread(512, $lba * 512)
    raise SystemExit('the read succeeded')
except nbd.Error as ex:
    assert ex.errno == 'EIO', ex.errno
h.pread(512, ($lba + 128) * 512)
"
stop_server
grep 'does not inflate' "$tmp/server.log"

# Descriptor files: a missing extent, an unsupported type, no extents,
# a file too large to be a descriptor.
sed 's/"flat-flat.vmdk"/"gone-flat.vmdk"/' "$tmp/flat.vmdk" >"$tmp/b.vmdk"
refused "$tmp/b.vmdk" "open: $tmp/gone-flat.vmdk: No such file or directory"
sed 's/ FLAT / VMFSSPARSE /' "$tmp/flat.vmdk" >"$tmp/b.vmdk"
refused "$tmp/b.vmdk" "extent type VMFSSPARSE is not supported"
grep -v '^RW' "$tmp/flat.vmdk" >"$tmp/b.vmdk"
refused "$tmp/b.vmdk" "no extents in the descriptor"
refused "$tmp/raw" "not a VMDK disk"
refused "$tmp/missing.vmdk" "missing.vmdk: No such file or directory"
