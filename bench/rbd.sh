#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# rbd.sh: nbdx's rbd plugin against qemu-nbd's rbd driver, both serving
# the same image of a private single-node Ceph cluster (a monitor and a
# memstore OSD on 127.0.0.1, started and stopped here, the test suite's
# tests/helpers/ceph.sh), over a Unix socket, with fio's nbd engine:
# 4k random reads at QD32 and 1 MiB sequential reads at QD8.  Passes
# alternate between the servers; the medians and their ratio are
# printed.  Not a test: timings are not tests.
#
#   bench/rbd.sh [PASSES [SECONDS]]     (default 3 passes of 10 s)
#   NBDX_RBD_ARGS="rbd_cache=false" bench/rbd.sh
#                             with more parameters for nbdx's rbd plugin
#
# Needs ceph-mon, ceph-osd, rbd, qemu-nbd with its rbd module
# (qemu-block-extra) and fio.  The build goes to build-bench/ as for
# bench/run.sh; set NBDX_BUILD to use another.  Measured on the 2-core
# development machine: 4k random reads 4.5-5.8x qemu-nbd, 1 MiB
# sequential reads 1.1-1.35x (the same CPU time per GB in both servers:
# fio, the OSD and the server share the two cores).
set -eu
cd "$(dirname "$0")/.."
passes=${1:-3}
secs=${2:-10}

if [ -z "${NBDX_BUILD:-}" ]; then
    NBDX_BUILD=build-bench
    [ -f "$NBDX_BUILD/build.ninja" ] ||
        meson setup "$NBDX_BUILD" --buildtype=release -Db_ndebug=false >/dev/null
    ninja -C "$NBDX_BUILD" >/dev/null
fi
export NBDX="$PWD/$NBDX_BUILD/server/nbdx" SRCDIR="$PWD"
[ -e "$NBDX_BUILD/plugins/rbd/nbdkit-rbd-plugin.so" ] ||
    { echo "rbd.sh: the rbd plugin was not built" >&2; exit 1; }
for p in fio qemu-nbd rbd; do
    command -v $p >/dev/null || { echo "rbd.sh: $p is missing" >&2; exit 1; }
done
# The suite's helpers: $tmp, the servers stopped at exit, the cluster.
. tests/lib.sh
. tests/helpers/clients.sh
. tests/helpers/ceph.sh
ceph_requires
ceph_memstore_bytes=$((2 << 30)) # the image and room to spare
ceph_start >"$tmp/ceph-start.log" # its errors, and the daemons' logs, on stderr

# A 768 MiB image, written whole so that reads find data.
command rbd -c "$conf" create --size 768M disk
start_server -U "$sock" rbd conf="$conf" image=disk
timeout 300 fio --name=fill --ioengine=nbd --uri="$uri" --rw=write --bs=4M \
    --iodepth=8 --size=768M --output=/dev/null
stop_server

# serve NAME: start server NAME on $sock.
serve() {
    case $1 in
    nbdx)
        # shellcheck disable=SC2086
        start_server -U "$sock" rbd conf="$conf" image=disk ${NBDX_RBD_ARGS:-}
        ;;
    qemu-nbd)
        rm -f "$sock"
        qemu-nbd -t -k "$sock" -f raw --cache=none --aio=threads \
            "rbd:rbd/disk:conf=$conf" 2>>"$tmp/qemu-nbd.log" &
        pid=$!
        _pids="$_pids $pid"
        for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
        cat "$tmp/qemu-nbd.log" >&2
        return 1
        ;;
    esac
}

# cpu_ticks: the clock ticks the server ($pid) has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# measure NAME RW BS QD: the figure of one fio run (IOPS, or MB/s for
# 1M); the server's CPU time per GB read goes to $tmp/cpu.
measure() {
    local out="$tmp/fio.json" t0
    t0=$(cpu_ticks)
    fio --name="$2" --ioengine=nbd --uri="$uri" --rw="$2" --bs="$3" \
        --iodepth="$4" --numjobs=1 --time_based --runtime="${secs}s" \
        --ramp_time=1s --output-format=json --output="$out" >/dev/null
    python3 - "$out" "$3" "$(($(cpu_ticks) - t0))" "$(getconf CLK_TCK)" \
        3>"$tmp/cpu" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("%.0f" % (r["bw_bytes"] / 1e6 if sys.argv[2] == "1M" else r["iops"]))
# fio's ramp is not in io_bytes: an estimate, a little high.
gb = max(r["io_bytes"], 1) / 1e9
os.write(3, b"%.2f" % (int(sys.argv[3]) / int(sys.argv[4]) / gb))
PY
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A got
for pass in $(seq "$passes"); do
    for srv in nbdx qemu-nbd; do
        serve "$srv"
        r=$(measure "$srv" randread 4k 32)
        s=$(measure "$srv" read 1M 8)
        c=$(cat "$tmp/cpu")
        got[$srv.rr]="${got[$srv.rr]:-} $r"
        got[$srv.sr]="${got[$srv.sr]:-} $s"
        echo "pass $pass $srv: 4k randread QD32 $r IOPS, 1M read QD8 $s MB/s" \
            "($c CPU s/GB)"
        stop_server
    done
done
printf '%-28s %10s %10s %7s\n' workload nbdx qemu-nbd ratio
for wl in rr sr; do
    a=$(echo "${got[nbdx.$wl]}" | median)
    b=$(echo "${got[qemu-nbd.$wl]}" | median)
    name="4k randread QD32 (IOPS)"
    [ $wl = sr ] && name="1M read QD8 (MB/s)"
    printf '%-28s %10s %10s %7s\n' "$name" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2fx", a / b}')"
done
