# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# fuse-loop.sh: an export as a loop device, through nbdfuse, for the tests
# that mount what nbdx serves (tests/clients, tests/guests).  Source it
# after tests/lib.sh; it skips (77) unless root with FUSE and loop devices.
#   fuse_attach URI SIZE [-r] [LOSETUP-ARGS...]
#       nbdfuse URI at $tmp/fuse/disk (-r: read-only, and the loop too),
#       check that the FUSE file is SIZE bytes, then a loop device of it,
#       its name in $loop.  Mount points: $tmp/fs is free for the test.
#   fuse_teardown
#       undo whatever is set up, innermost first (also run at exit).
requires nbdfuse fusermount3 losetup mount umount mountpoint
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (mount, losetup)"; exit 77; fi
[ -c /dev/fuse ] || { echo "SKIP: /dev/fuse is not available"; exit 77; }
[ -c /dev/loop-control ] ||
    { echo "SKIP: /dev/loop-control is not available"; exit 77; }

loop="" fuse_pid=""
mkdir -p "$tmp/fuse" "$tmp/fs"

fuse_teardown() {
    if mountpoint -q "$tmp/fs"; then umount "$tmp/fs"; fi
    if [ -n "$loop" ]; then losetup -d "$loop"; loop=""; fi
    # The loop device may let go of the FUSE file a moment after -d.
    for _ in $(seq 50); do
        mountpoint -q "$tmp/fuse" || break
        fusermount3 -u "$tmp/fuse" && break
        sleep 0.1
    done
    if [ -n "$fuse_pid" ]; then
        for _ in $(seq 100); do
            kill -0 "$fuse_pid" 2>/dev/null || break
            sleep 0.1
        done
        fuse_pid=""
    fi
}
cleanup_fn fuse_teardown

fuse_attach() {
    local uri=$1 size=$2 ro=""
    shift 2
    if [ "${1:-}" = -r ]; then ro=-r; shift; fi
    rm -f "$tmp/fuse.pid"
    nbdfuse $ro -P "$tmp/fuse.pid" "$tmp/fuse/disk" "$uri" &
    fuse_pid=$!
    for _ in $(seq 100); do
        [ -s "$tmp/fuse.pid" ] && break
        kill -0 "$fuse_pid" || { echo "nbdfuse died" >&2; return 1; }
        sleep 0.1
    done
    [ -s "$tmp/fuse.pid" ] || { echo "nbdfuse not ready in 10 s" >&2; return 1; }
    [ "$(stat -c %s "$tmp/fuse/disk")" = "$size" ] ||
        { echo "the FUSE file is not $size bytes" >&2; return 1; }
    loop=$(losetup -f --show $ro "$@" "$tmp/fuse/disk")
}
