#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_OPT_EXPORT_NAME after extended headers is refused by disconnecting.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run export-name-after-ext 1048576 memory 1M
