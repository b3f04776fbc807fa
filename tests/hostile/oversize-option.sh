#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# An option claiming 4 GiB of data is dropped at once, unread (CVE-2017-15119).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run oversize-option 1048576 memory 1M
