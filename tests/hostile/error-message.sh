#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A GO for a missing export fails with NBD_REP_ERR_UNKNOWN carrying the
# plugin's error message, and the client can still GO to a real export.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
mkdir "$tmp/dir"
truncate -s 1M "$tmp/dir/disk"
hostile_run error-message 1048576 file dir="$tmp/dir"
