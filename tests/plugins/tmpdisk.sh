#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tmpdisk.sh: each connection to the tmpdisk plugin gets a new filesystem
# (ext4 by default, type= and label= honoured) that fsck finds clean and
# that no other connection sees; command= runs with $disk, $size and the
# other parameters as shell variables and the size it made is served;
# the disk is unlinked while in use and nothing is left in $TMPDIR; a
# failing command fails the connection.  Size and flags are those of
# nbdkit's tmpdisk plugin when it is installed, and so are the bytes of
# a command= disk.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo nbdsh nbdcopy file blkid e2fsck mkfs.ext4
set -x

export TMPDIR="$tmp/td"
mkdir "$TMPDIR"

start_server -U "$sock" tmpdisk 16M label=scratch
nbdcopy "$uri" "$tmp/a.img"
[ "$(stat -c %s "$tmp/a.img")" = 16777216 ]
file "$tmp/a.img" | grep -q 'ext4 filesystem data.*volume name "scratch"'
[ "$(blkid -o value -s TYPE "$tmp/a.img")" = ext4 ]
[ "$(blkid -o value -s LABEL "$tmp/a.img")" = scratch ]
e2fsck -fn "$tmp/a.img"
# Two connections at once: two filesystems, a write to one is not in the
# other, and both disks are already unlinked, with nothing in $TMPDIR.
nbdsh -c "
import os
a = nbd.NBD(); a.connect_uri('$uri')
b = nbd.NBD(); b.connect_uri('$uri')
assert a.get_size() == b.get_size() == 16777216
assert not a.is_read_only() and a.can_trim() and a.can_fua()
assert not a.can_multi_conn()
sb_a, sb_b = a.pread(1024, 1024), b.pread(1024, 1024)
assert sb_a[0x38:0x3a] == b'\x53\xef', 'ext4 magic'
assert sb_a[0x68:0x78] != sb_b[0x68:0x78], 'the same UUID twice'
a.pwrite(b'X' * 4096, 8 << 20, nbd.CMD_FLAG_FUA)
assert a.pread(4096, 8 << 20) == b'X' * 4096
assert b.pread(4096, 8 << 20) != b'X' * 4096
a.trim(4096, 8 << 20)
a.flush()
assert os.listdir('$TMPDIR') == []
fds = '/proc/$pid/fd'
links = [os.readlink(fds + '/' + f) for f in os.listdir(fds)]
disks = [l for l in links if l.startswith('$TMPDIR/tmpdisk')]
assert len(disks) == 2 and all(l.endswith('/disk (deleted)') for l in disks), links
"
# A new connection starts again from a clean filesystem.
nbdcopy "$uri" "$tmp/b.img"
e2fsck -fn "$tmp/b.img"
nbdinfo "$uri" | grep -Ev 'uri:|block_size_|content:' >"$tmp/ours.info"
stop_server
[ -z "$(ls "$TMPDIR")" ]

# type=ext2, and type=vfat with a label when mkfs.vfat is installed.
start_server -U "$sock" tmpdisk 8M type=ext2
nbdcopy "$uri" "$tmp/c.img"
[ "$(blkid -o value -s TYPE "$tmp/c.img")" = ext2 ]
e2fsck -fn "$tmp/c.img"
stop_server
if command -v mkfs.vfat >/dev/null; then
    start_server -U "$sock" tmpdisk 8M type=vfat label=FATDISK
    nbdcopy "$uri" "$tmp/d.img"
    [ "$(blkid -o value -s TYPE "$tmp/d.img")" = vfat ]
    [ "$(blkid -o value -s LABEL "$tmp/d.img")" = FATDISK ]
    stop_server
fi

# command=: the variables, and the size the command made.
cmd='truncate -s $((size / 2)) "$disk"
printf "%s|%s|%s|%s" "$greeting" "$size" "${type-unset}" "${disk##*/}" |
    dd of="$disk" conv=notrunc status=none'
start_server -U "$sock" tmpdisk 1M greeting="it's \$HOME" command="$cmd"
nbdcopy "$uri" "$tmp/ours.cmd"
stop_server
[ "$(stat -c %s "$tmp/ours.cmd")" = 524288 ]
[ "$(head -c 30 "$tmp/ours.cmd" | tr -d '\0')" = "it's \$HOME|1048576|unset|disk" ]

# A failing command fails the connection and says why.
start_server -U "$sock" tmpdisk 1M command='echo broken >&2; exit 3'
fails nbdinfo --size "$uri"
grep -q 'exited with code 3: broken' "$tmp/server.log"
stop_server
[ -z "$(ls "$TMPDIR")" ]
# size= is required; keys must be shell variable names.
fails "$NBDX" -f -U "$tmp/s2" tmpdisk label=x 2>"$tmp/err"
grep -q 'size=' "$tmp/err"
fails "$NBDX" -f -U "$tmp/s2" tmpdisk 1M my-var=x 2>/dev/null

if nbdkit tmpdisk --dump-plugin >/dev/null 2>&1; then
    NBDX=nbdkit start_server -U "$sock" tmpdisk 16M label=scratch
    nbdinfo "$uri" | grep -Ev 'uri:|block_size_|content:' >"$tmp/theirs.info"
    nbdcopy "$uri" "$tmp/theirs.img"
    stop_server
    diff -u "$tmp/theirs.info" "$tmp/ours.info"
    [ "$(blkid -o value -s TYPE "$tmp/theirs.img")" = ext4 ]
    NBDX=nbdkit start_server -U "$sock" tmpdisk 1M greeting="it's \$HOME" \
        command="$cmd"
    nbdcopy "$uri" "$tmp/theirs.cmd"
    stop_server
    cmp "$tmp/theirs.cmd" "$tmp/ours.cmd"
else
    echo "nbdkit's tmpdisk plugin is not installed: not compared"
fi
