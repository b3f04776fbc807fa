#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A READ with NBD_CMD_FLAG_DF comes back as a single OFFSET_DATA chunk.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run df-read 1048576 memory 1M
