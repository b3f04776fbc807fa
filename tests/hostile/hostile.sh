# SPDX-License-Identifier: BSD-3-Clause
# hostile.sh: sourced by the hostile tests after tests/lib.sh.
#   hostile_run SCENARIO SIZE ARGS...: start nbdx with ARGS on $sock, run
#   one rawclient scenario against it, then prove the server survived by
#   serving a fresh client.
rawclient="$BUILDDIR/tests/hostile/rawclient"

hostile_run() {
    local scenario=$1 size=$2
    shift 2
    start_server -U "$sock" "$@"
    "$rawclient" "$sock" "$scenario" "$size"
    kill -0 "$pid"
    nbdsh_u -c "assert h.get_size() == $size"
}
