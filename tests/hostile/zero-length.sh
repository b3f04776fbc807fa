#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Zero-length requests get an error reply, not a disconnect.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run zero-length 1048576 memory 1M
