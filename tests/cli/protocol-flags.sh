#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# protocol-flags.sh: --no-sr, --no-mc, --mask-handshake and -o reach the
# handshake: the client sees what they ask for.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

run() { "$NBDX" -U - "$@" memory 1M --run 'nbdsh --base-allocation -u "$uri" -c "$check"'; }

check='assert h.get_structured_replies_negotiated()
assert h.can_meta_context("base:allocation")'
export check
run

check='assert not h.get_structured_replies_negotiated()'
run --no-sr
run --no-structured-replies

check='assert h.get_structured_replies_negotiated()
assert not h.can_meta_context("base:allocation")'
run --no-mc
run --no-meta-contexts

# Without FIXED_NEWSTYLE libnbd cannot negotiate options.
check='assert h.get_handshake_flags() & nbd.HANDSHAKE_FLAG_FIXED_NEWSTYLE == 0'
run --mask-handshake=0

check='assert h.get_protocol() == "oldstyle"'
run -o
run --oldstyle
check='assert h.get_protocol() == "newstyle-fixed"'
run -n
run --new-style
