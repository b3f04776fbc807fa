#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# dump-config.sh: --dump-config prints every key nbdkit prints, as
# key=value, with values describing this binary.
. "$SRCDIR/tests/lib.sh"
set -x

"$NBDX" --dump-config >"$tmp/out"
cat "$tmp/out"
for k in binary bindir exit_with_parent filterdir host_cpu host_os libdir \
         mandir max_api_version name nbdkit_api_version plugindir \
         root_tls_certificates_dir run_default_socket sbindir selinux soext \
         sysconfdir timeout_option tls version version_major version_minor \
         vsock_option zstd; do
    grep -q "^$k=" "$tmp/out" || { echo "missing key $k" >&2; exit 1; }
done
# Every line is key=value.
fails grep -v '^[a-z_]*=' "$tmp/out"

get() { sed -n "s/^$1=//p" "$tmp/out"; }
[ "$(get binary)" = "$(realpath "$NBDX")" ]
[ "$(get name)" = nbdx ]
[ "$(get max_api_version)" = 2 ]
[ "$(get run_default_socket)" = Unix ]
[ "$(get host_cpu)" = "$(uname -m | sed 's/i.86/x86/')" ] ||
    [ "$(get host_cpu)" = "$(uname -m)" ]
v=$(get version)
[ "$(get version_major).$(get version_minor)" = "${v%.*}" ]
get nbdkit_api_version | grep -Eq '^1\.[0-9]+\.[0-9]+$'
