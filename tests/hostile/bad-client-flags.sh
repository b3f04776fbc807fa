#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Client flags the server did not offer make it drop the client.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hostile/hostile.sh"
hostile_run bad-client-flags 1048576 memory 1M
