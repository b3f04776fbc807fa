# SPDX-License-Identifier: BSD-3-Clause
# vddk-lib.sh: sourced by the vddk tests after tests/lib.sh.  Makes libdir
# folders of the stand-in libraries built in tests/vddk:
#   $lib     libvixDiskLib.so.8, flat layout, every function
#   $lib64   the same in lib64/, as VMware's tarball has it
#   $minlib  without the optional functions (no async, no extents)
#   $badlib  also without VixDiskLib_Read
requires nbdinfo nbdsh nbdcopy qemu-img
standin="$BUILDDIR/tests/vddk"
if [ ! -f "$standin/libvixDiskLib-full.so" ]; then
    echo "SKIP: the vddk plugin or its stand-in was not built"
    exit 77
fi
lib="$tmp/lib" lib64="$tmp/vddk" minlib="$tmp/minlib" badlib="$tmp/badlib"
mkdir -p "$lib" "$lib64/lib64" "$minlib" "$badlib"
ln -s "$standin/libvixDiskLib-full.so" "$lib/libvixDiskLib.so.8"
ln -s "$standin/libvixDiskLib-full.so" "$lib64/lib64/libvixDiskLib.so.8"
ln -s "$standin/libvixDiskLib-minimal.so" "$minlib/libvixDiskLib.so.6"
ln -s "$standin/libvixDiskLib-broken.so" "$badlib/libvixDiskLib.so.7"
export VDDK_STANDIN_LOG="$tmp/vddk.log"
ops="$SRCDIR/tests/vmdk/vmdk-ops.py"
