#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# On an 8 GiB export, I/O across 2^32 and at the last byte works;
# offsets at 2^63 and one past the end fail with EINVAL.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run boundaries 8589934592 memory 8G
