#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh: build nbdx for benchmarking and compare it with the NBD servers
# installed here (nbdkit, qemu-nbd, nbd-server) on the same workloads.
#
#   bench/run.sh              full run (3 passes, all backends, unix + tcp)
#   bench/run.sh --quick      one short pass, CI-sized (a few minutes)
#   bench/run.sh --servers nbdx --no-memory-checks
#                             nbdx alone, with and without its filters
#   bench/run.sh --filters=   no filter rows
#   bench/run.sh --servers nbdx,nbdkit --filters= --backends mem,file,xz
#                             nbdx against nbdkit, each with the filter
#                             stacks (cow, cache, partition, xz)
#   bench/run.sh --stacks=    no filter stacks
#   bench/run.sh --servers nbdx,nbdkit --filters= --stacks= \
#       --backends python --workloads sr1m8 --transports unix
#                             nbdx's python plugin against nbdkit's, both
#                             running bench/python-bytearray.py
#   bench/run.sh --help       every option (they are bench/nbdbench.py's)
#
# The build goes to build-bench/ (release, asserts kept, as shipped); set
# NBDX_BUILD to use another build directory as is.  Not part of the test
# suite: timings are not tests.
set -eu
cd "$(dirname "$0")/.."

if [ -z "${NBDX_BUILD:-}" ]; then
    NBDX_BUILD=build-bench
    [ -f "$NBDX_BUILD/build.ninja" ] ||
        meson setup "$NBDX_BUILD" --buildtype=release -Db_ndebug=false >/dev/null
    ninja -C "$NBDX_BUILD" >/dev/null
fi
# The distribution's python has the libnbd bindings.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" bench/nbdbench.py --build "$NBDX_BUILD" "$@"
