#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A 1 MiB READ over a mostly unwritten export is answered with
# OFFSET_HOLE chunks, and the data chunks carry what was written.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run sparse-read 1048576 memory 1M
