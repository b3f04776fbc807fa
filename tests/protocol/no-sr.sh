#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --no-sr: structured replies are refused, so no DF and no meta contexts,
# and reads use simple replies.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" --no-sr memory 1M
nbdsh --base-allocation -u "$uri" -c '
assert not h.get_structured_replies_negotiated()
assert not h.can_df()
assert not h.can_meta_context("base:allocation")
h.pwrite(b"abc", 0)
assert h.pread(3, 0) == b"abc"
'
