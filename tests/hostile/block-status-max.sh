#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# BLOCK_STATUS with counts 2^32-1, 2^32-2 and 1, with and without
# REQ_ONE, over first extents longer than, equal to and one byte short
# of the request, and at the last byte of an 8 GiB export: well-formed
# replies, never more than asked, no abort (CVE-2025-47711 class).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run block-status-max 8589934592 memory 8G
