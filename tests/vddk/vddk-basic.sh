#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vddk-basic.sh: the seed's command line, nbdx -fv vddk libdir=DIR
# file=disk.vmdk, against the stand-in library: reads byte for byte,
# writes from two connections (qemu-img check and compare after), flush,
# extents from QueryAllocatedBlocks, the async calls, InitEx after the
# daemon's fork, the re-exec with LD_LIBRARY_PATH, every connection
# parameter, create=true, and --dump-plugin.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/vddk/vddk-lib.sh"
set -x

/usr/bin/python3 "$ops" make "$tmp/raw" 16
qemu-img convert -q -f raw -O vmdk "$tmp/raw" "$tmp/disk.vmdk"

# --dump-plugin: the default folder; with libdir, what the library has.
"$NBDX" vddk --dump-plugin | grep '^vddk_default_libdir=/'
"$NBDX" vddk libdir="$lib64" --dump-plugin >"$tmp/dump"
grep '^vddk_library_version=8$' "$tmp/dump"
grep "^vddk_dll=$lib64/lib64/libvixDiskLib.so.8$" "$tmp/dump"
grep '^VixDiskLib_QueryAllocatedBlocks=1$' "$tmp/dump"
"$NBDX" vddk libdir="$minlib" --dump-plugin >"$tmp/dump"
grep '^vddk_library_version=6$' "$tmp/dump"
fails grep 'QueryAllocatedBlocks\|ReadAsync' "$tmp/dump"

# The seed's command line (start_server adds -f).
start_server -v -U "$sock" vddk libdir="$lib" file="$tmp/disk.vmdk"
nbdinfo "$uri" | grep -E 'block_size_minimum: *512$'
nbdcopy "$uri" "$tmp/out"
cmp "$tmp/raw" "$tmp/out"
nbdinfo --map "$uri" >"$tmp/map"
grep 'hole,zero' "$tmp/map"
grep ' data' "$tmp/map"
/usr/bin/python3 "$ops" write "$uri" "$tmp/raw" 5 100 2
stop_server
qemu-img check "$tmp/disk.vmdk"
qemu-img compare -f vmdk -F raw "$tmp/disk.vmdk" "$tmp/raw"
grep 'ReadAsync' "$tmp/vddk.log"
grep 'WriteAsync' "$tmp/vddk.log"
grep '^Flush' "$tmp/vddk.log"
grep '^QueryAllocatedBlocks .* chunk=128' "$tmp/vddk.log"
grep -i 'VDDK\|vddk' "$tmp/server.log" | head -5

# Re-exec: the server ran again with the library's folder on
# LD_LIBRARY_PATH, and --run sees the one it was started with.
: >"$tmp/vddk.log"
LD_LIBRARY_PATH=/orig/lib "$NBDX" -U - vddk libdir="$lib" "$tmp/disk.vmdk" \
    --run "echo \"LD=\$LD_LIBRARY_PATH\" >$tmp/run.env; nbdinfo --size \"\$uri\""
grep "^InitEx exec LD_LIBRARY_PATH=$lib:/orig/lib$" "$tmp/vddk.log"
grep '^LD=/orig/lib$' "$tmp/run.env"
: >"$tmp/vddk.log"
LD_LIBRARY_PATH=/orig/lib "$NBDX" -U - vddk libdir="$lib" "$tmp/disk.vmdk" \
    reexec=false --run 'nbdinfo --size "$uri"'
grep '^InitEx exec LD_LIBRARY_PATH=/orig/lib$' "$tmp/vddk.log"

# As a daemon: InitEx runs after the fork (the stand-in aborts in Open
# otherwise), in the process that serves.
: >"$tmp/vddk.log"
"$NBDX" -P "$tmp/daemon.pid" -U "$tmp/daemon.sock" vddk libdir="$lib" \
    "$tmp/disk.vmdk"
for _ in $(seq 50); do [ -s "$tmp/daemon.pid" ] && break; sleep 0.1; done
daemon=$(cat "$tmp/daemon.pid")
_pids="$_pids $daemon"
nbdcopy "nbd+unix:///?socket=$tmp/daemon.sock" "$tmp/out"
cmp "$tmp/raw" "$tmp/out"
grep "^InitEx .* pid=$daemon$" "$tmp/vddk.log"
kill "$daemon"

# Every connection parameter reaches ConnectEx and Open.
: >"$tmp/vddk.log"
echo 'secret pw' >"$tmp/pw"
"$NBDX" -r -U - vddk libdir="$lib" "$tmp/disk.vmdk" server=esx.example.com \
    user=root password=+"$tmp/pw" thumbprint=aa:bb vm=moref=vm-16 \
    snapshot=snapshot-7 transports=file:nbdssl port=902 nfchostport=903 \
    config="$tmp/pw" single-link=true unbuffered=true compression=zlib \
    --run 'nbdinfo --size "$uri"'
cat "$tmp/vddk.log"
grep "^InitEx major=6 minor=7 libdir=$lib config=$tmp/pw " "$tmp/vddk.log"
grep '^ConnectEx vmxSpec=moref=vm-16 serverName=esx.example.com thumbPrint=aa:bb credType=1 port=902 nfcHostPort=903 readonly=1 snapshot=snapshot-7 transports=file:nbdssl$' "$tmp/vddk.log"
grep '^ConnectEx userName=root password=secret pw$' "$tmp/vddk.log"
grep '^Open .* flags=23$' "$tmp/vddk.log" # RO 4 + SINGLE_LINK 2 + UNBUFFERED 1 + ZLIB 16
: >"$tmp/vddk.log"
"$NBDX" -r -U - vddk libdir="$lib" "$tmp/disk.vmdk" server=vc vm=moref=vm-1 \
    cookie=c00kie user=u --run 'nbdinfo --size "$uri"'
grep '^ConnectEx cookie=c00kie userName=u key=(null)$' "$tmp/vddk.log"

# create=true makes the disk first.
"$NBDX" -U - vddk libdir="$lib" "$tmp/new.img" create=true create-size=8M \
    create-type=monolithic-flat create-adapter-type=scsi-lsilogic \
    create-hwversion=esx65 --run 'nbdsh -u "$uri" -c "h.pwrite(b\"n\" * 512, 4096)"'
grep '^Create path=.*new.img diskType=2 adapterType=3 hwVersion=13 capacity=16384$' "$tmp/vddk.log"
[ "$(stat -c %s "$tmp/new.img")" = $((8 << 20)) ]
[ "$(dd if="$tmp/new.img" bs=512 skip=8 count=1 status=none | tr -d n | wc -c)" = 0 ]

# The minimal library: synchronous calls, no extents (all data).
: >"$tmp/vddk.log"
"$NBDX" -U - vddk libdir="$minlib" "$tmp/disk.vmdk" \
    --run "nbdcopy \"\$uri\" $tmp/out; nbdinfo --map \"\$uri\" >$tmp/map"
cmp "$tmp/raw" "$tmp/out"
grep '^Read start' "$tmp/vddk.log"
fails grep 'Async\|QueryAllocatedBlocks' "$tmp/vddk.log"
[ "$(wc -l <"$tmp/map")" = 1 ]
grep ' data' "$tmp/map"
