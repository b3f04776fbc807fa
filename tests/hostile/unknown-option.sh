#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Unknown options get NBD_REP_ERR_UNSUP, their data is skipped, GO still works.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run unknown-option 1048576 memory 1M
