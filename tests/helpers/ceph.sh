# SPDX-License-Identifier: BSD-3-Clause
# ceph.sh: a private single-node Ceph cluster on 127.0.0.1 for the
# tests, sourced after tests/lib.sh and tests/helpers/clients.sh (for
# free_port): one monitor and one memstore OSD,
# no authentication, every file in $tmp/ceph; optionally radosgw (S3)
# on the same cluster.
#
#   ceph_requires [rgw]  exit 77 unless Ceph's daemons (and radosgw) exist
#   ceph_start [rgw]     start it, wait for a pool "rbd"; sets ceph_dir
#                        and conf (the ceph.conf clients read); the OSD
#                        holds $ceph_memstore_bytes (default 512 MiB); with rgw
#                        also radosgw, sets rgw_url and an S3 user with
#                        access key TESTACCESS, secret TESTSECRET;
#                        ceph_stop and ceph_logs run at exit
#   ceph_stop            stop the daemons, the server started last
#                        first (librados would wait for the daemons)
#   ceph_wait SECONDS COMMAND...   until COMMAND succeeds, or fail

ceph_requires() {
    requires ceph-mon ceph-osd ceph monmaptool ${1:+radosgw radosgw-admin curl}
}

ceph_dir="$tmp/ceph"
conf="$ceph_dir/ceph.conf"
ceph_pids=""

ceph_stop() {
    local p
    [ -z "${pid:-}" ] || { stop_server; pid=""; }
    for p in $ceph_pids; do kill "$p" 2>/dev/null; done
    for p in $ceph_pids; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    ceph_pids=""
}
# A failed test shows the end of each daemon's log.
ceph_logs() {
    [ "$test_status" = 0 ] || tail -n 20 "$ceph_dir"/log/*.log >&2
}

# ceph_conf FSID: the configuration.  With auth none only the "crc"
# on-wire mode works; radosgw would ask for "secure" and never connect.
ceph_conf() {
    cat <<EOF
[global]
fsid = $1
mon host = $ceph_mon_host
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = $ceph_port_base
ms bind port max = $((ceph_port_base + 39))
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
auth cluster required = none
auth service required = none
auth client required = none
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
run dir = $ceph_dir/run
admin socket = $ceph_dir/run/\$name.\$pid.asok
log file = $ceph_dir/log/\$name.log
pid file = $ceph_dir/run/\$name.pid
mon data = $ceph_dir/mon/\$cluster-\$id
osd data = $ceph_dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${ceph_memstore_bytes:-536870912}
osd op num shards = 1
osd op num threads per shard = 2

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgw_port:-0}
rgw data = $ceph_dir/rgw
rgw thread pool size = 16
EOF
}

ceph_wait() {
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            tail -n 20 "$ceph_dir"/log/*.log >&2
            echo "FAIL: timed out waiting for: $*" >&2
            return 1
        fi
        sleep 0.2
    done
}

ceph_osd_up() { ceph -c "$conf" --connect-timeout 5 osd stat | grep -q '1 up'; }

# ceph_mon_osd: the monitor, then the OSD, then the pool "rbd".
ceph_mon_osd() {
    local fsid uuid id
    fsid=$(cat /proc/sys/kernel/random/uuid)
    ceph_conf "$fsid" >"$conf"
    monmaptool --create --fsid "$fsid" --addv a "$ceph_mon_host" \
        "$ceph_dir/monmap" >/dev/null
    ceph-mon -c "$conf" --mkfs -i a --monmap "$ceph_dir/monmap"
    ceph-mon -c "$conf" -i a -f >"$ceph_dir/log/mon.out" 2>&1 &
    ceph_pids="$ceph_pids $!"
    ceph_wait 30 ceph -c "$conf" --connect-timeout 2 mon stat
    uuid=$(cat /proc/sys/kernel/random/uuid)
    id=$(ceph -c "$conf" osd new "$uuid")
    ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$uuid" \
        >"$ceph_dir/log/osd-mkfs.out" 2>&1
    ceph-osd -c "$conf" -i "$id" -f >"$ceph_dir/log/osd.out" 2>&1 &
    ceph_pids="$ceph_pids $!"
    ceph_wait 30 ceph_osd_up
    ceph -c "$conf" osd pool create rbd 8 8
    command rbd -c "$conf" pool init rbd
}

# ceph_rgw: radosgw and its S3 user.
ceph_rgw() {
    radosgw -c "$conf" -n client.rgw -f >"$ceph_dir/log/rgw.out" 2>&1 &
    ceph_pids="$ceph_pids $!"
    ceph_wait 60 curl -sf -o /dev/null "$rgw_url/"
    radosgw-admin -c "$conf" user create --uid=test --display-name=test \
        --access-key=TESTACCESS --secret-key=TESTSECRET >/dev/null
}

ceph_start() {
    mkdir -p "$ceph_dir"/run "$ceph_dir"/log "$ceph_dir"/mon \
        "$ceph_dir"/osd/ceph-0 "$ceph_dir"/rgw
    ceph_mon_host="[v2:127.0.0.1:$(free_port 127.0.0.1),v1:127.0.0.1:$(free_port 127.0.0.1)]"
    # The OSD binds its four ports in a private range above the
    # ephemeral ports; it skips those in use.
    ceph_port_base=$((61000 + RANDOM % 100 * 40))
    if [ -n "${1:-}" ]; then
        rgw_port=$(free_port 127.0.0.1)
        rgw_url="http://127.0.0.1:$rgw_port"
    fi
    cleanup_fn ceph_logs
    cleanup_fn ceph_stop
    ceph_mon_osd
    [ -z "${1:-}" ] || ceph_rgw
}
