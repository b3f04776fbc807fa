#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# luks.sh: LUKSv1 images made by qemu-img in five cipher/mode/IV/hash
# combinations, filled with random data by qemu-img, read back through
# the luks filter (nbdcopy and unaligned random reads); then unaligned,
# straddling, aligned and zeroing writes through the filter read back
# by qemu-img and (no ESSIV) by nbdkit's luks filter.  nbdkit's filter
# writes and this one reads; the same request script gives the same
# results under both servers.  passphrase=+FILE and -FD work; a wrong
# passphrase, a file that is not LUKS, a bad version, state, hash or
# cipher, a key slot or payload outside the disk are refused when the
# client connects, saying why; a missing or repeated passphrase is
# refused at start.  With cryptsetup (if it can format a file here):
# its default and aes-cbc-essiv:sha256 images written through the
# filter and read by qemu-img, and a second key slot opened by its own
# passphrase.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
requires qemu-img nbdcopy
[ -f "$BUILDDIR/filters/luks/nbdkit-luks-filter.so" ] ||
    { echo "SKIP: the luks filter was not built (no GnuTLS)"; exit 77; }
set -x
fileso="${memory%/*}/nbdkit-file-plugin.so"
sec="--object secret,id=sec0,data=PASS"

# qemu_luks IMG: the image options qemu-img needs to open IMG.
qemu_luks() { echo "driver=luks,file.filename=$1,key-secret=sec0"; }
# to_raw IMG OUT: the plaintext of IMG according to qemu-img.
to_raw() { qemu-img convert $sec --image-opts "$(qemu_luks "$1")" -O raw "$2"; }
# luks_create IMG OPTS: a 4M LUKS image by qemu-img.  qemu times PBKDF2
# to pick its iteration count and gives up with "Unable to get accurate
# CPU usage" when a loaded machine spoils the timing: only that is
# tried again, up to 5 times; any other failure fails the test.
luks_create() {
    local i
    for i in 1 2 3 4 5; do
        qemu-img create -q -f luks $sec \
            -o key-secret=sec0,iter-time=10${2:+,$2} "$1" 4M 2>"$tmp/create.err" &&
            return 0
        cat "$tmp/create.err" >&2
        grep -q "Unable to get accurate CPU usage" "$tmp/create.err" || return 1
    done
    return 1
}

# reads_match_unaligned FILE: the export at $uri is FILE, by nbdcopy and
# by 100 random reads, most of them not sector-aligned (libnbd's
# alignment check is turned off to send them).
reads_match_unaligned() {
    [ "$(nbdinfo --size "$uri")" = "$(stat -c %s "$1")" ]
    nbdcopy "$uri" "$tmp/reads.out"
    cmp "$1" "$tmp/reads.out"
    EXPECT="$1" nbdsh_u -c '
import os, random
h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_ALIGN)
disk = open(os.environ["EXPECT"], "rb").read()
rng = random.Random(len(disk))
for _ in range(100):
    n = rng.randint(1, rng.choice((600, 1 << 20)))
    off = rng.randint(0, len(disk) - n)
    assert h.pread(n, off) == disk[off:off + n], (off, n)
'
}

# The writes a client makes, mirrored in the file expected: partial
# sectors, writes straddling sector boundaries, an aligned run, zeros.
writes='
import os
h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_ALIGN)
exp = bytearray(open(os.environ["EXPECT"], "rb").read())
def w(data, off):
    h.pwrite(data, off)
    exp[off:off + len(data)] = data
w(b"A" * 7, 3)
w(b"B" * 1000, 500)
w(bytes(range(256)) * 64, 65536)
w(b"C" * 513, 1 << 20)
w(b"D" * 1, len(exp) - 1)
h.zero(1500, 70000)
exp[70000:71500] = bytes(1500)
h.zero(8192, 8192)
exp[8192:16384] = bytes(8192)
h.flush()
assert h.pread(len(exp), 0) == exp
open(os.environ["EXPECT"], "wb").write(exp)
'

head -c $((4 << 20)) /dev/urandom >"$tmp/data"
n=0
for opts in "" \
    cipher-alg=aes-128,cipher-mode=xts,ivgen-alg=plain64,hash-alg=sha1 \
    cipher-alg=aes-256,cipher-mode=cbc,ivgen-alg=essiv,ivgen-hash-alg=sha256 \
    cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=plain,hash-alg=sha512 \
    cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=essiv,ivgen-hash-alg=sha256,hash-alg=sha384; do
    n=$((n + 1))
    img="$tmp/img$n"
    luks_create "$img" "$opts"
    qemu-img convert -n $sec -f raw "$tmp/data" --target-image-opts \
        "$(qemu_luks "$img")"
    start_server -U "$sock" --filter=luks file "$img" passphrase=PASS
    reads_match_unaligned "$tmp/data"
    cp "$tmp/data" "$tmp/expect"
    EXPECT="$tmp/expect" nbdsh_u -c "$writes"
    stop_server
    to_raw "$img" "$tmp/out"
    cmp "$tmp/out" "$tmp/expect"
    # nbdkit 1.32's filter knows no ESSIV.
    case "$opts" in *essiv*) continue ;; esac
    nbdkit -U - --filter=luks "$fileso" file="$img" passphrase=PASS \
        --run 'nbdcopy "$uri" '"$tmp/out2"
    cmp "$tmp/out2" "$tmp/expect"
done
grep -F "cbc-plain" "$tmp/img4"
grep -F "cbc-essiv:sha256" "$tmp/img3"

# nbdkit's filter writes, this one reads.
nbdkit -U - --filter=luks "$fileso" file="$tmp/img2" passphrase=PASS \
    --run 'nbdcopy '"$tmp/data"' "$uri"'
start_server -U "$sock" --filter=luks file "$tmp/img2" passphrase=PASS
reads_match_unaligned "$tmp/data"
stop_server
same_as_nbdkit --filter=luks "$fileso" file="$tmp/img4" passphrase=PASS

# The passphrase from a file and from a file descriptor.
printf 'PASS\n' >"$tmp/pw"
"$NBDX" -U - --filter=luks file "$tmp/img1" passphrase=+"$tmp/pw" \
    --run 'nbdcopy "$uri" '"$tmp/out"
to_raw "$tmp/img1" "$tmp/expect"
cmp "$tmp/out" "$tmp/expect"
"$NBDX" -U - --filter=luks file "$tmp/img1" passphrase=-3 3<"$tmp/pw" \
    --run 'nbdcopy "$uri" '"$tmp/out"
cmp "$tmp/out" "$tmp/expect"

# refused FILE MESSAGE [PASSPHRASE]: the client cannot connect; the log
# says why.
refused() {
    start_server -U "$sock" --filter=luks file "$1" passphrase="${3:-PASS}"
    fails nbdinfo "$uri"
    stop_server
    grep -F "$2" "$tmp/server.log"
}
refused "$tmp/img1" "luks: the passphrase does not open any key slot" WRONG
refused "$tmp/data" "luks: not a LUKS disk"
: >"$tmp/empty"
refused "$tmp/empty" "luks: not a LUKS disk"
# patch IMG OFFSET BYTES: a copy of IMG, $tmp/bad, with BYTES at OFFSET.
patch() {
    cp "$1" "$tmp/bad"
    printf "$3" | dd of="$tmp/bad" bs=1 seek="$2" conv=notrunc status=none
}
patch "$tmp/img1" 7 '\2'
refused "$tmp/bad" "LUKS version 2 is not supported"
patch "$tmp/img1" 248 '\377\377\0\0' # slot 0's key material offset
refused "$tmp/bad" "key slot 0: key material at sector 4294901760"
patch "$tmp/img1" 104 '\377\377\377\377' # the payload offset
refused "$tmp/bad" "luks: payload offset 2199023255040 is outside the disk"
patch "$tmp/img1" 8 'twofish\0'
refused "$tmp/bad" "unsupported cipher 'twofish'"
patch "$tmp/img1" 208 '\1\2\3\4' # slot 0's state
refused "$tmp/bad" "key slot 0: bad state 0x01020304"
patch "$tmp/img1" 72 'whirl\0'
refused "$tmp/bad" "unsupported hash 'whirl'"

"$NBDX" -U - --filter=luks file "$tmp/img1" --run true 2>"$tmp/err" && exit 1
grep -F "nbdx: luks: the passphrase parameter is required" "$tmp/err"
"$NBDX" -U - --filter=luks file "$tmp/img1" passphrase=A passphrase=B \
    --run true 2>"$tmp/err" && exit 1
grep -F "nbdx: luks: passphrase given more than once" "$tmp/err"

# cryptsetup's images, if it can format a plain file here.
command -v cryptsetup >/dev/null || { echo "no cryptsetup: done"; exit 0; }
printf PASS >"$tmp/pw1"
printf OTHER >"$tmp/pw2"
for cipher in aes-xts-plain64 aes-cbc-essiv:sha256; do
    truncate -s 8M "$tmp/cs"
    if ! cryptsetup luksFormat -q --type luks1 --cipher "$cipher" \
        --pbkdf-force-iterations 1000 --key-file "$tmp/pw1" "$tmp/cs"; then
        echo "cryptsetup cannot format a file here: done"
        exit 0
    fi
    start_server -U "$sock" --filter=luks file "$tmp/cs" passphrase=PASS
    nbdcopy "$tmp/data" "$uri"
    stop_server
    to_raw "$tmp/cs" "$tmp/out"
    cmp <(head -c $((4 << 20)) "$tmp/out") "$tmp/data"
done
if cryptsetup luksAddKey -q --pbkdf-force-iterations 1000 \
    --key-file "$tmp/pw1" "$tmp/cs" "$tmp/pw2"; then
    "$NBDX" -v -U - --filter=luks file "$tmp/cs" passphrase=OTHER \
        --run 'nbdcopy "$uri" '"$tmp/out2" 2>"$tmp/err"
    cmp "$tmp/out" "$tmp/out2"
    grep -F "luks: key slot 1 opened" "$tmp/err"
fi
