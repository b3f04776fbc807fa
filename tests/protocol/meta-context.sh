#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_OPT_LIST_META_CONTEXT lists base:allocation for no query, "base:"
# and the full name, and nothing for unknown queries.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
start_server -U "$sock" memory 1M
nbdsh --opt-mode -u "$uri" -c '
def listed():
    out = []
    h.opt_list_meta_context(lambda name: out.append(name))
    return out
assert listed() == ["base:allocation"]
h.add_meta_context("base:")
assert listed() == ["base:allocation"]
h.clear_meta_contexts()
h.add_meta_context("base:allocation")
assert listed() == ["base:allocation"]
h.clear_meta_contexts()
h.add_meta_context("qemu:dirty-bitmap:x")
h.add_meta_context("base:nosuch")
assert listed() == []
'
