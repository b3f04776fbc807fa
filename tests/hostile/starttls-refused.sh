#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_OPT_STARTTLS is refused with NBD_REP_ERR_POLICY; GO still works.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run starttls-refused 1048576 memory 1M
