#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nofilter.sh: the nofilter filter changes nothing a client can see, alone
# and in a stack of three filters, as nbdkit's does.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
same_as_nbdkit --filter=nofilter "$memory" size=1M
same_as_nbdkit --filter=nofilter --filter=nofilter --filter=nofilter \
    "$memory" size=1M
