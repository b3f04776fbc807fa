#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-img.sh: qemu's NBD client writes and reads an image through TLS,
# with X.509 (tls-creds-x509, over TCP) and with PSK (tls-creds-psk,
# over a unix socket).
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires qemu-img
set -x

make_pki "$tmp/pki"
make_psk "$tmp/psk/keys.psk" alice
random_file "$tmp/in" 1024

port=$(free_port 127.0.0.1)
start_server --tls=require --tls-certificates="$tmp/pki" -i 127.0.0.1 \
    -p "$port" memory 1M
x509="--object tls-creds-x509,id=tls0,dir=$tmp/pki/client,endpoint=client"
img="driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$port"
# shellcheck disable=SC2086
qemu-img convert -n -f raw $x509 --target-image-opts "$tmp/in" \
    "$img,tls-creds=tls0"
# shellcheck disable=SC2086
qemu-img convert $x509 --image-opts "$img,tls-creds=tls0" -O raw "$tmp/out"
same_files "$tmp/in" "$tmp/out"
stop_server

start_server --tls=require --tls-psk="$tmp/psk/keys.psk" -U "$sock" memory 1M
psk="--object tls-creds-psk,id=tls0,dir=$tmp/psk,username=alice,endpoint=client"
img="driver=nbd,server.type=unix,server.path=$sock"
# shellcheck disable=SC2086
qemu-img convert -n -f raw $psk --target-image-opts "$tmp/in" \
    "$img,tls-creds=tls0"
# shellcheck disable=SC2086
qemu-img convert $psk --image-opts "$img,tls-creds=tls0" -O raw "$tmp/out2"
same_files "$tmp/in" "$tmp/out2"
