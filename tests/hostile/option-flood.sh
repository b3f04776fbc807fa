#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A client that sends options forever without choosing an export is dropped.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run option-flood 1048576 memory 1M
