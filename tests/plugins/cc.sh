#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cc.sh: a RAM-disk plugin kept as C source is compiled at startup and
# serves nbdcopy and qemu-img; parameters after the source reach it, its
# errno reaches the client, EXTRA_CFLAGS reaches the compiler, the
# source can come from stdin or run itself, and a copy of the module
# outside the build tree finds the headers; a source that does not
# compile, or a compiler that fails, stops the server before it
# listens, with the compiler's own message.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy nbdinfo qemu-img cc
set -x

cat >"$tmp/ram.c" <<'EOF'
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS
#ifndef RAM_SCALE
#define RAM_SCALE 1
#endif
static char *disk;
static int64_t size = -1;
static int
ram_config (const char *key, const char *value)
{
  if (strcmp (key, "size") != 0) {
    nbdkit_error ("ram: unknown parameter '%s'", key);
    return -1;
  }
  size = nbdkit_parse_size (value);
  return size == -1 ? -1 : 0;
}
static int
ram_config_complete (void)
{
  size *= RAM_SCALE;
  disk = calloc (1, size);
  return disk ? 0 : -1;
}
static void *ram_open (int readonly) { return NBDKIT_HANDLE_NOT_NEEDED; }
static int64_t ram_get_size (void *h) { return size; }
static int
ram_pread (void *h, void *buf, uint32_t n, uint64_t off, uint32_t flags)
{
  memcpy (buf, disk + off, n);
  return 0;
}
/* One poisoned byte at offset 1 fails with ENOSPC through errno. */
static int
ram_pwrite (void *h, const void *buf, uint32_t n, uint64_t off,
            uint32_t flags)
{
  if (off == 1 && n == 1 && *(const char *) buf == 'E') {
    nbdkit_error ("ram: poisoned write");
    errno = ENOSPC;
    return -1;
  }
  memcpy (disk + off, buf, n);
  return 0;
}
static struct nbdkit_plugin plugin = {
  .name = "ram",
  .config = ram_config,
  .config_complete = ram_config_complete,
  .magic_config_key = "size",
  .errno_is_preserved = 1,
  .open = ram_open,
  .get_size = ram_get_size,
  .pread = ram_pread,
  .pwrite = ram_pwrite,
};
NBDKIT_REGISTER_PLUGIN (plugin)
EOF

# Data through nbdcopy and back, compared by qemu-img and cmp.
head -c 4M /dev/urandom >"$tmp/data"
start_server -U "$sock" cc "$tmp/ram.c" size=4M
nbdcopy "$tmp/data" "$uri"
nbdcopy "$uri" "$tmp/back"
cmp "$tmp/data" "$tmp/back"
qemu-img compare -f raw -F raw "$tmp/data" "$uri"
nbdsh_u -c '
assert h.get_size() == 4 << 20
assert not h.is_read_only()
assert not h.can_flush() and not h.can_trim()
try:
    h.pwrite(b"E", 1)
    assert False, "poisoned write succeeded"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e.errno
# Zero is emulated with writes.
h.zero(4096, 8192)
assert h.pread(4096, 8192) == bytes(4096)
'
grep -q 'ram: poisoned write' "$tmp/server.log"
stop_server

# EXTRA_CFLAGS reaches the compiler; a bare value goes to the compiled
# plugin's magic key; the source may come from stdin.
"$NBDX" -U - cc - 1M EXTRA_CFLAGS=-DRAM_SCALE=3 <"$tmp/ram.c" \
    --run 'nbdinfo --size "$uri"' >"$tmp/size"
[ "$(cat "$tmp/size")" = 3145728 ]

# A copy of the module outside the build tree still finds the headers
# (installed ones, or the source tree's).
cp "$BUILDDIR/plugins/cc/nbdkit-cc-plugin.so" "$tmp/cc-copy.so"
"$NBDX" -U - "$tmp/cc-copy.so" "$tmp/ram.c" size=1M \
    --run 'nbdinfo --size "$uri"' >"$tmp/size"
[ "$(cat "$tmp/size")" = 1048576 ]

# A source made executable with an exec line inside #if 0 runs itself.
{ printf '#if 0\nexec "$NBDX" cc "$0" "$@"\n#endif\n'; cat "$tmp/ram.c"; } \
    >"$tmp/self.c"
chmod +x "$tmp/self.c"
NBDX="$NBDX" "$tmp/self.c" -U - size=2M --run 'nbdinfo --size "$uri"' \
    >"$tmp/size"
[ "$(cat "$tmp/size")" = 2097152 ]

# Unknown parameters are the compiled plugin's to refuse.
fails "$NBDX" -U "$tmp/s1" cc "$tmp/ram.c" size=1M colour=red 2>"$tmp/err"
grep -q "ram: unknown parameter 'colour'" "$tmp/err"

# A syntax error: the compiler's message with file and line, then ours,
# and no socket.
printf '#include <nbdkit-plugin.h>\nint x = ;\n' >"$tmp/bad.c"
fails timeout 60 "$NBDX" -f -U "$tmp/s2" cc "$tmp/bad.c" 2>"$tmp/err"
cat "$tmp/err"
grep -q 'bad.c:2:.*error' "$tmp/err"
grep -q "compiling $tmp/bad.c failed: compiler exited with status 1" "$tmp/err"
[ ! -e "$tmp/s2" ]

# CC= is the compiler run.
fails "$NBDX" -f -U "$tmp/s3" cc "$tmp/ram.c" CC=false 2>"$tmp/err"
grep -q 'compiler exited with status 1' "$tmp/err"
[ ! -e "$tmp/s3" ]

# The source comes first.
fails "$NBDX" -U "$tmp/s4" cc CC=cc "$tmp/ram.c" 2>"$tmp/err"
grep -q 'the first parameter must be the C file' "$tmp/err"

# --dump-plugin shows the compiler and flags.
"$NBDX" cc --dump-plugin >"$tmp/dump"
grep -qx 'CFLAGS=-g -O2 -fPIC -shared' "$tmp/dump"
CC=gcc "$NBDX" cc --dump-plugin | grep -qx 'CC=gcc'
