#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vddk-errors.sh: a missing library names libdir; a library without a
# required function is refused by name; a missing disk fails the client
# only; errors of the library reach the client as NBD errors (EINVAL,
# ENOSPC, EIO, ENOMEM, EPERM) and the server goes on; bad parameters are
# clear.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/vddk/vddk-lib.sh"
set -x

/usr/bin/python3 "$ops" make "$tmp/raw" 4
qemu-img convert -q -f raw -O vmdk "$tmp/raw" "$tmp/disk.vmdk"

# refused ARGS... -- MESSAGE: the server does not start, exits 1.
refused() {
    local args=() rc=0
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    "$NBDX" -U - vddk "${args[@]}" --run true 2>"$tmp/err" || rc=$?
    cat "$tmp/err"
    [ $rc = 1 ]
    grep -F -- "$2" "$tmp/err"
}
mkdir "$tmp/empty"
refused libdir="$tmp/empty" "$tmp/disk.vmdk" -- \
    "cannot load libvixDiskLib.so.N (N = 5..9) from $tmp/empty or its lib64/: no such library"
refused libdir="$badlib" "$tmp/disk.vmdk" -- \
    "libvixDiskLib.so.7: VixDiskLib_Read is missing: nbdx needs VDDK 6.5 or later"
refused libdir="$tmp/nowhere" "$tmp/disk.vmdk" -- "nowhere"
refused libdir="$lib" -- "you must supply file=<FILENAME>"
refused libdir="$lib" "$tmp/disk.vmdk" create=true -- \
    "create=true needs create-size=<SIZE>"
refused libdir="$lib" "$tmp/disk.vmdk" server=esx -- "server= needs vm=moref=<ID>"
refused libdir="$lib" "$tmp/disk.vmdk" compression=lz4 -- \
    "compression=lz4: expected none, zlib, fastlz or skipz"
refused libdir="$lib" "$tmp/disk.vmdk" create-type=qcow2 -- \
    "create-type=qcow2: not a value nbdx knows"
VDDK_STANDIN_FAIL=InitEx:1 refused libdir="$lib" "$tmp/disk.vmdk" -- \
    "VixDiskLib_InitEx: stand-in VixError 1 (VixError 1)"

# A disk that is not there: the client's handshake fails, the server
# says why and serves the next client.
start_server -U "$sock" vddk libdir="$lib" "$tmp/gone.vmdk"
fails nbdinfo "$uri"
grep 'VixDiskLib_Open: stand-in VixError 4' "$tmp/server.log"
stop_server

# errno_of CALL ERR: with VDDK_STANDIN_FAIL=CALL:ERR the request fails
# with that errno, then a plain read works on a new connection.
errno_of() {
    local call=$1 err=$2 want=$3 py=$4
    VDDK_STANDIN_FAIL="$call:$err" start_server -U "$sock" vddk \
        libdir="$lib" "$tmp/disk.vmdk"
    nbdsh --base-allocation -u "$uri" -c "
try:
    $py
    raise SystemExit('no error')
except nbd.Error as e:
    assert e.errno == '$want', e.errno
"
    grep "VixDiskLib_.*stand-in VixError $err" "$tmp/server.log"
    stop_server
}
errno_of ReadAsync 3 EINVAL 'h.pread(512, 0)'
errno_of WriteAsync 8 ENOSPC 'h.pwrite(b"x" * 512, 0)'
errno_of Flush 1 EIO 'h.flush()'
errno_of ReadAsync 2 ENOMEM 'h.pread(4096, 4096)'
errno_of WriteAsync 11 EPERM 'h.pwrite(b"x" * 512, 0)'
errno_of QueryAllocatedBlocks 1 EIO \
    'h.block_status(65536, 0, lambda *a: 0)'

# Unaligned requests never reach the library: a client that ignores the
# 512-byte minimum block size gets EINVAL.
start_server -U "$sock" vddk libdir="$lib" "$tmp/disk.vmdk"
nbdsh_u -c 'assert h.get_block_size(nbd.SIZE_MINIMUM) == 512'
: >"$tmp/vddk.log"
/usr/bin/python3 -c '
import nbd, sys
h = nbd.NBD()
h.set_strict_mode(0)
h.connect_uri(sys.argv[1])
try:
    h.pread(100, 1)
    raise SystemExit("an unaligned read succeeded")
except nbd.Error as e:
    assert e.errno == "EINVAL", e.errno
h.pread(512, 512)
' "$uri"
fails grep 'start=0 count=0' "$tmp/vddk.log"
grep 'start=1 count=1' "$tmp/vddk.log"
cmp <(nbdsh_u -c 'import sys; sys.stdout.buffer.write(h.pread(1 << 20, 0))') \
    <(head -c 1M "$tmp/raw")
stop_server
