#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# An option with a bad magic number makes the server drop that client.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run bad-option-magic 1048576 memory 1M
