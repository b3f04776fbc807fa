#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Options with data where none is allowed, wrapping name lengths
# (CVE-2022-26495), 4097-byte names and truncated meta context queries
# get NBD_REP_ERR_INVALID and the stream stays in step.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run malformed-options 1048576 memory 1M
