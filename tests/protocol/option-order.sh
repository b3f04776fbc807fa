#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Options in unusual orders: structured replies after the meta context,
# LIST and INFO repeated before GO, ABORT ends the session cleanly.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 1M
nbdsh --opt-mode -u "$uri" -c '
for _ in range(3):
    h.opt_list(lambda n, d: 0)
    h.opt_info()
h.opt_abort()
assert h.aio_is_closed()
'
nbdsh --opt-mode -u "$uri" -c '
h.add_meta_context("base:allocation")
h.opt_info()
h.opt_go()
assert h.can_meta_context("base:allocation")
'
