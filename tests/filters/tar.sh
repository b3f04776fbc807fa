#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tar.sh: archives made by GNU tar in gnu, posix and ustar formats (a
# small file, a 1 MiB file, long names that need a GNU 'L' record, a pax
# path= or the ustar prefix, a 24 MiB mostly-zero file), and 9 GiB
# entries (a GNU base-256 size, a pax size=) built by Python's tarfile in
# a sparse file: each entry reads back as the file (nbdcopy + cmp, random
# reads), writes land in the entry only (tar -xO, tar -t), as nbdkit's
# filter; a missing entry, a directory, a GNU sparse member, tar-limit,
# and truncated or corrupt archives fail the connection with a message
# saying what and where; 300 mutated archives never crash the server.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires tar cmp
set -x
fileso="${memory%/*}/nbdkit-file-plugin.so"

# The files, in $tmp/src.
mkdir -p "$tmp/src"
cd "$tmp/src"
printf 'tiny' >a
head -c $((1 << 20)) /dev/urandom >disk.img
long=$(printf 'd%.0s' {1..60})/$(printf 'x%.0s' {1..150}).img # no split
split=$(printf 'p%.0s' {1..120})/$(printf 's%.0s' {1..90}).img # prefix/name
mkdir -p "${long%/*}" "${split%/*}" dir
head -c 5000 /dev/urandom >"$long"
head -c 7000 /dev/urandom >"$split"
truncate -s $((24 << 20)) zeros.img
printf 'start' | dd of=zeros.img conv=notrunc status=none
printf 'middle' | dd of=zeros.img bs=1 seek=$((12 << 20)) conv=notrunc status=none
printf 'end' | dd of=zeros.img bs=1 seek=$(((24 << 20) - 3)) conv=notrunc status=none
tar --format=gnu -cf "$tmp/gnu.tar" a disk.img "$long" "$split" zeros.img dir
tar --format=posix -cf "$tmp/posix.tar" a disk.img "$long" "$split" dir
tar --format=ustar -cf "$tmp/ustar.tar" a disk.img "$split" dir
# The long name really is a GNU 'L' record / a pax path=.
grep -a -q '././@LongLink' "$tmp/gnu.tar"
grep -a -q "path=$long" "$tmp/posix.tar"
cd "$tmp"

# check TAR ENTRY: the export is the file's bytes.
check() {
    start_server -r -U "$sock" file "$1" --filter=tar tar-entry="$2"
    reads_match "src/$2"
    stop_server
}
for e in a disk.img "$long" "$split" zeros.img; do check gnu.tar "$e"; done
for e in a disk.img "$long" "$split"; do check posix.tar "$e"; done
for e in a disk.img "$split"; do check ustar.tar "$e"; done
start_server -r -U "$sock" file gnu.tar --filter=tar tar-entry=zeros.img
nbdsh_u -c '
assert h.pread(5, 0) == b"start"
assert h.pread(6, 12 << 20) == b"middle"
assert h.pread(3, h.get_size() - 3) == b"end"
assert h.pread(4096, 1 << 20) == bytes(4096)
'
stop_server

# Writes go to the entry, and nowhere else.
for f in gnu posix ustar; do
    cp $f.tar w.tar
    start_server -U "$sock" file w.tar --filter=tar tar-entry=disk.img
    nbdsh_u -c '
size = h.get_size()
assert size == 1 << 20
h.pwrite(b"A" * 4096, 0)
h.pwrite(b"B" * 1000, 500000)
h.pwrite(b"C" * 512, size - 512)
h.zero(4096, 8192)
try:
    h.pwrite(b"D", size)
    raise SystemExit("a write past the entry succeeded")
except nbd.Error:
    pass
'
    stop_server
    python3 - <<'PY'
d = bytearray(open("src/disk.img", "rb").read())
d[0:4096] = b"A" * 4096
d[500000:501000] = b"B" * 1000
d[-512:] = b"C" * 512
d[8192:12288] = bytes(4096)
open("expect", "wb").write(d)
PY
    tar -xOf w.tar disk.img | cmp - expect
    tar -xOf w.tar a | cmp - src/a
    [ "$(tar -tf w.tar)" = "$(tar -tf $f.tar)" ]
    [ "$(stat -c %s w.tar)" = "$(stat -c %s $f.tar)" ]
done

# Same export as nbdkit's filter, read-only and read-write.
same_as_nbdkit -r "$fileso" file="$tmp/posix.tar" --filter=tar \
    tar-entry="$long"
cp gnu.tar w.tar
same_as_nbdkit "$fileso" file="$tmp/w.tar" --filter=tar tar-entry=disk.img
cp ustar.tar w.tar
same_as_nbdkit "$fileso" file="$tmp/w.tar" --filter=tar tar-entry=a

# 9 GiB entries in sparse archives: a GNU base-256 size, a pax size=.
python3 - <<'PY'
import tarfile
for fmt, name in ((tarfile.GNU_FORMAT, "big-gnu.tar"),
                  (tarfile.PAX_FORMAT, "big-pax.tar")):
    ti = tarfile.TarInfo("big.img")
    ti.size = 9 << 30
    hdr = ti.tobuf(fmt)
    with open(name, "wb") as f:
        f.write(hdr)
        f.seek(len(hdr) + 4096)
        f.write(b"HEAD")
        f.seek(len(hdr) + ti.size - 4)
        f.write(b"TAIL")
        f.write(bytes(1024))
PY
grep -a -q 'size=9663676416' big-pax.tar
for t in big-gnu.tar big-pax.tar; do
    tar -tvf $t | grep -q ' 9663676416 .*big.img$' # GNU tar agrees
    start_server -r -U "$sock" file $t --filter=tar tar-entry=big.img
    nbdsh_u -c '
assert h.get_size() == 9 << 30
assert h.pread(4, 4096) == b"HEAD"
assert h.pread(4, h.get_size() - 4) == b"TAIL"
assert h.pread(512, 5 << 30) == bytes(512)
'
    stop_server
done

# tar-limit: the entry's header must lie in the first SIZE bytes.
start_server -r -U "$sock" file gnu.tar --filter=tar tar-entry=disk.img \
    tar-limit=4K
nbdsh_u -c 'assert h.get_size() == 1 << 20'
stop_server

# refused TAR MESSAGE [ARGS]: the client cannot connect; the log says why.
refused() {
    : >server.log # only this server's messages
    start_server -r -U "$sock" file "$1" --filter=tar "${@:3}"
    fails nbdinfo "$uri"
    stop_server
    grep -F "$2" server.log
}
refused gnu.tar "tar entry nope not found in the tarball" tar-entry=nope
refused gnu.tar "tar entry zeros.img not found in the first 2048 bytes of \
the tarball (tar-limit)" tar-entry=zeros.img tar-limit=2K
refused gnu.tar "tar entry dir/ (header at " tar-entry=dir/
refused gnu.tar "is not a regular file (type 0x35)" tar-entry=dir/
head -c 1M /dev/zero >blank.tar
refused blank.tar "tar entry a not found in the tarball" tar-entry=a
head -c 1M /dev/urandom >random.tar
refused random.tar "corrupt tarball: bad checksum in the header at 0" \
    tar-entry=a
# Truncated: inside the entry, inside a member before it, at a header.
off=$(python3 -c 'print(open("gnu.tar","rb").read().find(b"zeros.img\0"))')
head -c $((off + 512 + 1000)) gnu.tar >cut1.tar
refused cut1.tar "truncated tarball: tar entry zeros.img (25165824 bytes \
from $((off + 512))) runs past the end of the tarball ($((off + 1512)) bytes)" \
    tar-entry=zeros.img
head -c 600000 gnu.tar >cut2.tar
refused cut2.tar "truncated tarball: the member at 1024 runs past the end" \
    tar-entry=zeros.img
head -c $((off)) gnu.tar >cut3.tar
refused cut3.tar "tar entry zeros.img not found: the tarball ends at $off \
without an end-of-archive block (truncated?)" tar-entry=zeros.img
# Corrupt: a flipped byte in a header; a bad size field, negative
# base-256 size, malformed pax record, huge 'L' record, each with a
# correct checksum; GNU sparse members.
python3 - <<'PY'
d = bytearray(open("gnu.tar", "rb").read())
off = d.find(b"disk.img\0")
def fix(h, at):
    h[at + 148:at + 156] = b" " * 8
    h[at + 148:at + 156] = b"%06o\0 " % sum(h[at:at + 512])
c = bytearray(d); c[off + 3] ^= 1; open("flip.tar", "wb").write(c)
c = bytearray(d); c[off + 124:off + 136] = b"0000000009x\0"; fix(c, off)
open("badsize.tar", "wb").write(c)
c = bytearray(d); c[off + 124:off + 136] = b"\xff" * 12; fix(c, off)
open("negsize.tar", "wb").write(c)
import tarfile, io
def pax(records, name):
    ti = tarfile.TarInfo("x")
    ti.type = tarfile.XHDTYPE
    ti.size = len(records)
    h = bytearray(ti.tobuf(tarfile.USTAR_FORMAT))
    body = records + bytes(-len(records) % 512)
    ti = tarfile.TarInfo("e.img"); ti.size = 0
    open(name, "wb").write(h + body + ti.tobuf(tarfile.USTAR_FORMAT) + bytes(1024))
pax(b"30 path=e.img\n", "pax-len.tar")
pax(b"14 pathe.img\n\n", "pax-noeq.tar")
pax(b"16 size=12x4567\n", "pax-size.tar")
ti = tarfile.TarInfo("././@LongLink"); ti.type = b"L"; ti.size = 2 << 20
open("huge-l.tar", "wb").write(ti.tobuf(tarfile.GNU_FORMAT) + bytes(2 << 20) + bytes(1024))
PY
doff=$(python3 -c 'print(open("gnu.tar","rb").read().find(b"disk.img\0"))')
[ "$doff" = 1024 ]
refused flip.tar "corrupt tarball: bad checksum in the header at $doff" \
    tar-entry=disk.img
refused badsize.tar "corrupt tarball: bad size field in the header at $doff" \
    tar-entry=disk.img
refused negsize.tar "corrupt tarball: bad size field in the header at $doff" \
    tar-entry=disk.img
refused pax-len.tar "pax header at 0: malformed record at byte 0" tar-entry=e.img
refused pax-noeq.tar "pax header at 0: record at byte 0 has no key=value" \
    tar-entry=e.img
refused pax-size.tar "pax header at 0: bad size=12x4567" tar-entry=e.img
refused huge-l.tar "tar header at 0: a 'L' record of 2097152 bytes is larger \
than 1048576 bytes" tar-entry=e.img
(cd src && tar --format=gnu --sparse -cf ../sparse-gnu.tar zeros.img &&
 tar --format=posix --sparse -cf ../sparse-pax.tar zeros.img)
refused sparse-gnu.tar "tar entry zeros.img is a GNU sparse file" \
    tar-entry=zeros.img
refused sparse-pax.tar "tar entry zeros.img is a GNU sparse file" \
    tar-entry=zeros.img

# Parameters.
fails "$NBDX" -U - --filter=tar memory 1M --run true 2>err
grep -F "nbdx: tar: you must supply the tar-entry parameter" err
fails "$NBDX" -U - --filter=tar memory 1M tar-entry=a tar-limit=x \
    --run true 2>err
grep -F "nbdx: tar: " err
"$NBDX" -U - -r file gnu.tar --filter=tar tar-entry=a tar=/no/such/tar \
    --run 'nbdcopy "$uri" out'
cmp out src/a

# Hostile archives: one server, the archive mutated before each
# connection; connections succeed or fail, the server stays up.
cp gnu.tar m.tar
start_server -r -U "$sock" file m.tar --filter=tar tar-entry="$long"
nbdsh -c '
import random
orig = open("gnu.tar", "rb").read()[:64 << 10]
rng = random.Random(11)
ok = bad = 0
for i in range(300):
    d = bytearray(orig)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(0, 4096) if rng.random() < 0.8 else rng.randrange(len(d))
        d[at] = rng.choice([0, 0x80, 0xff, ord("0"), ord("7"), ord(" "),
                            rng.randrange(256)])
    with open("m.tar", "r+b") as f:
        f.write(d)
    h = nbd.NBD()
    try:
        h.connect_unix("'"$sock"'")
        h.pread(min(512, h.get_size()), 0) if h.get_size() else None
        ok += 1
    except nbd.Error:
        bad += 1
    del h
print(ok, "connected,", bad, "refused")
assert ok > 0 and bad > 0
'
kill -0 "$pid"
stop_server
