#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Clients vanishing mid-option, mid-WRITE payload and before reading a
# 32 MiB READ reply do not take the server down.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run vanish 1048576 memory 1M
