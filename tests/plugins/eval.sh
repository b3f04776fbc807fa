#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# eval.sh: a writable disk in $tmpdir made of METHOD='code' parameters
# works with nbdcopy and qemu-img; pwrite and extents without their can_*
# methods make the export writable and with block status; other keys go
# to config; errno names reach the client; missing= stands for the
# methods not given; a method given twice, or an unknown key without
# config, is refused.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy nbdinfo qemu-img dd truncate
set -x

d='$tmpdir/disk'
start_server -U "$sock" eval \
    config='[ "$2" = size ] || exit 1; echo "$3" >"$tmpdir/size"' \
    config_complete="truncate -s \"\$(cat \$tmpdir/size)\" $d" \
    get_size="stat -c %s $d" \
    pread="dd if=$d bs=1M skip=\$4 count=\$3 iflag=skip_bytes,count_bytes status=none" \
    pwrite="if [ \$3 = 3 ]; then echo 'ENOSPC no room' >&2; exit 1; fi
            dd of=$d bs=1M seek=\$4 conv=notrunc oflag=seek_bytes iflag=fullblock status=none" \
    extents='echo 0 1M; echo 1M 1M hole,zero' \
    size=2M
[ "$(nbdinfo --size "$uri")" = 2097152 ]
nbdinfo --map "$uri" | awk '{print $1, $2, $3}' >"$tmp/map"
printf '%s\n' "0 1048576 0" "1048576 1048576 3" | diff - "$tmp/map"
# The second MiB reads as zero, as the extents say.
dd if=/dev/urandom of="$tmp/src" bs=1M count=1 status=none
truncate -s 2M "$tmp/src"
nbdcopy "$tmp/src" "$uri"
qemu-img compare -f raw -F raw "$tmp/src" "$uri"
nbdsh_u -c '
import errno
assert not h.is_read_only()
assert not h.can_trim() and not h.can_flush() and not h.can_multi_conn()
try:
    h.pwrite(b"abc", 0)
    assert False, "pwrite of 3 bytes succeeded"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e.errno
'
grep "no room" "$tmp/server.log"
stop_server

# missing= answers for every method not given.
start_server -U "$sock" eval get_size='echo 1M' \
    pread='head -c "$3" /dev/zero' \
    missing='case "$1" in can_multi_conn|is_rotational) exit 0 ;; *) exit 2 ;; esac'
nbdsh_u -c '
assert h.is_read_only()
assert h.can_multi_conn() and h.is_rotational()
assert h.pread(512, 4096) == bytes(512)
'
stop_server

fails "$NBDX" -f -U "$tmp/sock2" eval get_size='echo 1M' get_size='echo 2M' \
    pread=true 2>"$tmp/err"
grep "more than once" "$tmp/err"
fails "$NBDX" -f -U "$tmp/sock2" eval get_size='echo 1M' pread=true foo=bar \
    2>"$tmp/err"
grep "foo" "$tmp/err"

# A get_ready that fails with its reason: that one line, and no server
# line after it.
fails "$NBDX" -f -U "$tmp/sock2" eval get_size='echo 1M' pread=true \
    get_ready='echo "EIO the backend is not there" >&2; exit 1' 2>"$tmp/err"
# (Lines of set -x start with +.)
[ "$(grep -vc '^+' "$tmp/err")" = 1 ]
grep "the backend is not there" "$tmp/err"
