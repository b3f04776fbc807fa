#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ext2.sh: an ext4 image made by mke2fs -d, served by the file plugin
# under the ext2 filter: a file inside it reads back whole (nbdcopy,
# random reads), also under the offset filter; writes, zeroes, FUA
# writes and flushes land in that file only (debugfs reads them back,
# the other file is untouched, e2fsck -fn is clean), also in the holes
# of a sparse file, whose holes and unwritten blocks block status
# reports (up to 65536 blocks a reply); a second client waits until
# the first has gone; -r leaves the image unchanged byte for byte;
# ext2file=exportname serves two files by the client's export name and
# refuses "" and lists nothing; a missing path, a directory, a symbolic
# link, a file that is not a filesystem and a filesystem needing journal
# recovery (for writing) are refused with a message naming the cause;
# bad parameters are refused by name; flags and a request script match
# nbdkit's filter.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires mke2fs debugfs e2fsck nbdcopy nbdinfo
[ -f "$BUILDDIR/filters/ext2/nbdkit-ext2-filter.so" ] ||
    { echo "SKIP: the ext2 filter was not built (no libext2fs)"; exit 77; }
set -x
fileso="${memory%/*}/nbdkit-file-plugin.so"

mkdir -p "$tmp/root/dir/sub"
head -c 3000000 /dev/urandom >"$tmp/root/dir/file" # not whole blocks
head -c 200000 /dev/urandom >"$tmp/root/dir/other"
truncate -s 4M "$tmp/root/dir/sparse"
ln -s file "$tmp/root/dir/link"
mke2fs -q -t ext4 -b 4096 -d "$tmp/root" "$tmp/fs.img" 32M
cp "$tmp/fs.img" "$tmp/fs.orig"

# dfs_cat PATH OUT: the file at PATH inside fs.img, as debugfs reads it.
dfs_cat() { debugfs -R "cat $1" "$tmp/fs.img" >"$2" 2>/dev/null; }
fsck_clean() { e2fsck -fn "$tmp/fs.img"; }

# Reads.
start_server -U "$sock" --filter=ext2 file "$tmp/fs.img" ext2file=/dir/file
reads_match "$tmp/root/dir/file"
[ "$(nbdinfo --can multi-conn "$uri"; echo $?)" != 0 ]
stop_server
cmp "$tmp/fs.img" "$tmp/fs.orig" # reading changed nothing

# Writes, zeroes, FUA and flush; the same changes applied to a copy.
cp "$tmp/root/dir/file" "$tmp/expect"
start_server -U "$sock" --filter=ext2 file "$tmp/fs.img" ext2file=/dir/file
nbdsh_u -c '
import random
exp = bytearray(open("'"$tmp/expect"'", "rb").read())
assert h.get_size() == len(exp)
rng = random.Random(1)
def put(off, data, flags=0):
    h.pwrite(data, off, flags)
    exp[off:off + len(data)] = data
for off, n in ((0, 1), (4095, 2), (8192, 65536), (len(exp) - 1, 1),
               (1000000, 300000), (len(exp) - 5000, 5000)):
    put(off, rng.randbytes(n))
put(123456, b"fua!" * 1000, nbd.CMD_FLAG_FUA)
h.zero(70000, 2000000)
exp[2000000:2070000] = bytes(70000)
h.flush()
try:
    h.pwrite(b"x" * 10, len(exp) - 5)
    raise SystemExit("a write past the end succeeded")
except nbd.Error:
    pass
assert h.pread(len(exp), 0) == exp
open("'"$tmp/expect"'", "wb").write(exp)
'
stop_server
dfs_cat /dir/file "$tmp/out"
cmp "$tmp/expect" "$tmp/out"
dfs_cat /dir/other "$tmp/out"
cmp "$tmp/root/dir/other" "$tmp/out"
fsck_clean

# Writes into the holes of a sparse file allocate blocks; block status
# tells holes, unwritten (fallocated) blocks and data apart, by blocks
# of 4 KiB.
debugfs -w -R "fallocate /dir/sparse 300 309" "$tmp/fs.img"
start_server -U "$sock" --filter=ext2 file "$tmp/fs.img" ext2file=/dir/sparse
nbdsh --base-allocation -u "$uri" -c '
def status(n, off, flags=0):
    e = []
    h.block_status(n, off, lambda m, o, en, err: e.extend(en), flags)
    return e
M = 1 << 20
assert status(4 * M, 0) == [300 * 4096, 3, 40960, 2, 4 * M - 310 * 4096, 3]
assert status(4 * M, 0, nbd.CMD_FLAG_REQ_ONE) == [300 * 4096, 3]
assert status(100, 300 * 4096 + 50) == [100, 2]
'
nbdcopy "$tmp/root/dir/other" "$uri"
nbdsh --base-allocation -u "$uri" -c '
def status(n, off):
    e = []
    h.block_status(n, off, lambda m, o, en, err: e.extend(en))
    return e
M = 1 << 20
h.pwrite(b"end" * 100, 4 * M - 300)
assert status(4 * M, 0) == [49 * 4096, 0, 251 * 4096, 3, 40960, 2,
                            4 * M - 311 * 4096, 3, 4096, 0], status(4 * M, 0)
'
stop_server
dfs_cat /dir/sparse "$tmp/out"
cmp "$tmp/out" <({ cat "$tmp/root/dir/other"
    head -c $((4 * 1024 * 1024 - 300 - 200000)) /dev/zero
    printf 'end%.0s' $(seq 100); })
fsck_clean

# One connection at a time: a second client waits for the first to go.
start_server -U "$sock" --filter=ext2 file "$tmp/fs.img" ext2file=/dir/other
nbdsh -c '
import threading, time
h.connect_unix("'"$sock"'")
h.pwrite(b"first", 0)
def second():
    h2 = nbd.NBD()
    h2.connect_unix("'"$sock"'")
    assert h2.pread(5, 0) == b"first"
    h2.shutdown()
t = threading.Thread(target=second)
t.start()
time.sleep(1)
assert t.is_alive(), "a second connection was served at once"
h.shutdown()
t.join(20)
assert not t.is_alive(), "the second connection was never served"
'
stop_server
cp "$tmp/root/dir/other" "$tmp/expect2"
printf 'first' | dd of="$tmp/expect2" conv=notrunc status=none
dfs_cat /dir/other "$tmp/out"
cmp "$tmp/expect2" "$tmp/out"
fsck_clean

# One block status reply maps at most 65536 blocks (64 MiB of 1 KiB).
mkdir -p "$tmp/root2"
truncate -s 80M "$tmp/root2/big"
mke2fs -q -t ext4 -b 1024 -d "$tmp/root2" "$tmp/fs2.img" 100M
start_server -U "$sock" --filter=ext2 file "$tmp/fs2.img" ext2file=/big
nbdsh --base-allocation -u "$uri" -c '
e = []
h.block_status(80 << 20, 0, lambda m, o, en, err: e.extend(en))
assert e == [64 << 20, 3], e
e = []
h.block_status(10 << 20, 70 << 20, lambda m, o, en, err: e.extend(en))
assert e == [10 << 20, 3], e
'
stop_server

# Read-only: the image does not change at all.
cp "$tmp/fs.img" "$tmp/fs.before"
start_server -U "$sock" -r --filter=ext2 file "$tmp/fs.img" ext2file=/dir/file
read_only
nbdcopy "$uri" "$tmp/out"
cmp "$tmp/expect" "$tmp/out"
stop_server
cmp "$tmp/fs.img" "$tmp/fs.before"

# The filesystem 1 MiB into a bigger file, under the offset filter.
{ head -c 1M /dev/urandom; cat "$tmp/fs.orig"; } >"$tmp/big.img"
start_server -U "$sock" --filter=ext2 --filter=offset file "$tmp/big.img" \
    offset=1M ext2file=/dir/other
reads_match "$tmp/root/dir/other"
stop_server

# ext2file=exportname: the client names the file.
start_server -U "$sock" --filter=ext2 file "$tmp/fs.orig" ext2file=exportname
# The export names "dir/file" (from the root) and "/dir/other".
nbdcopy "nbd+unix:///dir/file?socket=$sock" "$tmp/out"
cmp "$tmp/root/dir/file" "$tmp/out"
nbdcopy "nbd+unix:////dir/other?socket=$sock" "$tmp/out"
cmp "$tmp/root/dir/other" "$tmp/out"
fails nbdinfo "nbd+unix:////dir/nope?socket=$sock"
fails nbdinfo "$uri"
nbdsh -c '
h.set_opt_mode(True)
h.connect_unix("'"$sock"'")
names = []
h.opt_list(lambda name, desc: names.append(name))
assert names == [], names
'
stop_server
grep -F 'ext2: /dir/nope: File not found by ext2_lookup' "$tmp/server.log"
grep -F 'ext2: the default export ("") is not permitted' "$tmp/server.log"

# refused PATH MESSAGE [ARGS]: the client cannot connect; the log says why.
refused() {
    : >"$tmp/server.log"
    start_server -U "$sock" "${@:3}" --filter=ext2 file "$tmp/fs.orig" \
        ext2file="$1"
    fails nbdinfo "$uri"
    stop_server
    grep -F "$2" "$tmp/server.log"
}
refused /dir/nope "ext2: /dir/nope: File not found by ext2_lookup"
refused /dir/sub "ext2: /dir/sub: not a regular file"
refused /dir/link "ext2: /dir/link: not a regular file"
refused /dir/file/x "ext2: /dir/file/x:"
head -c 1M /dev/zero >"$tmp/notfs"
: >"$tmp/server.log"
start_server -U "$sock" --filter=ext2 file "$tmp/notfs" ext2file=/dir/file
fails nbdinfo "$uri"
stop_server
grep -F "ext2: cannot open the filesystem: Bad magic number in super-block" \
    "$tmp/server.log"

# A filesystem needing journal recovery: refused for writing only.
cp "$tmp/fs.orig" "$tmp/fs.img"
debugfs -w -R "feature needs_recovery" "$tmp/fs.img"
: >"$tmp/server.log"
start_server -U "$sock" --filter=ext2 file "$tmp/fs.img" ext2file=/dir/other
fails nbdinfo "$uri"
stop_server
grep -F "ext2: the filesystem needs journal recovery" "$tmp/server.log"
start_server -U "$sock" -r --filter=ext2 file "$tmp/fs.img" ext2file=/dir/other
reads_match "$tmp/root/dir/other"
stop_server

# Bad parameters.
for bad in ext2file=dir/file ext2file= ""; do
    "$NBDX" -U - --filter=ext2 "$memory" size=1M $bad --run true \
        2>"$tmp/err" && exit 1
    grep -F "ext2file" "$tmp/err"
done

# As nbdkit's filter, on an image without holes (nbdkit passes block
# status through to the plugin at the image's offsets, so only an image
# all data reads the same).
cp --sparse=never "$tmp/fs.orig" "$tmp/fs.full"
same_as_nbdkit --filter=ext2 "$fileso" file="$tmp/fs.full" ext2file=/dir/file
e2fsck -fn "$tmp/fs.full"
