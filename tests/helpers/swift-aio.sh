# SPDX-License-Identifier: BSD-3-Clause
# swift-aio.sh: a private OpenStack Swift "all in one" on 127.0.0.1 for
# the tests, sourced after tests/lib.sh: memcached and the proxy,
# account, container and object servers, each one process with
# workers = 0, state in $tmp/saio.  The proxy has tempauth (user
# test:tester, key testing, an admin) and the s3api middleware before it
# (path-style, region us-east-1: access key test:tester, secret testing).
#
#   saio_requires   exit 77 unless the Swift servers and user xattrs exist
#   saio_start      start it all, wait for it; sets and exports p_proxy,
#                   p_account, p_container, p_object, p_memcache,
#                   auth_url (tempauth), s3_url (the S3 endpoint),
#                   saio_user, saio_key; saio_stop runs at exit
#   saio_launch NAME COMMAND...   one more process, logged, in saio_pids
#                   (saio_pids[0] is memcached, [3] the object server)
#   saio_wait_http PORT           wait for PORT's /healthcheck
#   saio_stop       stop them all, print the tail of their logs

saio_requires() {
    local p
    requires curl python3
    for p in swift-proxy-server swift-account-server swift-container-server \
             swift-object-server swift-ring-builder memcached; do
        command -v $p >/dev/null ||
            { echo "SKIP: $p is missing (see dev.sh test_deps)"; exit 77; }
    done
    # Swift keeps object metadata in user.* extended attributes.
    touch "$tmp/xattr"
    python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.t", b"1")' \
            "$tmp/xattr" ||
        { echo "SKIP: $tmp has no user xattrs"; exit 77; }
}

# saio_server_conf NAME PORT: an account, container or object server.
saio_server_conf() {
    cat >"$saio/$1-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
user = $saio_me
swift_dir = $saio
devices = $saio/srv
mount_check = false
disable_fallocate = true
log_name = $1-server

[pipeline:main]
pipeline = healthcheck $1-server

[app:$1-server]
use = egg:swift#$1

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
}

saio_proxy_conf() {
    cat >"$saio/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $p_proxy
workers = 0
user = $saio_me
swift_dir = $saio
log_name = proxy-server

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# The object server stopped on purpose must not be skipped after.
error_suppression_limit = 1000

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$p_memcache

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats
EOF
}

saio_conf() {
    local r port
    cat >"$saio/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = nbdx-test-$RANDOM
swift_hash_path_prefix = nbdx

[storage-policy:0]
name = Policy-0
default = yes
EOF
    saio_server_conf account "$p_account"
    saio_server_conf container "$p_container"
    saio_server_conf object "$p_object"
    saio_proxy_conf
    # Rings of 2^6 partitions, 1 replica, the one device d1.
    for r in account container object; do
        eval port=\$p_$r
        swift-ring-builder "$saio/$r.builder" create 6 1 1 >/dev/null
        swift-ring-builder "$saio/$r.builder" add --region 1 --zone 1 \
            --ip 127.0.0.1 --port "$port" --device d1 --weight 100 >/dev/null
        swift-ring-builder "$saio/$r.builder" rebalance >/dev/null ||
            [ -s "$saio/$r.ring.gz" ] # 1 is a warning, fine with 1 device
    done
}

saio_pids=()
saio_launch() { # NAME COMMAND...
    local name=$1
    shift
    "$@" >"$saio/log/$name.log" 2>&1 &
    saio_pids+=($!)
}

saio_stop() {
    local p
    for p in "${saio_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${saio_pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    tail -n 20 "$saio"/log/*.log
}

saio_wait_http() { # PORT
    local i
    for i in $(seq 600); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/healthcheck" && return 0
        sleep 0.1
    done
    echo "Swift on port $1 did not start"
    return 1
}

saio_start() {
    local ports=() p s
    saio=$tmp/saio
    saio_me=$(id -un)
    mkdir -p "$saio/srv/d1" "$saio/log"
    while [ ${#ports[@]} -lt 5 ]; do
        p=$(free_port 127.0.0.1)
        [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
    done
    p_proxy=${ports[0]} p_account=${ports[1]} p_container=${ports[2]}
    p_object=${ports[3]} p_memcache=${ports[4]}
    saio_conf
    cleanup_fn saio_stop
    saio_launch memcached memcached -l 127.0.0.1 -p "$p_memcache" -U 0 \
        -m 32 -u "$saio_me"
    for s in account container object proxy; do
        saio_launch $s swift-$s-server "$saio/$s-server.conf" -v
    done
    for p in $p_account $p_container $p_object $p_proxy; do
        saio_wait_http "$p" || exit 1
    done
    auth_url=http://127.0.0.1:$p_proxy/auth/v1.0
    s3_url=http://127.0.0.1:$p_proxy
    saio_user=test:tester saio_key=testing
    export saio p_proxy p_account p_container p_object p_memcache auth_url \
        s3_url saio_user saio_key
}
