#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# default-on.sh: as in nbdkit, without --tls TLS is on (not required) if
# credentials are found: certificates in $HOME/.pki/nbdx for non-root,
# or a --tls-psk file.  --tls=off overrides; with nothing found TLS is
# off.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
set -x

export HOME="$tmp/home"
mkdir -p "$HOME/.pki"
make_pki "$HOME/.pki/nbdx"
make_psk "$tmp/psk/keys.psk" alice
# Root looks in the system directory instead: test as nobody.
as_user=()
if [ "$(id -u)" = 0 ]; then
    requires setpriv
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chmod 755 "$tmp"
    chown -R 65534:65534 "$HOME" "$tmp/psk"
fi
nbdx() { "${as_user[@]}" "$NBDX" "$@"; }
vars='echo "${tls-unset}"; nbdinfo "$uri" | grep protocol:'
tlsuri="nbds+unix:///?socket=\$unixsocket&tls-certificates=$HOME/.pki/nbdx/client"

nbdx -U - memory 1M --run "$vars; nbdinfo --size \"$tlsuri\"" >"$tmp/out"
cat "$tmp/out"
[ "$(sed -n 1p "$tmp/out")" = 1 ]
fails grep -q 'with TLS' "$tmp/out"     # plaintext still allowed
[ "$(sed -n 3p "$tmp/out")" = 1048576 ]  # and TLS offered

nbdx --tls=off -U - memory 1M --run "$vars" >"$tmp/out"
[ "$(sed -n 1p "$tmp/out")" = unset ]

rm -r "$HOME/.pki/nbdx"
nbdx -U - memory 1M --run "$vars" >"$tmp/out"
[ "$(sed -n 1p "$tmp/out")" = unset ]

nbdx --tls-psk="$tmp/psk/keys.psk" -U - memory 1M --run "$vars" >"$tmp/out"
[ "$(sed -n 1p "$tmp/out")" = 1 ]
