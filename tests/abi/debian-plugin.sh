#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# debian-plugin.sh NAME: the ABI acceptance test.  Debian's compiled
# nbdkit-NAME-plugin.so (built against nbdkit's own headers) is loaded into
# nbdx BY PATH and served; a real client then checks its content or
# behaviour.  One meson test per NAME, so a failure names the plugin.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
name=${1:?usage: debian-plugin.sh NAME}
requires nbdsh nbdinfo nbdcopy python3

# Debian's plugin directory (multiarch); NBDKIT_DEB_PLUGINDIR overrides.
so=""
for d in ${NBDKIT_DEB_PLUGINDIR:-} /usr/lib/*/nbdkit/plugins /usr/lib64/nbdkit/plugins \
         /usr/lib/nbdkit/plugins; do
    if [ -f "$d/nbdkit-$name-plugin.so" ]; then
        so="$d/nbdkit-$name-plugin.so"
        break
    fi
done
if [ -z "$so" ]; then
    case "$name" in
    example*) echo "SKIP: nbdkit-$name-plugin.so absent (Debian package nbdkit-plugin-dev)" ;;
    *) echo "SKIP: nbdkit-$name-plugin.so absent (Debian package nbdkit)" ;;
    esac
    exit 77
fi
echo "plugin: $so"
set -x

# nbdx can introspect the foreign plugin.
"$NBDX" "$so" --dump-plugin >"$tmp/dump"
cat "$tmp/dump"
grep -qx "name=$name" "$tmp/dump" ||
    { echo "FAIL: --dump-plugin did not report name=$name" >&2; exit 1; }

# serve ARGS...: start nbdx with the plugin on a fresh socket; sets $uri.
n=0
serve() {
    n=$((n + 1))
    sock="$tmp/sock$n"
    uri="nbd+unix:///?socket=$sock"
    start_server -U "$sock" "$so" "$@"
}

# py CODE: run Python against the current export with h connected.
py() { nbdsh -u "$uri" -c "$1"; }

case "$name" in
memory)
    serve size=1M
    py '
assert h.get_size() == 1048576
h.pwrite(b"memory" * 1000, 12345)
assert h.pread(6000, 12345) == b"memory" * 1000
h.trim(65536, 0)
assert h.pread(65536, 0) == bytes(65536)
h.zero(4096, 12288, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(100, 12288) == bytes(100)
h.flush()
# can_cache says native without a .cache callback: a no-op, as in nbdkit.
assert h.can_cache()
h.pwrite(b"cached" * 100, 65536)
h.cache(1048576, 0)
assert h.pread(600, 65536) == b"cached" * 100
'
    ;;
file)
    random_file "$tmp/disk" 1024
    cp "$tmp/disk" "$tmp/orig"
    serve file="$tmp/disk"
    nbdcopy "$uri" "$tmp/out"
    same_files "$tmp/orig" "$tmp/out"
    py 'h.pwrite(b"written-through", 4096); h.flush()'
    expect_eq "bytes written to the file" "written-through" \
        "$(dd if="$tmp/disk" bs=1 skip=4096 count=15 status=none)"
    ;;
null)
    serve size=2M
    py '
assert h.get_size() == 2097152
h.pwrite(b"\xff" * 4096, 0)
assert h.pread(4096, 0) == bytes(4096), "null plugin kept data"
'
    ;;
zero)
    serve
    expect_eq "size" 0 "$(nbdinfo --size "$uri")"
    ;;
pattern)
    serve size=1M
    py '
import struct
assert h.get_size() == 1048576
for off in (0, 8, 4096, 1048576 - 8, 777 * 8):
    (v,) = struct.unpack(">Q", h.pread(8, off))
    assert v == off, (off, v)
# Unaligned: bytes 4..12 straddle two words.
assert h.pread(8, 4) == struct.pack(">Q", 0)[4:] + struct.pack(">Q", 8)[:4]
'
    ;;
data)
    serve data="1 2 3"
    expect_eq "size" 3 "$(nbdinfo --size "$uri")"
    expect_eq "content" "010203" "$(nbdcopy "$uri" - | od -An -tx1 | tr -d ' \n')"
    stop_server
    serve data="0x41 @8 0x42*3" size=16
    expect_eq "content with offset and repeat" \
        "41000000000000004242420000000000" \
        "$(nbdcopy "$uri" - | od -An -tx1 | tr -d ' \n')"
    ;;
random)
    serve size=1M seed=42
    nbdcopy "$uri" "$tmp/a"
    py '
b = h.pread(4096, 8192)
h.pwrite(b, 8192)            # the same bytes: accepted
try:
    h.pwrite(bytes(4096), 8192)
    assert b == bytes(4096), "a mismatching write was accepted"
except nbd.Error as e:
    print("expected:", e)
'
    stop_server
    serve size=1M seed=42
    nbdcopy "$uri" "$tmp/b"
    stop_server
    serve size=1M seed=43
    nbdcopy "$uri" "$tmp/c"
    same_files "$tmp/a" "$tmp/b"
    fails cmp -s "$tmp/a" "$tmp/c"
    # Random, not blank: at least 200 distinct byte values in 1M.
    python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
assert len(set(d)) > 200, len(set(d))
' "$tmp/a"
    ;;
full)
    serve size=1M
    py '
assert h.get_size() == 1048576
assert h.pread(4096, 0) == bytes(4096)
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "write to a full disk succeeded"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e
'
    ;;
sparse-random)
    export tmp
    serve size=1G seed=1
    nbdinfo --map --json "$uri" >"$tmp/map1"
    py '
import json, os
m = json.load(open(os.environ["tmp"] + "/map1"))
data = [e for e in m if e["type"] & 1 == 0]
holes = [e for e in m if e["type"] & 1]
assert data and holes, "expected both data and holes"
e = data[0]
buf = h.pread(min(e["length"], 65536), e["offset"])
assert buf != bytes(len(buf)), "data extent reads as zeroes"
open(os.environ["tmp"] + "/first", "wb").write(buf)
hole = holes[0]
assert h.pread(4096, hole["offset"]) == bytes(4096)
'
    stop_server
    serve size=1G seed=1
    nbdinfo --map --json "$uri" >"$tmp/map2"
    cmp "$tmp/map1" "$tmp/map2"
    ;;
split)
    random_file "$tmp/p1" 512
    random_file "$tmp/p2" 1536
    cat "$tmp/p1" "$tmp/p2" >"$tmp/both"
    serve file="$tmp/p1" file="$tmp/p2"
    expect_eq "size" $((2048 * 1024)) "$(nbdinfo --size "$uri")"
    nbdcopy "$uri" "$tmp/out"
    same_files "$tmp/both" "$tmp/out"
    ;;
sh|eval)
    random_file "$tmp/backing" 64
    export backing="$tmp/backing"
    cat >"$tmp/plugin.sh" <<'SH'
#!/bin/bash
# get_size/pread/pwrite over the file named by $backing.
case "$1" in
get_size) stat -c %s "$backing" ;;
pread) dd if="$backing" skip="$4" count="$3" iflag=skip_bytes,count_bytes status=none ;;
pwrite) dd of="$backing" seek="$4" oflag=seek_bytes conv=notrunc status=none ;;
can_write) exit 0 ;;
*) exit 2 ;;
esac
SH
    chmod +x "$tmp/plugin.sh"
    cp "$tmp/backing" "$tmp/orig"
    if [ "$name" = sh ]; then
        serve "$tmp/plugin.sh"
    else
        serve get_size="\"$tmp/plugin.sh\" get_size" \
            pread="\"$tmp/plugin.sh\" pread \"\$2\" \"\$3\" \"\$4\"" \
            pwrite="\"$tmp/plugin.sh\" pwrite \"\$2\" \"\$3\" \"\$4\"" \
            can_write="exit 0"
    fi
    expect_eq "size" 65536 "$(nbdinfo --size "$uri")"
    nbdcopy "$uri" "$tmp/out"
    same_files "$tmp/orig" "$tmp/out"
    py 'h.pwrite(b"via-script", 1000); assert h.pread(10, 1000) == b"via-script"'
    expect_eq "bytes written by the script" "via-script" \
        "$(dd if="$tmp/backing" bs=1 skip=1000 count=10 status=none)"
    ;;
info)
    serve
    uri="nbd+unix:///hello-abi?socket=$sock"
    py 'assert h.get_size() == 9; assert h.pread(9, 0) == b"hello-abi"'
    stop_server
    serve mode=address
    py 'assert h.pread(h.get_size(), 0) == b"unix", h.pread(h.get_size(), 0)'
    ;;
partitioning)
    random_file "$tmp/p1" 1024
    random_file "$tmp/p2" 2048
    for type in mbr gpt; do
        serve "$tmp/p1" "$tmp/p2" partition-type="$type"
        nbdcopy "$uri" "$tmp/disk.$type"
        stop_server
        python3 - "$tmp/disk.$type" "$type" "$tmp/p1" "$tmp/p2" <<'PY'
import struct, sys
disk = open(sys.argv[1], "rb").read()
kind = sys.argv[2]
parts = [open(p, "rb").read() for p in sys.argv[3:]]
assert disk[510:512] == b"\x55\xaa", "no boot signature"
if kind == "mbr":
    ents = []
    for i in range(4):
        e = disk[446 + 16 * i: 462 + 16 * i]
        if e[4]:
            lba, n = struct.unpack("<II", e[8:16])
            ents.append((e[4], lba, n))
    assert len(ents) == 2, ents
    assert all(t == 0x83 for t, _, _ in ents), ents
else:
    assert disk[446 + 4] == 0xee, "no protective MBR"
    assert disk[512:520] == b"EFI PART", disk[512:520]
    lba, n_ents, esize = struct.unpack("<QII", disk[512 + 72:512 + 88])
    ents = []
    for i in range(n_ents):
        e = disk[lba * 512 + i * esize: lba * 512 + (i + 1) * esize]
        first, last = struct.unpack("<QQ", e[32:48])
        if first:
            ents.append((None, first, last - first + 1))
    assert len(ents) == 2, ents
    # Backup header in the last sector.
    assert disk[-512:-504] == b"EFI PART", "no backup GPT header"
for (_, lba, n), p in zip(ents, parts):
    assert n * 512 == len(p), (n, len(p))
    assert disk[lba * 512: lba * 512 + len(p)] == p, "partition content"
print(kind, ents, len(disk))
PY
    done
    ;;
floppy)
    mkdir "$tmp/dir"
    echo "hello from a floppy" >"$tmp/dir/hello.txt"
    serve "$tmp/dir"
    nbdcopy "$uri" "$tmp/disk"
    python3 - "$tmp/disk" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[510:512] == b"\x55\xaa", "no MBR signature"
assert d[446 + 4] in (0x0b, 0x0c), "partition 1 is not FAT32: %#x" % d[450]
(start,) = struct.unpack("<I", d[454:458])
bs = d[start * 512: start * 512 + 512]
assert bs[82:90] == b"FAT32   ", bs[82:90]
assert bs[510:512] == b"\x55\xaa", "no FAT boot sector signature"
assert d.find(b"HELLO   TXT") > 0, "no directory entry"
assert d.find(b"hello from a floppy\n") > 0, "no file content"
PY
    ;;
linuxdisk)
    requires debugfs
    mkdir "$tmp/dir"
    echo "hello from linuxdisk" >"$tmp/dir/hello.txt"
    serve "$tmp/dir"
    nbdcopy "$uri" "$tmp/disk"
    # One GPT partition holding an ext2 filesystem with our file.
    python3 - "$tmp/disk" "$tmp/fs" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[512:520] == b"EFI PART"
(lba,) = struct.unpack("<Q", d[512 + 72:512 + 80])
first, last = struct.unpack("<QQ", d[lba * 512 + 32: lba * 512 + 48])
fs = d[first * 512:(last + 1) * 512]
assert fs[1080:1082] == b"\x53\xef", "no ext2 magic"
open(sys.argv[2], "wb").write(fs)
PY
    expect_eq "file in the filesystem" "hello from linuxdisk" \
        "$(debugfs -R 'cat /hello.txt' "$tmp/fs" 2>/dev/null)"
    ;;
iso)
    command -v xorriso >/dev/null || command -v genisoimage >/dev/null ||
        command -v mkisofs >/dev/null ||
        { echo "SKIP: iso needs xorriso, genisoimage or mkisofs"; exit 77; }
    mkdir "$tmp/dir"
    echo "hello from an iso" >"$tmp/dir/hello.txt"
    serve "$tmp/dir"
    py '
assert h.pread(5, 32769) == b"CD001", "no ISO 9660 volume descriptor"
'
    nbdcopy "$uri" "$tmp/disk"
    grep -q "hello from an iso" "$tmp/disk"
    ;;
tmpdisk)
    requires mke2fs
    serve size=16M
    expect_eq "size" 16777216 "$(nbdinfo --size "$uri")"
    py '
assert h.pread(2, 1080) == b"\x53\xef", "no ext4 magic"
h.pwrite(b"scratch", 8 * 1048576)
'
    # A new connection gets a fresh disk.
    py 'assert h.pread(7, 8 * 1048576) != b"scratch"'
    ;;
ondemand)
    requires mke2fs
    mkdir "$tmp/exports"
    serve dir="$tmp/exports" size=16M
    uri="nbd+unix:///vol1?socket=$sock"
    py '
assert h.get_size() == 16777216
assert h.pread(2, 1080) == b"\x53\xef", "no ext4 magic"
h.pwrite(b"persist", 8 * 1048576)
h.flush()
'
    [ -f "$tmp/exports/vol1" ] || { echo "FAIL: vol1 not created" >&2; exit 1; }
    expect_eq "data in the export file" "persist" \
        "$(dd if="$tmp/exports/vol1" bs=1 skip=$((8 * 1048576)) count=7 status=none)"
    ;;
cc)
    requires cc
    cat >"$tmp/p.c" <<'C'
#define NBDKIT_API_VERSION 2
#include <string.h>
#include <nbdkit-plugin.h>
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
static void *cc_open(int ro) { return NBDKIT_HANDLE_NOT_NEEDED; }
static int64_t cc_get_size(void *h) { return 8192; }
static int cc_pread(void *h, void *buf, uint32_t n, uint64_t off, uint32_t f)
{ memset(buf, 'c', n); return 0; }
static struct nbdkit_plugin plugin = {
    .name = "ccabi", .open = cc_open, .get_size = cc_get_size, .pread = cc_pread,
};
NBDKIT_REGISTER_PLUGIN(plugin)
C
    # Compiled at load time by Debian's cc plugin, against OUR headers.
    serve "$tmp/p.c" EXTRA_CFLAGS="-I$SRCDIR/include -I$BUILDDIR"
    py 'assert h.get_size() == 8192; assert h.pread(8192, 0) == b"c" * 8192'
    ;;
nbd)
    # nbdx -> Debian's nbd plugin -> a second nbdx with memory.
    start_server -U "$tmp/inner" memory 1M
    serve socket="$tmp/inner"
    py 'h.pwrite(b"through two servers", 5000); h.flush()'
    nbdsh -u "nbd+unix:///?socket=$tmp/inner" \
        -c 'assert h.pread(19, 5000) == b"through two servers"'
    ;;
example1)
    serve
    expect_eq "size" 104857600 "$(nbdinfo --size "$uri")"
    py 'assert h.pread(2, 510) == b"\x55\xaa"'
    ;;
example2)
    random_file "$tmp/f" 256
    serve file="$tmp/f"
    nbdcopy "$uri" "$tmp/out"
    same_files "$tmp/f" "$tmp/out"
    ;;
example3)
    serve size=1M
    py '
assert h.get_size() == 1048576
h.pwrite(b"ex3" * 100, 100)
assert h.pread(300, 100) == b"ex3" * 100
'
    ;;
*)
    echo "debian-plugin.sh: no check written for $name" >&2
    exit 1
    ;;
esac
echo "PASS: $name"
