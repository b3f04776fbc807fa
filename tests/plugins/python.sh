#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# python.sh: a Python script keeping a writable RAM disk in a bytearray
# works with nbdcopy and qemu-img; pread gets a writable memoryview of the
# request buffer, released after the call; nbdkit.set_error's errno
# reaches the client and an exception without it is EIO, its traceback
# logged; the script's extents are what nbdinfo --map shows, the same as
# under nbdkit's python plugin; nbdkit.parse_size and export_name work;
# API_VERSION 1 scripts work; --dump-plugin shows the Python version; a
# syntax error is one line with the file and line.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy nbdinfo qemu-img
if [ ! -e "$BUILDDIR/plugins/python/nbdkit-python-plugin.so" ]; then
    echo "SKIP: the python plugin was not built"
    exit 77
fi
set -x

# The disk is in 64K blocks; a block never written is a hole and reads
# as zeroes.  Writes of 5 bytes fail with ENOSPC, reads of 3 bytes with
# a bare exception.
cat >"$tmp/ram.py" <<'EOF'
API_VERSION = 2
import errno
import nbdkit

BLOCK = 65536
size = 0
disk = None
written = set()
views = []

def config(key, value):
    global size
    if key != "size":
        raise RuntimeError("unknown parameter " + key)
    size = nbdkit.parse_size(value)

def config_complete():
    global disk
    if size == 0:
        raise RuntimeError("size= is required")
    disk = bytearray(size)

def thread_model():
    return nbdkit.THREAD_MODEL_PARALLEL

def open(readonly):
    return nbdkit.export_name()

def export_description(h):
    return "export:" + h

def get_size(h):
    return len(disk)

def can_multi_conn(h):
    return True

def pread(h, buf, offset, flags):
    assert isinstance(buf, memoryview) and not buf.readonly
    for v in views:
        try:
            len(v)
            raise RuntimeError("an old pread buffer is still usable")
        except ValueError:
            pass
    views[:] = [buf]
    if len(buf) == 3:
        raise RuntimeError("read error on purpose")
    buf[:] = memoryview(disk)[offset:offset + len(buf)]

def mark(offset, count):
    for b in range(offset // BLOCK, (offset + count + BLOCK - 1) // BLOCK):
        written.add(b)

def pwrite(h, buf, offset, flags):
    assert buf.readonly
    if len(buf) == 5:
        nbdkit.set_error(errno.ENOSPC)
        raise RuntimeError("no room on purpose")
    disk[offset:offset + len(buf)] = buf
    mark(offset, len(buf))

# Zeroing whole blocks makes them holes again.
def zero(h, count, offset, flags):
    disk[offset:offset + count] = bytes(count)
    first = (offset + BLOCK - 1) // BLOCK
    for b in range(first, (offset + count) // BLOCK):
        written.discard(b)
    if offset % BLOCK:
        mark(offset, 1)
    if (offset + count) % BLOCK:
        mark(offset + count - 1, 1)

def flush(h, flags):
    pass

def extents(h, count, offset, flags):
    out = []
    b = offset // BLOCK
    while b * BLOCK < min(offset + count, len(disk)):
        t = 0 if b in written else nbdkit.EXTENT_HOLE | nbdkit.EXTENT_ZERO
        out.append((b * BLOCK, BLOCK, t))
        b += 1
    return out
EOF

# Data through nbdcopy and back, compared by qemu-img.
dd if=/dev/urandom of="$tmp/src" bs=64K count=12 status=none
truncate -s 4M "$tmp/src"
start_server -U "$sock" python "$tmp/ram.py" size=4M
[ "$(nbdinfo --size "$uri")" = 4194304 ]
nbdcopy "$tmp/src" "$uri"
qemu-img compare -f raw -F raw "$tmp/src" "$uri"
nbdcopy -- "$uri" - >"$tmp/back"
cmp "$tmp/src" "$tmp/back"
nbdinfo "nbd+unix:///foo?socket=$sock" >"$tmp/info"
grep "description: export:foo" "$tmp/info"
grep "can_multi_conn: true" "$tmp/info"

# Errors: set_error's errno, else EIO; the traceback is logged.
nbdsh_u -c '
import errno
try:
    h.pwrite(b"x" * 5, 1024 * 1024)
    assert False, "pwrite succeeded"
except nbd.Error as e:
    assert e.errnum == errno.ENOSPC, e
try:
    h.pread(3, 2 * 1024 * 1024)
    assert False, "pread succeeded"
except nbd.Error as e:
    assert e.errnum == errno.EIO, e
assert h.pread(4, 0) == open("'"$tmp/src"'", "rb").read(4)
'
grep 'ram.py: pwrite: error: Traceback' "$tmp/server.log"
grep 'RuntimeError: no room on purpose' "$tmp/server.log"
grep 'RuntimeError: read error on purpose' "$tmp/server.log"

# Extents: 768K written (12 blocks) from nbdcopy, then zeroes.
nbdinfo --map "$uri" >"$tmp/map"
cat "$tmp/map"
[ "$(wc -l <"$tmp/map")" = 2 ]
grep -E '^ +0 +786432 +0 +data$' "$tmp/map"
grep -E '^ +786432 +3407872 +3 +hole,zero$' "$tmp/map"
stop_server

# nbdkit's python plugin answers the same map for the same script.
if command -v nbdkit >/dev/null &&
    nbdkit python --dump-plugin >/dev/null 2>&1; then
    NBDX=$(command -v nbdkit) start_server -U "$sock" python "$tmp/ram.py" \
        size=4M
    nbdcopy "$tmp/src" "$uri"
    nbdinfo --map "$uri" >"$tmp/map.nbdkit"
    stop_server
    diff -u "$tmp/map.nbdkit" "$tmp/map"
else
    echo "nbdkit's python plugin is not installed: no comparison"
fi

# parse_size rejects a bad size: the configuration fails.
fails timeout 20 "$NBDX" -f -U "$tmp/sock2" python "$tmp/ram.py" size=12Q 2>"$tmp/err"
cat "$tmp/err"
grep 'ValueError: Unable to parse string as size' "$tmp/err"
fails timeout 20 "$NBDX" -f -U "$tmp/sock2" python "$tmp/ram.py" 2>"$tmp/err"
grep 'RuntimeError: size= is required' "$tmp/err"

# An API_VERSION 1 script: pread returns the data; no thread_model means
# serialize_all_requests, as with nbdkit.
cat >"$tmp/v1.py" <<'EOF'
def open(readonly):
    return 1
def get_size(h):
    return 1000
def pread(h, count, offset):
    return bytes((offset + i) % 251 for i in range(count))
EOF
start_server -U "$sock" python "$tmp/v1.py"
nbdsh_u -c '
assert h.is_read_only()
assert h.pread(10, 500) == bytes((500 + i) % 251 for i in range(10))
'
stop_server
"$NBDX" python "$tmp/v1.py" --dump-plugin >"$tmp/dump"
grep '^thread_model=serialize_all_requests$' "$tmp/dump"
grep -E '^python_version=3\.[0-9]+' "$tmp/dump"
grep -E '^python_pep_384_abi_version=[0-9]+$' "$tmp/dump"

# A syntax error: one line with the file and line, and nbdx exits.
printf 'API_VERSION = 2\n\ndef open(readonly)\n    return 1\n' >"$tmp/bad.py"
fails timeout 20 "$NBDX" -f -U "$tmp/sock2" python "$tmp/bad.py" 2>"$tmp/err"
cat "$tmp/err"
[ "$(grep -vc "^+" "$tmp/err")" = 1 ]
grep -F "$tmp/bad.py:3: SyntaxError: expected ':'" "$tmp/err"

# A script without pread is refused at once.
printf 'def open(readonly):\n    return 1\ndef get_size(h):\n    return 1\n' \
    >"$tmp/nopread.py"
fails timeout 20 "$NBDX" -f -U "$tmp/sock2" python "$tmp/nopread.py" 2>"$tmp/err"
grep "'pread'" "$tmp/err"
