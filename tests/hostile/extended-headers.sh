#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Extended headers: 32-byte requests and replies, WRITE with PAYLOAD_LEN,
# 64-bit WRITE_ZEROES and TRIM, BLOCK_STATUS_EXT.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run extended-headers 8589934592 memory 8G
