#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# readonly.sh: -r (and --readonly, --read-only) exports read-only:
# reads work, writes fail with EPERM.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

for opt in -r --readonly --read-only; do
    "$NBDX" "$opt" -U - memory 1M --run 'nbdsh -u "$uri" -c "
import errno
assert h.is_read_only()
assert h.pread(512, 0) == bytes(512)
try:
    h.pwrite(b\"x\", 0)
    assert False, \"write should fail\"
except nbd.Error as e:
    assert e.errno == \"EPERM\", e.errno
"'
done
# Without -r the same writes succeed.
"$NBDX" -U - memory 1M --run 'nbdsh -u "$uri" -c "
assert not h.is_read_only()
h.pwrite(b\"x\", 0)
"'
