#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# libvirt.sh: the libvirt plugin exports a disk of a domain defined in a
# real libvirtd (qemu driver, session mode as nobody, on a unix socket of
# its own); nbdcopy reads it back byte for byte, by target and by source
# path, and a missing domain or disk fails with a clear error.
. "$SRCDIR/tests/lib.sh"
requires libvirtd virsh nbdcopy nbdinfo setpriv qemu-system-x86_64
plugin="$BUILDDIR/plugins/libvirt/nbdkit-libvirt-plugin.so"
if [ ! -f "$plugin" ]; then
    echo "SKIP: the libvirt plugin was not built (libvirt-dev missing)"
    exit 77
fi
set -x

# The daemon runs as nobody: everything it reads or writes is nobody's.
chmod 0755 "$tmp"
d="$tmp/lv"
mkdir -p "$d/home" "$d/run" "$d/cfg" "$d/cache"
chown 65534:65534 "$d" "$d"/*
chmod 0700 "$d/run"
setpriv --reuid=65534 --regid=65534 --clear-groups \
    env HOME="$d/home" XDG_RUNTIME_DIR="$d/run" XDG_CONFIG_HOME="$d/cfg" \
    XDG_CACHE_HOME="$d/cache" libvirtd >"$tmp/libvirtd.log" 2>&1 &
libvirtd_pid=$!
stop_libvirtd() {
    kill "$libvirtd_pid" 2>/dev/null
    wait "$libvirtd_pid" 2>/dev/null
}
cleanup_fn stop_libvirtd
lvuri="qemu:///session?socket=$d/run/libvirt/libvirt-sock"
for _ in $(seq 100); do [ -S "$d/run/libvirt/libvirt-sock" ] && break; sleep 0.1; done
if ! virsh -c "$lvuri" version; then
    cat "$tmp/libvirtd.log"
    echo "SKIP: the session libvirtd did not start here"
    exit 77
fi

# 3 MiB and a bit of random data, so one read is many 64 KiB peeks.
disk="$d/disk.img"
head -c $((3 * 1024 * 1024 + 4096)) /dev/urandom >"$disk"
chown 65534:65534 "$disk"
cat >"$tmp/dom.xml" <<XML
<domain type='qemu'>
  <name>nbdxtest</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
virsh -c "$lvuri" define "$tmp/dom.xml"

# By target: size, read-only, and the bytes.
start_server -U "$sock" libvirt connect="$lvuri" domain=nbdxtest disk=vda
nbdinfo --size "$uri" | grep -qx "$(stat -c %s "$disk")"
nbdinfo "$uri" | grep -q 'is_read_only: true'
nbdcopy "$uri" "$tmp/out"
cmp "$disk" "$tmp/out"
# Several connections at once, each reading in parallel.
nbdcopy --connections=4 --request-size=1048576 "$uri" "$tmp/out4"
cmp "$disk" "$tmp/out4"
stop_server

# By source path.
start_server -U "$sock" libvirt connect="$lvuri" domain=nbdxtest disk="$disk"
nbdcopy "$uri" "$tmp/out2"
cmp "$disk" "$tmp/out2"
stop_server

# A missing domain, and a missing disk: the client's handshake fails and
# the log says which.
start_server -U "$sock" libvirt connect="$lvuri" domain=nosuch disk=vda
fails nbdinfo "$uri"
grep -q 'nbdx: libvirt.*: domain nosuch: Domain not found' "$tmp/server.log"
stop_server
start_server -U "$sock" libvirt connect="$lvuri" domain=nbdxtest disk=vdz
fails nbdinfo "$uri"
grep -q 'nbdx: libvirt.*: domain nbdxtest: disk vdz: ' "$tmp/server.log"
stop_server

# Required parameters.
fails "$NBDX" -U "$sock" libvirt connect="$lvuri" disk=vda 2>"$tmp/err"
grep -q 'domain=<NAME>' "$tmp/err"
