#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# READ and WRITE above the 32 MiB maximum get EINVAL with the payload
# skipped; a WRITE claiming 4 GiB of payload is dropped.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run oversize-requests 1048576 memory 1M
