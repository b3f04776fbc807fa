#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_INFO_DESCRIPTION carries the plugin's export description, and only
# when the client asks for it.  Uses Debian's nbdkit eval plugin.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
eval_plugin=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-eval-plugin.so
[ -f "$eval_plugin" ] || { echo "SKIP: nbdkit eval plugin not installed"; exit 77; }
start_server -U "$sock" "$eval_plugin" get_size='echo 1048576' \
    pread='dd if=/dev/zero count=$3 iflag=count_bytes 2>/dev/null' \
    export_description='echo hello world'
nbdsh --opt-mode -u "$uri" -c '
h.opt_info()
try:
    h.get_export_description()
    assert False, "description sent although not requested"
except nbd.Error:
    pass
h.set_full_info(True)
h.opt_info()
assert h.get_export_description() == "hello world"
'
