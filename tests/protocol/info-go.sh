#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_OPT_INFO and NBD_OPT_GO: NBD_INFO_BLOCK_SIZE only when requested,
# NBD_INFO_NAME with the canonical name, and INFO before GO (CVE-2019-14851).
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 1M
nbdsh --opt-mode -u "$uri" -c '
h.set_request_block_size(False)
h.opt_info()
assert h.get_size() == 1048576
assert h.get_block_size(nbd.SIZE_MAXIMUM) == 0, "block size sent unrequested"
h.set_request_block_size(True)
h.set_full_info(True)
h.opt_info()
assert h.get_block_size(nbd.SIZE_MINIMUM) == 1
assert h.get_block_size(nbd.SIZE_PREFERRED) >= 512
assert h.get_block_size(nbd.SIZE_MAXIMUM) == 32 * 1024 * 1024
assert h.get_canonical_export_name() == ""
h.opt_info()
h.opt_go()
assert h.pread(4, 0) == bytearray(4)
'
