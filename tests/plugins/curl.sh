#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# curl.sh: the curl plugin against an nginx of our own on 127.0.0.1,
# serving a random image over HTTP and HTTPS: the bytes (nbdcopy, qemu-img
# compare, random reads, parallel reads through 1 and 4 handles), the disk
# is read-only; header=, user-agent= and cookie= reach nginx, so do the
# output of header-script= and cookie-script= (run again after -renew=
# seconds), and the cookies kept by cookiejar= and read by cookiefile=;
# basic auth with user= and password=+FILE / -FD; redirects followed
# unless followlocation=false; HTTPS checked with cainfo=, refused without it,
# accepted with sslverify=false; a 404, a 401, a server ignoring ranges,
# a refused port and a forbidden protocol each stop nbdx at start-up with
# one error line.  Bytes and size are those of nbdkit's curl plugin when
# it is installed.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/tls.sh"
requires nbdinfo nbdsh nbdcopy qemu-img
[ -x /usr/sbin/nginx ] || { echo "SKIP: nginx not installed"; exit 77; }
[ -f "$BUILDDIR/plugins/curl/nbdkit-curl-plugin.so" ] ||
    { echo "SKIP: the curl plugin was not built"; exit 77; }
set -x

# 5 MiB + 7 bytes, not a multiple of any block size.
mkdir -p "$tmp/www/auth" "$tmp/ngx"
head -c 5242887 /dev/urandom >"$tmp/www/disk.img"
cp "$tmp/www/disk.img" "$tmp/www/auth/disk.img"
printf 'nbdx:{PLAIN}s3cret\n' >"$tmp/htpasswd"
printf 's3cret\n' >"$tmp/password"
make_pki "$tmp/pki"
port=$(free_port 127.0.0.1)
sport=$(free_port 127.0.0.1)
while [ "$sport" = "$port" ]; do sport=$(free_port 127.0.0.1); done
dead=$(free_port 127.0.0.1) # nothing listens there

# As root, nginx's workers would run as nobody, who cannot read $tmp.
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$tmp/nginx.conf" <<EOF
$user_line
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log info;
events { worker_connections 64; }
http {
    log_format nbdx '\$request_method \$request_uri \$status h="\$http_x_nbdx_test" '
                    'ua="\$http_user_agent" c="\$http_cookie" r="\$http_range"';
    access_log $tmp/access.log nbdx;
    client_body_temp_path $tmp/ngx/body;
    proxy_temp_path $tmp/ngx/proxy;
    fastcgi_temp_path $tmp/ngx/fastcgi;
    uwsgi_temp_path $tmp/ngx/uwsgi;
    scgi_temp_path $tmp/ngx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        listen 127.0.0.1:$sport ssl;
        ssl_certificate $tmp/pki/server-cert.pem;
        ssl_certificate_key $tmp/pki/server-key.pem;
        root $tmp/www;
        location /auth/ {
            auth_basic "nbdx";
            auth_basic_user_file $tmp/htpasswd;
        }
        location = /redirect.img { return 302 /disk.img; }
        location = /header.img {
            if (\$http_x_nbdx_test != "yes") { return 403; }
            rewrite ^ /disk.img last;
        }
        location = /token.img {
            if (\$http_x_nbdx_test !~ "^it[0-9]+") { return 403; }
            rewrite ^ /disk.img last;
        }
        location = /setcookie.img {
            add_header Set-Cookie "jar=filled; Path=/";
            rewrite ^ /disk.img break;
        }
        location = /noranges.img {
            max_ranges 0;
            rewrite ^ /disk.img break;
        }
    }
}
EOF
/usr/sbin/nginx -e "$tmp/nginx-error.log" -p "$tmp/ngx" -c "$tmp/nginx.conf" \
    -g 'daemon off;' &
nginx_pid=$!
stop_nginx() { kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null || true; }
cleanup_fn stop_nginx
for _ in $(seq 50); do
    [ -s "$tmp/nginx.pid" ] && break
    kill -0 "$nginx_pid" || { cat "$tmp/nginx-error.log"; exit 1; }
    sleep 0.1
done
sleep 0.2
http="http://127.0.0.1:$port"
https="https://127.0.0.1:$sport"

# check_disk: nbdcopy, qemu-img compare and random reads give the file.
check_disk() {
    rm -f "$tmp/out"
    nbdcopy "$uri" "$tmp/out"
    cmp "$tmp/www/disk.img" "$tmp/out"
    qemu-img compare -f raw -F raw "$tmp/www/disk.img" "$uri"
    nbdsh_u -c "
import random
data = open('$tmp/www/disk.img', 'rb').read()
assert h.get_size() == len(data) == 5242887
assert h.is_read_only()
assert h.can_multi_conn()
for _ in range(50):
    off = random.randrange(len(data))
    n = random.randint(1, min(200000, len(data) - off))
    assert h.pread(n, off) == data[off:off + n], (off, n)
assert h.pread(7, len(data) - 7) == data[-7:]
"
}

# Parallel reads: four nbdcopy connections of 16 requests each.
check_parallel() {
    rm -f "$tmp/par"
    nbdcopy --connections=4 --requests=16 --request-size=65536 \
        "$uri" "$tmp/par"
    cmp "$tmp/www/disk.img" "$tmp/par"
}

# Plain HTTP, the URL as a magic key.
start_server -U "$sock" curl "$http/disk.img" \
    user-agent=nbdx-test cookie='k=v; k2=v2'
check_disk
check_parallel
grep -q 'GET /disk.img 206 .*ua="nbdx-test" c="k=v; k2=v2" r="bytes=' \
    "$tmp/access.log"
# Nothing wrote: the plugin never PUTs.
fails grep -q '^PUT' "$tmp/access.log"
stop_server

# One handle serves every request in turn.
start_server -U "$sock" curl url="$http/disk.img" connections=1
check_parallel
stop_server

# header= is sent; without it this location says 403.
start_server -U "$sock" curl url="$http/header.img" header='X-Nbdx-Test: yes'
check_disk
stop_server
grep -q 'h="yes"' "$tmp/access.log"

# expect_startup_error WANTED ARGS...: nbdx fails within 20 s, writing one
# error line, which matches WANTED.
expect_startup_error() {
    local wanted=$1 start
    shift
    start=$(date +%s)
    fails timeout 20 "$NBDX" -f -U "$tmp/s2" curl "$@" 2>"$tmp/err"
    cat "$tmp/err"
    # (Lines of set -x start with +.)
    [ "$(grep -vc '^+' "$tmp/err")" = 1 ]
    grep -Eq "$wanted" "$tmp/err"
    [ $(($(date +%s) - start)) -lt 20 ]
}
expect_startup_error 'header.img: HTTP status 403' url="$http/header.img"
expect_startup_error 'missing.img: HTTP status 404' url="$http/missing.img"
expect_startup_error 'does not support range requests' \
    url="$http/noranges.img"
expect_startup_error "127.0.0.1:$dead/disk.img: .*([Cc]onnect|refused)" \
    url="http://127.0.0.1:$dead/disk.img" timeout=5
expect_startup_error 'disk.img: .*(not supported|disabled)' \
    url="$http/disk.img" protocols=https,ftp
expect_startup_error 'url=' user=nobody
expect_startup_error 'connections' url="$http/disk.img" connections=0

# Basic auth: the password from a file, from a descriptor; a wrong one
# and none at all are 401.
start_server -U "$sock" curl url="$http/auth/disk.img" \
    user=nbdx password=+"$tmp/password"
check_disk
stop_server
start_server -U "$sock" curl url="$http/auth/disk.img" \
    user=nbdx password=-3 3<"$tmp/password"
nbdcopy "$uri" - | cmp - "$tmp/www/disk.img"
stop_server
expect_startup_error 'HTTP status 401' url="$http/auth/disk.img" \
    user=nbdx password=wrong
expect_startup_error 'HTTP status 401' url="$http/auth/disk.img"

# Errors after start-up reach the client: a changed password is EPERM,
# a file gone is EIO, and the server goes on serving.
start_server -U "$sock" curl url="$http/auth/disk.img" \
    user=nbdx password=+"$tmp/password"
printf 'nbdx:{PLAIN}other\n' >"$tmp/htpasswd"
nbdsh_u -c "
try:
    h.pread(512, 0)
    assert False, 'read succeeded'
except nbd.Error as e:
    assert e.errno == 'EPERM', e.errno
"
printf 'nbdx:{PLAIN}s3cret\n' >"$tmp/htpasswd"
mv "$tmp/www/auth/disk.img" "$tmp/www/auth/gone.img"
nbdsh_u -c "
try:
    h.pread(512, 4096)
    assert False, 'read succeeded'
except nbd.Error as e:
    assert e.errno == 'EIO', e.errno
"
mv "$tmp/www/auth/gone.img" "$tmp/www/auth/disk.img"
nbdsh_u -c "assert h.pread(512, 0) == open('$tmp/www/disk.img', 'rb').read(512)"
stop_server
grep -q 'pread: .*auth/disk.img: HTTP status 401' "$tmp/server.log"
grep -q 'pread: .*auth/disk.img: HTTP status 404' "$tmp/server.log"

# A server that takes the connection and never answers: timeout= ends
# the wait.
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
time.sleep(60)
' "$dead" &
mute_pid=$!
stop_mute() { kill "$mute_pid" 2>/dev/null; wait "$mute_pid" 2>/dev/null || true; }
cleanup_fn stop_mute
sleep 0.5
start=$(date +%s)
expect_startup_error '([Tt]imeout|timed out)' \
    url="http://127.0.0.1:$dead/disk.img" timeout=2
[ $(($(date +%s) - start)) -lt 10 ]
stop_mute

# Redirects.
start_server -U "$sock" curl url="$http/redirect.img"
check_disk
stop_server
expect_startup_error 'redirect.img: HTTP status 302' \
    url="$http/redirect.img" followlocation=false

# HTTPS: our CA, no CA (the system's do not know ours), no checking.
start_server -U "$sock" curl url="$https/disk.img" \
    cainfo="$tmp/pki/ca-cert.pem"
check_disk
check_parallel
stop_server
expect_startup_error "ssl-version: unknown version 'bogus'" \
    url="$https/disk.img" ssl-version=bogus
expect_startup_error "$sport/disk.img: .*(certificate|SSL|TLS)" \
    url="$https/disk.img"
start_server -U "$sock" curl url="$https/disk.img" sslverify=false \
    protocols=https
nbdcopy "$uri" - | cmp - "$tmp/www/disk.img"
stop_server

# header-script= and cookie-script=: what they print is sent, by every
# handle; they see $iteration and $url.  Without -renew= they run once.
start_server -U "$sock" curl url="$http/token.img" \
    header-script='echo "X-Nbdx-Test: it$iteration $url"; echo' \
    cookie-script='printf "s=c%s\n" "$iteration"'
check_disk
check_parallel
sleep 1.2
nbdcopy "$uri" - | cmp - "$tmp/www/disk.img"
stop_server
grep "token.img" "$tmp/access.log" >"$tmp/token.log"
grep -q "^GET /token.img 206 h=\"it0 $http/token.img\" .* c=\"s=c0\"" \
    "$tmp/token.log"
fails grep -Eq 'h="it[1-9]|c="s=c[1-9]' "$tmp/token.log"
# With -renew=1 they run again for requests more than a second later.
start_server -U "$sock" curl url="$http/token.img" \
    header-script='echo "X-Nbdx-Test: it$iteration"' header-script-renew=1 \
    cookie-script='echo "s=r$iteration"' cookie-script-renew=1
nbdsh_u -c "h.pread(512, 0)"
sleep 1.5
nbdsh_u -c "h.pread(512, 0)"
stop_server
grep -q '^HEAD /token.img 200 h="it0" .* c="s=r0"' "$tmp/access.log"
grep -Eq '^GET /token.img 206 h="it[1-9]" .* c="s=r[1-9]"' "$tmp/access.log"
# A script failing at start stops nbdx, saying why; failing later, the
# request fails with EIO.
expect_startup_error 'header-script failed with exit status 3: oops' \
    url="$http/disk.img" header-script='echo oops >&2; exit 3'
expect_startup_error 'cookie-script cannot be used with cookie' \
    url="$http/disk.img" cookie=a=b cookie-script='echo a=c'
expect_startup_error 'header-script-renew needs header-script' \
    url="$http/disk.img" header-script-renew=5
start_server -U "$sock" curl url="$http/token.img" header-script-renew=1 \
    header-script='[ "$iteration" = 0 ] || exit 1; echo "X-Nbdx-Test: it0 "'
sleep 1.2
nbdsh_u -c "
try:
    h.pread(512, 0)
    assert False, 'read succeeded'
except nbd.Error as e:
    assert e.errno == 'EIO', e.errno
"
stop_server
grep -q 'header-script failed with exit status 1' "$tmp/server.log"

# cookiejar= keeps the cookies the server set; cookiefile= sends them.
start_server -U "$sock" curl url="$http/setcookie.img" cookiejar="$tmp/jar"
nbdcopy "$uri" - | cmp - "$tmp/www/disk.img"
stop_server
grep -P '\tjar\tfilled$' "$tmp/jar"
start_server -U "$sock" curl url="$http/disk.img" cookiefile="$tmp/jar"
nbdsh_u -c "h.pread(512, 0)"
stop_server
grep -q '^GET /disk.img 206 .* c="jar=filled"' "$tmp/access.log"

# nbdkit's curl plugin reads the same bytes.
if nbdkit curl --dump-plugin >/dev/null 2>&1; then
    NBDX=nbdkit start_server -r -U "$sock" curl url="$http/disk.img"
    rm -f "$tmp/theirs"
    nbdcopy "$uri" "$tmp/theirs"
    [ "$(nbdinfo --size "$uri")" = 5242887 ]
    stop_server
    cmp "$tmp/www/disk.img" "$tmp/theirs"
else
    echo "nbdkit's curl plugin is not installed: not compared"
fi
