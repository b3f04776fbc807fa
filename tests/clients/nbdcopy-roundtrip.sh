#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nbdcopy-roundtrip.sh: a random file copied into a memory export and back
# out with nbdcopy is unchanged (sha256), with a hole-y tail included.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdcopy
set -x

random_file "$tmp/src" 6144
# A zero region in the middle exercises nbdcopy's sparseness detection.
dd if=/dev/zero of="$tmp/src" bs=1M seek=2 count=1 conv=notrunc status=none
start_server -U "$sock" memory 6M
nbdcopy "$tmp/src" "$uri"
nbdcopy "$uri" "$tmp/dst"
same_files "$tmp/src" "$tmp/dst"
# A second copy over existing data, this time with --flush.
random_file "$tmp/src2" 6144
nbdcopy --flush "$tmp/src2" "$uri"
rm -f "$tmp/dst"
nbdcopy "$uri" "$tmp/dst"
same_files "$tmp/src2" "$tmp/dst"
