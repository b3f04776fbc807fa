#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# lua.sh: a Lua script keeping a writable RAM disk in 4 KiB blocks works
# with nbdcopy and qemu-img; its bare parameters reach its config; its
# can_* functions are what the client sees; error() in a function
# reaches the client as EIO with the script's file and line logged; a
# syntax error, an error at the top level or a missing required
# function stops nbdx at start-up with one clear line.  Debian's nbdkit
# lua plugin, if installed, serves the same script the same way.
# Skipped (77) if the lua plugin was not built.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/ramdisk.sh"
[ -e "$BUILDDIR/plugins/lua/nbdkit-lua-plugin.so" ] ||
    { echo "SKIP: the lua plugin was not built"; exit 77; }
requires nbdsh nbdcopy nbdinfo qemu-img truncate
set -x

# Lua 5.3 compatible, for Debian's nbdkit lua plugin.
cat >"$tmp/disk.lua" <<'EOF'
local bs = 4096
local size = nil
local blocks = {}
local zeroes = string.rep("\0", bs)
flushes = 0

function config (key, value)
  if key == "size" then size = tonumber (value)
  else error ("unknown parameter " .. key) end
end
function config_complete ()
  if size == nil then error ("size= is required") end
end
function dump_plugin () print ("ramdisk_blocksize=" .. bs) end
function open (readonly) return { readonly = readonly } end
function get_size (h) return size end
function can_flush (h) return true end
function can_trim (h) return true end
function is_rotational (h) return true end

-- each (block, start in block, length) of the range at offset
local function chunks (count, offset)
  local o, e = offset, offset + count
  return function ()
    if o >= e then return nil end
    local i = o // bs
    local s = o - i * bs
    local n = math.min (bs - s, e - o)
    o = o + n
    return i, s, n
  end
end

function pread (h, count, offset)
  if count == 7 then error ("injected read error") end
  local parts = {}
  for i, s, n in chunks (count, offset) do
    parts[#parts + 1] = (blocks[i] or zeroes):sub (s + 1, s + n)
  end
  return table.concat (parts)
end
function pwrite (h, buf, offset)
  local p = 1
  for i, s, n in chunks (#buf, offset) do
    local b = blocks[i] or zeroes
    blocks[i] = b:sub (1, s) .. buf:sub (p, p + n - 1) .. b:sub (s + n + 1)
    p = p + n
  end
end
function zero (h, count, offset, may_trim)
  for i, s, n in chunks (count, offset) do
    if n == bs then blocks[i] = nil
    else
      local b = blocks[i] or zeroes
      blocks[i] = b:sub (1, s) .. zeroes:sub (1, n) .. b:sub (s + n + 1)
    end
  end
end
function trim (h, count, offset) zero (h, count, offset, true) end
function flush (h) flushes = flushes + 1 end
EOF

ramdisk_source
start_server -U "$sock" lua "$tmp/disk.lua" size=4194304
ramdisk_check "$uri"
grep "pread: .*disk.lua:[0-9]*: injected read error" "$tmp/server.log"
stop_server
"$NBDX" lua "$tmp/disk.lua" size=1048576 --dump-plugin >"$tmp/dump"
grep '^lua_version=5\.4' "$tmp/dump"
grep '^ramdisk_blocksize=4096$' "$tmp/dump"
grep '^thread_model=serialize_all_requests$' "$tmp/dump"
# -r: the client sees a read-only disk.
start_server -r -U "$sock" lua script="$tmp/disk.lua" size=1048576
nbdsh_u -c 'assert h.is_read_only()'
stop_server

# A script without pwrite, flush or trim: read-only, without flush or
# trim, zero emulated.
cat >"$tmp/ro.lua" <<'EOF'
function open (readonly) return nil end
function get_size (h) return 1024 end
function pread (h, count, offset) return string.rep ("a", count) end
EOF
start_server -U "$sock" lua "$tmp/ro.lua"
nbdsh_u -c '
assert h.is_read_only()
assert not h.can_flush() and not h.can_trim() and not h.is_rotational()
assert h.pread(1024, 0) == b"a" * 1024
'
stop_server

# Start-up errors: one line naming the file and line, and no server.
startup_fails() {
    local f="$tmp/$1.lua"
    printf '%b' "$2" >"$f"
    shift 2
    if timeout 20 "$NBDX" -f -U "$tmp/sock2" lua "$f" "$@" 2>"$tmp/err"
    then exit 1; fi
    cat "$tmp/err"
    [ "$(wc -l <"$tmp/err")" = 1 ]
    [ ! -e "$tmp/sock2" ]
}
startup_fails syntax 'function open (readonly)\n  return 1\nend\nfunction get_size (h\n  return 1\nend\n'
grep "could not load Lua script: .*syntax.lua:5: .*expected" "$tmp/err"
startup_fails toplevel 'x = 1\nerror ("top level failure")\n'
grep "could not run Lua script: .*toplevel.lua:2: top level failure" "$tmp/err"
startup_fails missing 'function open (readonly) return 1 end\n'
grep "missing.lua: .*open, get_size and pread" "$tmp/err"
startup_fails param "$(cat "$tmp/disk.lua")" size=1048576 colour=red
grep "config: .*param.lua:[0-9]*: unknown parameter colour" "$tmp/err"
startup_fails noconfig "$(cat "$tmp/ro.lua")" size=1048576
grep "noconfig.lua: this plugin does not need command line configuration" "$tmp/err"
fails timeout 20 "$NBDX" -f -U "$tmp/sock2" lua "$tmp/nonexistent.lua" 2>"$tmp/err"
grep "nonexistent.lua" "$tmp/err"

# Debian's nbdkit serves the same script the same way, if installed.
if command -v nbdkit >/dev/null && nbdkit lua --version >/dev/null 2>&1
then
    NBDX=$(command -v nbdkit) start_server -U "$tmp/nsock" \
        lua "$tmp/disk.lua" size=4194304
    ramdisk_check "nbd+unix:///?socket=$tmp/nsock"
    grep "^nbdkit: .*pread: .*disk.lua:[0-9]*: injected read error" "$tmp/server.log"
fi
