#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sh.sh: a shell script plugin keeping a writable disk in $tmpdir works
# with nbdcopy and qemu-img; its bare parameter goes to the key its
# magic_config_key prints; its errno names reach the client; can_* exits
# 3 make the export read-only and without flush; its extents are what
# nbdinfo --map shows; open sees the export name; $tmpdir is removed
# and unload run at exit.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy nbdinfo qemu-img dd truncate
set -x

export SH_TEST_OUT="$tmp"
cat >"$tmp/disk.sh" <<'EOF'
#!/bin/sh
f=$tmpdir/disk
case "$1" in
  magic_config_key) echo size ;;
  config)
    [ "$2" = size ] || { echo "EINVAL unknown key $2" >&2; exit 1; }
    echo "$3" >"$tmpdir/size"
    echo "$tmpdir" >"$SH_TEST_OUT/tmpdir" ;;
  config_complete)
    truncate -s "$(cat "$tmpdir/size")" "$f" ;;
  thread_model) echo parallel ;;
  open) echo "h-$2-$3-$4" ;;
  export_description) echo "desc:$2" ;;
  get_size) stat -c %s "$f" ;;
  can_write|can_flush|can_zero) exit 0 ;;
  can_trim) exit 3 ;;
  pread)
    if [ "$3" = 3 ]; then echo short; exit 0; fi
    dd if="$f" bs=1M skip="$4" count="$3" iflag=skip_bytes,count_bytes \
       status=none ;;
  pwrite)
    case "$3" in
      3) echo "ENOSPC no room" >&2; exit 1 ;;
      5) echo "EPERM" >&2; exit 1 ;;
      7) exit 1 ;;
    esac
    dd of="$f" bs=1M seek="$4" conv=notrunc oflag=seek_bytes \
       iflag=fullblock status=none ;;
  unload) touch "$SH_TEST_OUT/unloaded" ;;
  *) exit 2 ;;
esac
EOF
chmod +x "$tmp/disk.sh"

# Data through nbdcopy and back, compared by qemu-img.  The script has
# no zero method, so zeroes go through pwrite.
dd if=/dev/urandom of="$tmp/src" bs=1M count=3 status=none
truncate -s 4M "$tmp/src"
start_server -U "$sock" sh "$tmp/disk.sh" 4M
[ "$(nbdinfo --size "$uri")" = 4194304 ]
nbdcopy "$tmp/src" "$uri"
qemu-img compare -f raw -F raw "$tmp/src" "$uri"
nbdcopy -- "$uri" - >"$tmp/back"
cmp "$tmp/src" "$tmp/back"
nbdinfo "nbd+unix:///foo?socket=$sock" >"$tmp/info"
grep "description: desc:h-false-foo-false" "$tmp/info"

nbdsh_u -c '
import errno
assert not h.is_read_only()
assert h.can_flush() and h.can_zero() and h.can_fua()
assert not h.can_trim() and not h.can_multi_conn() and not h.can_cache()
assert not h.can_fast_zero()
h.zero(4096, 8192)
assert h.pread(4096, 8192) == bytes(4096)
for n, want in [(3, "ENOSPC"), (5, "EPERM"), (7, "EIO")]:
    try:
        h.pwrite(b"x" * n, 0)
        assert False, "pwrite of %d succeeded" % n
    except nbd.Error as e:
        assert e.errno == want, (n, e.errno, e.string)
try:
    h.pread(3, 0)
    assert False, "short pread succeeded"
except nbd.Error as e:
    assert e.errno == "EIO", e.errno
h.flush()
'
grep "disk.sh: no room" "$tmp/server.log"
grep "expected 3 bytes" "$tmp/server.log"
td=$(cat "$tmp/tmpdir")
[ -f "$td/disk" ]
stop_server
[ ! -e "$td" ]
[ -f "$tmp/unloaded" ]

# --dump-plugin runs the script's dump_plugin, then unloads: the
# $tmpdir is gone afterwards too.
rm "$tmp/unloaded" "$tmp/tmpdir"
"$NBDX" --dump-plugin sh "$tmp/disk.sh" 1M >"$tmp/dump"
grep "^name=sh$" "$tmp/dump"
td=$(cat "$tmp/tmpdir")
[ -n "$td" ] && [ ! -e "$td" ]
[ -f "$tmp/unloaded" ]

# A script run by path, its #! line naming the server ("./disk.sh -U
# sock"): its methods run under /bin/sh, not by starting more servers.
# The nbdx it names is a wrapper that refuses to nest, so a regression
# fails instead of forking without end.
mkdir "$tmp/bin"
cat >"$tmp/bin/nbdx" <<EOF
#!/bin/sh
[ "\${SH_TEST_DEPTH:-0}" -ge 1 ] && { echo "nested server" >&2; exit 99; }
SH_TEST_DEPTH=1 exec "$NBDX" "\$@"
EOF
chmod +x "$tmp/bin/nbdx"
{ echo "#!$tmp/bin/nbdx sh"; tail -n +2 "$tmp/disk.sh"; } >"$tmp/exec.sh"
chmod +x "$tmp/exec.sh"
[ "$(timeout 60 "$tmp/exec.sh" -U - 2M --run 'nbdinfo --size "$uri"')" = \
  2097152 ]

# can_write exit 3: read-only; extents as the script prints them.
cat >"$tmp/ro.sh" <<'EOF'
#!/bin/sh
case "$1" in
  get_size) echo 4M ;;
  can_write|can_flush) exit 3 ;;
  can_extents) exit 0 ;;
  pread) head -c "$3" /dev/zero ;;
  extents)
    echo "0 1M"
    echo "1M 1048576 hole,zero"
    echo "2M 1M 2"
    echo "3M 1M data" ;;
  *) exit 2 ;;
esac
EOF
chmod +x "$tmp/ro.sh"
start_server -U "$sock" sh "$tmp/ro.sh"
nbdsh_u -c '
assert h.is_read_only()
assert not h.can_flush() and not h.can_fua() and not h.can_zero()
'
nbdinfo --map "$uri" | awk '{print $1, $2, $3}' >"$tmp/map"
cat "$tmp/map"
printf '%s\n' "0 1048576 0" "1048576 1048576 3" "2097152 1048576 2" \
    "3145728 1048576 0" >"$tmp/want"
# Adjacent extents of the same type may be merged by the client.
diff "$tmp/want" "$tmp/map"
stop_server
# Debian's nbdkit runs the same script to the same map, if installed.
if command -v nbdkit >/dev/null && nbdkit sh --version >/dev/null 2>&1
then
    NBDX=$(command -v nbdkit) start_server -U "$tmp/nsock" sh "$tmp/ro.sh"
    nbdinfo --map "nbd+unix:///?socket=$tmp/nsock" |
        awk '{print $1, $2, $3}' | diff "$tmp/want" -
    stop_server
fi

# An inline script from stdin.  (A background server's stdin is
# /dev/null, so this one runs in the foreground with --run.)
cat >"$tmp/inline" <<'EOF'
case "$1" in
  get_size) echo 1k ;;
  pread) head -c "$3" /dev/zero | tr '\0' a ;;
  *) exit 2 ;;
esac
EOF
timeout 60 "$NBDX" -U - sh - <"$tmp/inline" \
    --run 'nbdsh -u "$uri" -c "assert h.pread(1024, 0) == b\"a\" * 1024"'
chmod -x "$tmp/ro.sh"
fails "$NBDX" -f -U "$tmp/sock2" sh "$tmp/ro.sh" 2>"$tmp/err"
grep "not executable" "$tmp/err"
