#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_OPT_EXPORT_NAME replies with 124 zero bytes, or none with NO_ZEROES.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run export-name 1048576 memory 1M
