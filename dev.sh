#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# dev.sh: set up a Debian 12 machine (as root), build, and run.
#   ./dev.sh run    install what is missing, build, serve a 1G RAM disk
#   ./dev.sh test   install what is missing, build, run the whole test suite
#   ./dev.sh build  install what is missing and build only
set -eu
cd "$(dirname "$0")"

build_deps="meson ninja-build gcc pkg-config perl libgnutls28-dev"
test_deps="libnbd-bin python3-libnbd qemu-utils fio nbdfuse fuse3 socat
  gnutls-bin nbdkit nbdkit-plugin-dev xorriso e2fsprogs util-linux strace"

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

cmd=${1:-run}
case "$cmd" in
run)
    install_missing $build_deps
    do_build
    echo "dev.sh: serving a 1G RAM disk; connect with: nbdinfo nbd://localhost"
    exec build/server/nbdx -f --print-uri memory 1G
    ;;
test)
    install_missing $build_deps $test_deps
    do_build
    status=0
    meson test -C build --print-errorlogs --num-processes "${NPROC:-$(nproc)}" || status=$?
    ./scripts/test-summary.sh build/meson-logs/testlog.json
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
