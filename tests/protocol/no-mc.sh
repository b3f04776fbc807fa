#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --no-mc: structured replies still work but no meta context is offered,
# so BLOCK_STATUS is not available.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" --no-mc memory 1M
nbdsh --base-allocation -u "$uri" -c '
assert h.get_structured_replies_negotiated()
assert not h.can_meta_context("base:allocation")
h.set_strict_mode(0)
try:
    h.block_status(512, 0, lambda *a: 0)
    assert False, "BLOCK_STATUS without a meta context succeeded"
except nbd.Error:
    pass
'
