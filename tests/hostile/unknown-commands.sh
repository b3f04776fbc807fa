#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Unknown commands and unknown or misplaced flags get EINVAL (simple
# and structured replies), WRITE payloads are skipped, the stream stays in step.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run unknown-commands 1048576 memory 1M
