#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tcl.sh: a Tcl script keeping a writable RAM disk in 4 KiB blocks works
# with nbdcopy and qemu-img; its bare parameters reach its config; its
# can_* procs are what the client sees; error in a proc reaches the
# client as EIO with the message logged; a missing brace, an error at
# the top level or a missing required proc stops nbdx at start-up with
# one clear line naming the file and line.  Debian's nbdkit tcl plugin,
# if installed, serves the same script the same way.
# Skipped (77) if the tcl plugin was not built.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/ramdisk.sh"
[ -e "$BUILDDIR/plugins/tcl/nbdkit-tcl-plugin.so" ] ||
    { echo "SKIP: the tcl plugin was not built"; exit 77; }
requires nbdsh nbdcopy nbdinfo qemu-img truncate
set -x

cat >"$tmp/disk.tcl" <<'EOF'
set bs 4096
set size ""
set zeroes [binary format x$bs]
array set blocks {}
set flushes 0

proc config {key value} {
    if {$key eq "size"} {
        set ::size $value
    } else {
        error "unknown parameter $key"
    }
}
proc config_complete {} {
    if {$::size eq ""} { error "size= is required" }
}
proc dump_plugin {} { puts "ramdisk_blocksize=$::bs" }
proc plugin_open {readonly} { return [list readonly $readonly] }
proc get_size {h} { return $::size }
proc can_flush {h} { return true }
proc can_trim {h} { return 1 }
proc is_rotational {h} { return yes }

proc block {i} {
    if {[info exists ::blocks($i)]} { return $::blocks($i) }
    return $::zeroes
}
# Each block, start in the block and length of the range at offset.
proc chunks {count offset} {
    set r {}
    set o $offset
    set e [expr {$offset + $count}]
    while {$o < $e} {
        set i [expr {$o / $::bs}]
        set s [expr {$o - $i * $::bs}]
        set n [expr {min($::bs - $s, $e - $o)}]
        lappend r $i $s $n
        incr o $n
    }
    return $r
}
proc splice {b s data} {
    set n [string length $data]
    return [string range $b 0 [expr {$s - 1}]]$data[string range $b [expr {$s + $n}] end]
}

proc pread {h count offset} {
    if {$count == 7} { error "injected read error" }
    set buf ""
    foreach {i s n} [chunks $count $offset] {
        append buf [string range [block $i] $s [expr {$s + $n - 1}]]
    }
    return $buf
}
proc pwrite {h buf offset} {
    set p 0
    foreach {i s n} [chunks [string length $buf] $offset] {
        set data [string range $buf $p [expr {$p + $n - 1}]]
        set ::blocks($i) [splice [block $i] $s $data]
        incr p $n
    }
}
proc zero {h count offset may_trim} {
    foreach {i s n} [chunks $count $offset] {
        if {$n == $::bs} {
            unset -nocomplain ::blocks($i)
        } else {
            set ::blocks($i) [splice [block $i] $s [binary format x$n]]
        }
    }
}
proc trim {h count offset} { zero $h $count $offset 1 }
proc plugin_flush {h} { incr ::flushes }
EOF

ramdisk_source
start_server -U "$sock" tcl "$tmp/disk.tcl" size=4194304
ramdisk_check "$uri"
grep "pread: injected read error" "$tmp/server.log"
stop_server
"$NBDX" tcl "$tmp/disk.tcl" size=1048576 --dump-plugin >"$tmp/dump"
grep '^tcl_version=8\.6$' "$tmp/dump"
grep '^tcl_patch_level=8\.6\.' "$tmp/dump"
grep '^ramdisk_blocksize=4096$' "$tmp/dump"
grep '^thread_model=serialize_all_requests$' "$tmp/dump"
# -r: the client sees a read-only disk.
start_server -r -U "$sock" tcl script="$tmp/disk.tcl" size=1048576
nbdsh_u -c 'assert h.is_read_only()'
stop_server

# A script without pwrite, plugin_flush or trim: read-only, without
# flush or trim.
cat >"$tmp/ro.tcl" <<'EOF'
proc plugin_open {readonly} { return "" }
proc get_size {h} { return 1024 }
proc pread {h count offset} { return [string repeat a $count] }
EOF
start_server -U "$sock" tcl "$tmp/ro.tcl"
nbdsh_u -c '
assert h.is_read_only()
assert not h.can_flush() and not h.can_trim() and not h.is_rotational()
assert h.pread(1024, 0) == b"a" * 1024
'
stop_server

# Start-up errors: one line naming the file and line, and no server.
startup_fails() {
    local f="$tmp/$1.tcl"
    printf '%b' "$2" >"$f"
    shift 2
    if timeout 20 "$NBDX" -f -U "$tmp/sock2" tcl "$f" "$@" 2>"$tmp/err"
    then exit 1; fi
    cat "$tmp/err"
    [ "$(wc -l <"$tmp/err")" = 1 ]
    [ ! -e "$tmp/sock2" ]
}
startup_fails brace 'proc plugin_open {ro} {\n  return 1\n}\nproc get_size {h} {\n  return 1\n\nproc pread {h c o} {}\n'
grep "could not load Tcl script: .*brace.tcl: line 4: missing close-brace" "$tmp/err"
startup_fails expr 'set x 1\nset y [expr {1 +}]\n'
grep "could not load Tcl script: .*expr.tcl: line 2: missing operand" "$tmp/err"
startup_fails toplevel 'set x 1\n\nerror "top level failure"\n'
grep "could not load Tcl script: .*toplevel.tcl: line 3: top level failure" "$tmp/err"
startup_fails missing 'proc plugin_open {ro} { return 1 }\n'
grep "missing.tcl: .*plugin_open, get_size and pread" "$tmp/err"
startup_fails param "$(cat "$tmp/disk.tcl")" size=1M colour=red
grep "config: unknown parameter colour" "$tmp/err"
startup_fails noconfig "$(cat "$tmp/ro.tcl")" size=1M
grep "noconfig.tcl: this plugin does not need command line configuration" "$tmp/err"
if timeout 20 "$NBDX" -f -U "$tmp/sock2" tcl "$tmp/nonexistent.tcl" 2>"$tmp/err"
then exit 1; fi
grep "nonexistent.tcl: No such file" "$tmp/err"

# Debian's nbdkit serves the same script the same way, if installed.
if command -v nbdkit >/dev/null && nbdkit tcl --version >/dev/null 2>&1
then
    NBDX=$(command -v nbdkit) start_server -U "$tmp/nsock" \
        tcl "$tmp/disk.tcl" size=4194304
    ramdisk_check "nbd+unix:///?socket=$tmp/nsock"
    grep "^nbdkit: .*pread: injected read error" "$tmp/server.log"
fi
