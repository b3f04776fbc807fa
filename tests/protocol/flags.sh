#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Transmission flags follow the plugin: the memory plugin advertises flush,
# FUA, trim, zero, fast zero, cache, multi-conn and (with structured replies) DF.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 1M
nbdsh_u -c '
assert h.get_protocol() == "newstyle-fixed"
assert h.get_structured_replies_negotiated()
assert not h.is_read_only()
assert h.can_flush() and h.can_fua() and h.can_trim()
assert h.can_zero() and h.can_fast_zero() and h.can_cache()
assert h.can_multi_conn() and h.can_df()
assert not h.is_rotational()
'
