#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# noparallel.sh: each serialize mode sets the thread model (--dump-plugin),
# connections turns multi-conn off; exports look as with nbdkit's filter.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
for m in "" serialize=requests serialize=all-requests serialize=connections; do
    same_as_nbdkit --filter=noparallel "$memory" size=1M $m
done
model() {
    "$NBDX" --filter=noparallel "$memory" "$@" --dump-plugin |
        sed -n 's/^thread_model=//p'
}
[ "$(model)" = serialize_requests ]
[ "$(model serialize=all-requests)" = serialize_all_requests ]
[ "$(model serialize=connections)" = serialize_connections ]
start_server -U "$sock" --filter=noparallel "$memory" size=1M \
    serialize=connections
nbdinfo "$uri" | grep 'can_multi_conn: false'
