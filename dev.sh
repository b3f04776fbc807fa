#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# dev.sh: set up a Debian 12 machine (as root), build, and run.
#   ./dev.sh run    install what is missing, build, serve a 1G RAM disk
#   ./dev.sh test   install what is missing, build, run the whole test suite,
#                   then again under ASan+UBSan (build-asan), the threaded
#                   suites under TSan (build-tsan), and a short run of every
#                   fuzz target (build-fuzz, clang); see fuzzing/README.md
#   ./dev.sh build  install what is missing and build only
set -eu
cd "$(dirname "$0")"

build_deps="meson ninja-build gcc pkg-config perl libgnutls28-dev zlib1g-dev
  liblzma-dev libext2fs-dev python3-dev liblua5.4-dev libperl-dev tcl8.6-dev libssh-dev libnbd-dev
  librados-dev librbd-dev
  libcurl4-gnutls-dev"
test_deps="libnbd-bin python3-libnbd qemu-utils fio fuse3 socat
  gnutls-bin nbdkit nbdkit-plugin-dev xorriso e2fsprogs util-linux strace
  libvirt-dev libvirt-daemon libvirt-clients qemu-system-x86
  libguestfs-tools linux-image-amd64 fdisk cryptsetup-bin jq nginx dosfstools mtools
  nbdkit-plugin-perl nbdkit-plugin-lua nbdkit-plugin-tcl nbdkit-plugin-python
  ceph-mon ceph-osd ceph-common radosgw
  openssh-server openssh-client
  swift swift-proxy swift-account swift-container swift-object python3-swift
  memcached"
# (nbdfuse comes with libnbd-bin; libguestfs boots its appliance from
# the distribution kernel, linux-image-amd64.)
# gcc's sanitizer runtimes, and clang with libFuzzer for the fuzz build.
sanitizer_deps="libasan8 libubsan1 libtsan2 clang-14 libclang-rt-14-dev"

install_missing() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "dev.sh: missing packages:$missing (run as root to install)" >&2
        exit 1
    fi
    echo "dev.sh: installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

do_build() {
    [ -f build/build.ninja ] || meson setup build >/dev/null
    ninja -C build
}

# The suites run under TSan: those whose servers use several connections
# or the worker pool.  Suites that load nbdkit's Debian plugins (abi) or
# measure memory (security) are left out: uninstrumented code and TSan's
# shadow memory make their results noise.
tsan_suites="clients plugins protocol filters hostile perf-paths"

# run_tests NAME BUILDDIR [MESON TEST ARGS...]: set up BUILDDIR if needed
# (with $setup_args and $setup_env), run its tests, log as NAME.json.
run_tests() {
    name=$1 dir=$2
    shift 2
    # With --wrapper, meson adds the wrapper's name to the log's name.
    rm -f "$dir/meson-logs/$name".json "$dir/meson-logs/$name"-*.json
    runs="$runs $name:$dir"
    if [ ! -f "$dir/build.ninja" ] &&
        ! env $setup_env meson setup "$dir" $setup_args >/dev/null; then
        echo "dev.sh: $name: cannot set up $dir" >&2
        return 1
    fi
    echo "dev.sh: === $name tests ($dir)"
    # meson test builds only what the tests depend on, not the server.
    ninja -C "$dir" || return 1
    meson test -C "$dir" --print-errorlogs --logbase "$name" \
        --num-processes "${NPROC:-$(nproc)}" "$@"
}

# run_log NAME:DIR: the JSON test log of a run, if it ran.
run_log() {
    ls "${1#*:}/meson-logs/${1%%:*}".json \
        "${1#*:}/meson-logs/${1%%:*}"-*.json 2>/dev/null | head -1
}

# The end of each failed test's output, then one summary line per run,
# then the total of all runs as the last line.
summarise() {
    all=$(mktemp)
    for run in $runs; do
        log=$(run_log "$run")
        [ -z "$log" ] || ./scripts/test-summary.sh --tails 40 "$log"
    done
    for run in $runs; do
        log=$(run_log "$run")
        printf '%s: ' "${run%%:*}"
        if [ -n "$log" ]; then
            ./scripts/test-summary.sh "$log"
            cat "$log" >>"$all"
        else
            echo "did not run"
        fi
    done
    ./scripts/test-summary.sh "$all"
    rm -f "$all"
}

# The plain suite, then the sanitizer and fuzz builds.
test_all() {
    wrap="--wrapper=$PWD/fuzzing/sanitizer-wrapper.sh"
    rc=0 runs=""
    setup_env="" setup_args=""
    run_tests testlog build || rc=1
    setup_args="-Db_sanitize=address,undefined -Db_lundef=false"
    # libvirt's RPC encodes with libtirpc's xdr_* functions, which ASan
    # intercepts by looking them up when the server starts; libtirpc comes
    # later, with the dlopened plugin, so the interceptors call NULL.
    # The libvirt suite runs in the plain build only; so does the guests
    # suite (a libguestfs appliance under TCG: slow, and nothing of the
    # server that the plugins suite does not already run).
    run_tests asan build-asan "$wrap" --no-suite libvirt --no-suite guests || rc=1
    setup_args="-Db_sanitize=thread -Db_lundef=false"
    # shellcheck disable=SC2046
    # Ceph's libraries (the rbd test, suite ceph) are not built with TSan,
    # which then reports races inside them.
    run_tests tsan build-tsan "$wrap" $(printf -- '--suite %s ' $tsan_suites) \
        --no-suite ceph || rc=1
    setup_env="CC=clang" setup_args="-Dfuzzing=true"
    run_tests fuzz build-fuzz --suite fuzz || rc=1
    summarise
    return $rc
}

cmd=${1:-run}
case "$cmd" in
run)
    install_missing $build_deps
    do_build
    echo "dev.sh: serving a 1G RAM disk; connect with: nbdinfo nbd://localhost"
    exec build/server/nbdx -f --print-uri memory 1G
    ;;
test)
    install_missing $build_deps $test_deps $sanitizer_deps
    do_build
    status=0
    test_all || status=$?
    exit $status
    ;;
build)
    install_missing $build_deps
    do_build
    ;;
*)
    echo "usage: ./dev.sh run|test|build" >&2
    exit 1
    ;;
esac
