#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# single.sh: -s (one client on stdin/stdout, as inetd or libnbd's
# connect_command run it) upgrades to TLS too.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdsh
set -x

make_psk "$tmp/keys.psk" alice
nbdsh -c 'h.set_tls(nbd.TLS_REQUIRE)' \
    -c "h.set_tls_psk_file('$tmp/keys.psk')" -c "h.set_tls_username('alice')" \
    -c "h.connect_command(['$NBDX', '-s', '--tls=require',
                           '--tls-psk=$tmp/keys.psk', 'memory', '1M'])" \
    -c '
assert h.get_tls_negotiated()
h.pwrite(b"a" * 100000, 4096)
assert h.pread(100000, 4096) == b"a" * 100000
assert h.get_size() == 1048576
'
