# SPDX-License-Identifier: BSD-3-Clause
# vmdk-lib.sh: sourced by the vmdk tests after tests/lib.sh.
requires qemu-img nbdcopy nbdinfo nbdsh
vmdk="$BUILDDIR/plugins/vmdk/nbdkit-vmdk-plugin.so"
if [ ! -f "$vmdk" ]; then
    echo "SKIP: the vmdk plugin was not built (zlib missing)"
    exit 77
fi
ops="$SRCDIR/tests/vmdk/vmdk-ops.py"

# make_raw FILE MIB: a disk of MIB MiB with data scattered among holes
# and runs of zeros, some of it inside partly written grains.
make_raw() {
    /usr/bin/python3 "$ops" make "$1" "$2"
}

# vmdk_of RAW SUBFORMAT OUT: qemu-img's VMDK of RAW.
vmdk_of() {
    qemu-img convert -q -f raw -O vmdk -o subformat="$2" "$1" "$3"
}

# serve ARGS...: the vmdk plugin on $sock, with ARGS.
serve() {
    start_server -U "$sock" "$vmdk" "$@"
}
