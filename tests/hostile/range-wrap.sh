#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Ranges that wrap at 2^64 or run past the end get EINVAL (ENOSPC for
# writes); FLUSH with an offset gets EINVAL.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run range-wrap 1048576 memory 1M
