#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# socket-activation.sh: with LISTEN_PID/LISTEN_FDS (systemd socket
# activation) the server serves the listening socket passed as fd 3.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
set -x

# libnbd binds a socket, then runs the server with fd 3 and the variables.
nbdsh -c '
h.connect_systemd_socket_activation(["'"$NBDX"'", "memory", "1M"])
assert h.get_size() == 1048576
h.pwrite(b"activated", 0)
assert h.pread(9, 0) == b"activated"
'

# Variables meant for another process are ignored, and removed so that
# children do not see them: the server listens on -U as usual.
LISTEN_PID=1 LISTEN_FDS=1 LISTEN_FDNAMES=x "$NBDX" -U - memory 1M --run '
    nbdsh -u "$uri" -c "assert h.get_size() == 1048576" &&
    echo "${LISTEN_PID-unset} ${LISTEN_FDS-unset} ${LISTEN_FDNAMES-unset}" \
        >'"$tmp"'/env'
[ "$(cat "$tmp/env")" = "unset unset unset" ]

# Socket activation excludes -U.
rc=0
nbdsh -c '
h.connect_systemd_socket_activation(["'"$NBDX"'", "-U", "'"$tmp/x"'",
                                     "memory", "1M"])' 2>"$tmp/err" || rc=$?
[ "$rc" -ne 0 ]
