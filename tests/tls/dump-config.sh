#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# dump-config.sh: --dump-config says tls=yes in a build with GnuTLS (this
# suite is only built then).
. "$SRCDIR/tests/lib.sh"
set -x

"$NBDX" --dump-config >"$tmp/out"
grep -x 'tls=yes' "$tmp/out"
