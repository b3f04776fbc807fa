#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# 4096-byte unknown export names through INFO, GO, LIST_META_CONTEXT and
# SET_META_CONTEXT get error replies of at most 4096 bytes (CVE-2020-10761,
# CVE-2017-15118, CVE-2022-26496); EXPORT_NAME with a 4096-byte unknown
# or a 4097-byte name disconnects.  The file plugin's dir= mode fails on
# unknown names with a message that echoes them.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
mkdir "$tmp/dir"
truncate -s 1M "$tmp/dir/disk"
hostile_run long-names 1048576 file dir="$tmp/dir"
