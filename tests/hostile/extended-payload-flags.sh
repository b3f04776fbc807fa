#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Extended headers: WRITE without PAYLOAD_LEN and READ with a payload
# get EINVAL, the payload is skipped.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run extended-payload-flags 1048576 memory 1M
