#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tls-fallback.sh: with --tls=on, a TLS client writes and reads the
# plugin (tlsinfo, which says it sees TLS, and memory); a plaintext
# client, whatever export it names, reads tlsreadme= (default nbdkit's
# sentence) padded with NULs to 512 bytes, read-only, lists only "",
# and the plugin is never opened for it; a plugin that serializes
# connections is refused; a filter whose open skips next gets its
# pass-through calls failed, and the server lives on.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo
set -x
export PATH=/usr/bin:$PATH
log="$tmp/server.log"
make_pki "$tmp/pki"
plain="nbd+unix:///some-export?socket=$sock"
tls="nbds+unix:///?socket=$sock&tls-certificates=$tmp/pki/client"

# read_export URI N: the first N bytes of URI's export, NULs stripped;
# also checks it has the plaintext export's size and flags when URI is
# plaintext.
read_export() {
    nbdsh -c 'h.set_uri_allow_local_file(True)' -c "h.connect_uri('$1')" \
        -c '
if not h.get_tls_negotiated():
    assert h.get_size() == 512, h.get_size()
    assert h.is_read_only() and not h.can_trim() and not h.can_zero()
    assert not h.can_flush() and not h.can_cache() and not h.can_fua()
    try:
        h.pwrite(b"x", 0)
        raise SystemExit("a plaintext write succeeded")
    except nbd.Error:
        pass' \
        -c 'import sys; sys.stdout.write(h.pread('"$2"', 0).rstrip(b"\0").decode())'
}
# opens NAME: how many times the server opened the plugin NAME.
opens() { grep -c "debug: $1: open " "$log" || true; }

tlsinfo="$BUILDDIR/tests/tls/nbdkit-tlsinfo-plugin.so"
[ -f "$tlsinfo" ] || { echo "SKIP: tlsinfo plugin not built (no GnuTLS)"; exit 77; }
start_server -v --tls=on --tls-certificates="$tmp/pki" -U "$sock" \
    --filter=tls-fallback "$tlsinfo"
expect_eq "TLS client" tls=1 "$(read_export "$tls" 6)"
expect_eq "plugin opened for TLS" 1 "$(opens tlsinfo)"
expect_eq "default message" \
    "This NBD server requires TLS authentication before it will serve useful data." \
    "$(read_export "$plain" 512)"
read_export "nbd+unix:///?socket=$sock" 512 | grep -q "requires TLS"
nbdinfo --list "nbd+unix:///?socket=$sock" >"$tmp/list"
cat "$tmp/list"
expect_eq "exports listed" 'export="":' "$(grep '^export=' "$tmp/list")"
expect_eq "plugin not opened for plaintext" 1 "$(opens tlsinfo)"
grep -q "tls-fallback: open readonly=0 exportname=\"some-export\" tls=0" \
    "$log"
stop_server

# A writable plugin: TLS writes land, plaintext still sees the message.
msg="Use nbds:// to see the disk."
start_server -v --tls=on --tls-certificates="$tmp/pki" -U "$sock" \
    --filter=tls-fallback "$memory" size=1M tlsreadme="$msg"
nbdsh -c 'h.set_uri_allow_local_file(True)' -c "h.connect_uri('$tls')" \
    -c 'h.pwrite(b"secret data", 0)'
expect_eq "TLS read back" "secret data" "$(read_export "$tls" 11)"
expect_eq "tlsreadme" "$msg" "$(read_export "$plain" 512)"
expect_eq "memory opened only for TLS" 2 "$(opens memory)"
stop_server

# An empty message is 512 NULs; one longer than 512 bytes is cut there.
long=$(printf 'x%.0s' $(seq 600))
start_server --tls=on --tls-certificates="$tmp/pki" -U "$sock" \
    --filter=tls-fallback "$memory" size=1M tlsreadme=
expect_eq "empty tlsreadme" "" "$(read_export "$plain" 512)"
stop_server
start_server --tls=on --tls-certificates="$tmp/pki" -U "$sock" \
    --filter=tls-fallback "$memory" size=1M tlsreadme="$long"
expect_eq "long tlsreadme" "${long:0:512}" "$(read_export "$plain" 512)"
stop_server

# Plugins that serialize connections are refused.
eval_plugin="${memory%/*}/nbdkit-eval-plugin.so"
if [ -f "$eval_plugin" ]; then
    fails "$NBDX" --filter=tls-fallback "$eval_plugin" \
        thread_model='echo serialize_connections' get_size='echo 512' \
        pread='exit 1' --run true 2>"$tmp/err"
    cat "$tmp/err"
    grep -q "^nbdx: tls-fallback: the plugin serializes connections" \
        "$tmp/err"
fi

# The server side of it: a filter whose open skips next but leaves
# calls to go through fails them ("no layer below") instead of
# crashing, and the server goes on serving.
if command -v cc >/dev/null; then
    cat >"$tmp/nonext.c" <<'C'
#include <nbdkit-filter.h>
static void *nonext_open(nbdkit_next_open *next, nbdkit_context *c,
                         int readonly, const char *name, int is_tls)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}
static int64_t nonext_get_size(nbdkit_next *next, void *handle)
{
    return 1024;
}
static struct nbdkit_filter filter = {
    .name = "nonext", .open = nonext_open, .get_size = nonext_get_size,
};
NBDKIT_REGISTER_FILTER(filter)
C
    cc -shared -fPIC -Wall -Werror -I"$SRCDIR/include" -I"$BUILDDIR" \
        "$tmp/nonext.c" -o "$tmp/nbdkit-nonext-filter.so"
    start_server -U "$sock" --filter="$tmp/nbdkit-nonext-filter.so" \
        "$memory" size=1M
    for _ in 1 2; do
        fails nbdsh -u "nbd+unix:///?socket=$sock" -c 'h.pread(512, 0)'
    done
    kill -0 "$pid"
    grep -q "nonext: the filter has no layer below on this connection" "$log"
    stop_server
fi
