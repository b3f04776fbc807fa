#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ondemand.sh: the ondemand plugin makes a filesystem the first time an
# export name is asked for (ext4 with label=, or by command= with its
# variables), keeps it across connections and restarts, lists the
# exports ("" first, the file "default" standing for it), rejects names
# with '.', '/' or ':', refuses a second client of an export in use, or
# with wait=true makes it wait; a failing command leaves no file.  The
# export list, flags and command= bytes are those of nbdkit's ondemand
# plugin when it is installed.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh nbdcopy blkid e2fsck mkfs.ext4
set -x

ex="$tmp/exports"
mkdir "$ex"
start_server -U "$sock" ondemand dir="$ex" 16M label=od
# nbdinfo --list connects to the default export, which makes it.
nbdinfo --list "$uri" >"$tmp/list"
[ "$(grep -c '^export=' "$tmp/list")" = 1 ]
grep -q '^export="default":' "$tmp/list"
[ "$(ls "$ex")" = default ]
# Two export names, two filesystems.
nbdcopy "nbd+unix:///ex1?socket=$sock" "$tmp/ex1.img"
nbdcopy "nbd+unix:///ex2?socket=$sock" "$tmp/ex2.img"
[ "$(ls "$ex" | tr '\n' ' ')" = "default ex1 ex2 " ]
for f in "$ex"/ex1 "$ex"/ex2 "$tmp"/ex1.img; do
    [ "$(stat -c %s "$f")" = 16777216 ]
    [ "$(blkid -o value -s TYPE "$f")" = ext4 ]
    [ "$(blkid -o value -s LABEL "$f")" = od ]
    e2fsck -fn "$f"
done
[ "$(blkid -o value -s UUID "$ex/ex1")" != "$(blkid -o value -s UUID "$ex/ex2")" ]
nbdinfo --list "$uri" | grep -Ev 'uri:|block_size_|content:' >"$tmp/ours.list"
[ "$(grep -c '^export=' "$tmp/ours.list")" = 3 ]
grep -q '^export="ex2":' "$tmp/ours.list"

# Writes persist across connections; names are checked; one client at a
# time per export.
nbdsh -c "
def conn(name):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix('$sock')
    return h
a = conn('ex1')
assert not a.is_read_only() and a.can_trim() and a.can_fua()
a.pwrite(b'persist', 8 << 20, nbd.CMD_FLAG_FUA)
try:
    conn('ex1')
    assert False, 'a second client of ex1 got in'
except nbd.Error:
    pass
b = conn('ex2')  # another export is free
a.shutdown()
a = conn('ex1')
assert a.pread(7, 8 << 20) == b'persist'
for bad in ['a.b', '.hidden', 'x:y', 'a/b', 'n' * 256]:
    try:
        conn(bad)
        assert False, 'accepted ' + bad
    except nbd.Error:
        pass
conn('-')  # unusual but valid
"
grep -q 'filesystem is locked by another client' "$tmp/server.log"
[ ! -e "$ex/.hidden" ] && [ ! -e "$ex/a.b" ] && [ -e "$ex/-" ]
rm "$ex/-"
stop_server

# After a restart the filesystem is still there; wait=true makes a second
# client wait for the first.
start_server -U "$sock" ondemand dir="$ex" 16M wait=true
u1="nbd+unix:///ex1?socket=$sock"
nbdsh -u "$u1" -c "
import time
assert h.pread(7, 8 << 20) == b'persist'
open('$tmp/holding', 'w').close()
time.sleep(3)
" &
holder=$!
for _ in $(seq 100); do [ -e "$tmp/holding" ] && break; sleep 0.1; done
start=$(date +%s%N)
nbdsh -u "$u1" -c "assert h.pread(7, 8 << 20) == b'persist'"
waited_ms=$((($(date +%s%N) - start) / 1000000))
wait "$holder"
[ "$waited_ms" -gt 1000 ]
stop_server

# command=: the variables, $disk in dir, and the size the command made; a
# failing command leaves no file.
cmd='truncate -s $((size / 4)) "$disk"
printf "%s|%s|%s" "$greeting" "$size" "$disk" | dd of="$disk" conv=notrunc status=none'
rm -rf "$ex" && mkdir "$ex"
start_server -U "$sock" ondemand dir="$ex" 1M greeting="it's \$HOME" \
    command="$cmd"
nbdcopy "nbd+unix:///cmd?socket=$sock" "$tmp/ours.cmd"
[ "$(stat -c %s "$tmp/ours.cmd")" = 262144 ]
[ "$(head -c 100 "$tmp/ours.cmd" | tr -d '\0')" = "it's \$HOME|1048576|$ex/cmd" ]
nbdinfo --list "$uri" | grep -Ev 'uri:|block_size_|content:' >"$tmp/ours.cmdlist"
stop_server
start_server -U "$sock" ondemand dir="$ex" 1M command='truncate -s 1M "$disk"; exit 1'
fails nbdinfo --size "nbd+unix:///broken?socket=$sock"
[ ! -e "$ex/broken" ]
grep -q 'exited with code 1' "$tmp/server.log"
stop_server
# dir= and size= are required; dir must exist.
fails "$NBDX" -f -U "$tmp/s2" ondemand 1M 2>"$tmp/err"
grep -q 'dir and size' "$tmp/err"
fails "$NBDX" -f -U "$tmp/s2" ondemand dir="$tmp/missing" 1M 2>/dev/null

if nbdkit ondemand --dump-plugin >/dev/null 2>&1; then
    # The same exports listed from a copy of the directory.
    rm -rf "$tmp/kex" && cp -a "$ex" "$tmp/kex"
    rm -f "$tmp/kex/default"
    NBDX=nbdkit start_server -U "$sock" ondemand dir="$tmp/kex" 1M \
        greeting="it's \$HOME" command="$cmd"
    nbdinfo --list "$uri" | grep -Ev 'uri:|block_size_|content:' \
        >"$tmp/theirs.cmdlist"
    rm "$tmp/kex/cmd"
    nbdcopy "nbd+unix:///cmd?socket=$sock" "$tmp/theirs.cmd"
    stop_server
    diff -u "$tmp/theirs.cmdlist" "$tmp/ours.cmdlist"
    # Only $disk's directory differs.
    sed "s|$tmp/kex/cmd|$ex/cmd|" "$tmp/theirs.cmd" | head -c 262144 |
        cmp - "$tmp/ours.cmd"
else
    echo "nbdkit's ondemand plugin is not installed: not compared"
fi
