#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# perl.sh: a writable RAM disk written in Perl serves nbdcopy (several
# connections at once) and qemu-img; parameters after the script reach
# its config sub; Nbdkit::set_error and die reach nbdsh as the errno and
# the server log as the message; a missing can_* follows the sub it
# guards (no trim sub, no trim); a script with a syntax error fails at
# startup with one line naming the file and line.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy nbdinfo qemu-img
[ -e "$BUILDDIR/plugins/perl/nbdkit-perl-plugin.so" ] ||
    { echo "SKIP: the perl plugin was not built"; exit 77; }
set -x

cat >"$tmp/ram.pl" <<'EOF'
use strict;
use warnings;
use POSIX ();
my ($size, $disk);
my $flushes = 0;
sub config {
    my ($key, $value) = @_;
    die "unknown parameter $key\n" unless $key eq "size";
    $size = $value;
}
sub config_complete {
    die "size= is required\n" unless defined $size;
    $disk = "\0" x $size;
}
sub open { my $readonly = shift; return { readonly => $readonly }; }
sub get_size { return $size; }
sub can_fua { return $Nbdkit::FUA_NATIVE; }
# nbdkit's perl plugin does not infer it from pwrite.
sub can_write { 1 }
sub pread {
    my ($h, $count, $offset, $flags) = @_;
    return substr($disk, $offset, $count);
}
sub pwrite {
    my ($h, $buf, $offset, $flags) = @_;
    if ($offset == 1 && $buf eq "E") {
        Nbdkit::set_error(POSIX::ENOSPC);
        die "poisoned write\n";
    }
    die "plain die" if $offset == 2 && $buf eq "D";
    substr($disk, $offset, length $buf) = $buf;
    $flushes++ if $flags & $Nbdkit::FLAG_FUA;
}
sub flush { $flushes++; }
sub zero {
    my ($h, $count, $offset, $flags) = @_;
    substr($disk, $offset, $count) = "\0" x $count;
}
END { print STDERR "perl-end flushes=$flushes\n"; }
EOF

# Data through nbdcopy (4 connections) and back, compared by qemu-img.
head -c 4M /dev/urandom >"$tmp/data"
start_server -U "$sock" perl "$tmp/ram.pl" size=4194304
nbdcopy --connections=4 "$tmp/data" "$uri"
nbdcopy "$uri" "$tmp/back"
cmp "$tmp/data" "$tmp/back"
qemu-img compare -f raw -F raw "$tmp/data" "$uri"
nbdsh_u -c '
assert h.get_size() == 4 << 20
assert not h.is_read_only()
assert h.can_flush() and h.can_zero() and h.can_fua()
assert not h.can_trim(), "trim without a trim sub"
for off, buf, errno in [(1, b"E", "ENOSPC"), (2, b"D", "EIO")]:
    try:
        h.pwrite(buf, off)
        assert False, "write %r succeeded" % buf
    except nbd.Error as e:
        assert e.errno == errno, (buf, e.errno)
h.pwrite(b"hello", 4096, nbd.CMD_FLAG_FUA)
h.flush()
h.zero(2, 4097)
assert h.pread(5, 4096) == b"h\0\0lo"
'
stop_server
grep -q 'pwrite: poisoned write$' "$tmp/server.log"
grep -q 'pwrite: plain die at .*ram.pl line 30\.' "$tmp/server.log"
# END blocks run at exit: one FUA write and one flush were counted.
grep -q 'perl-end flushes=2' "$tmp/server.log"

# The config sub refuses an unknown parameter; config_complete's die.
fails "$NBDX" -f -U "$tmp/s1" perl "$tmp/ram.pl" size=1 colour=red \
    2>"$tmp/err"
grep -q 'config: unknown parameter colour' "$tmp/err"
fails "$NBDX" -f -U "$tmp/s1" perl "$tmp/ram.pl" 2>"$tmp/err"
grep -q 'config_complete: size= is required' "$tmp/err"

# A read-only script: no pwrite sub, no writes.
cat >"$tmp/ro.pl" <<'EOF'
sub open { 1 }
sub get_size { 512 }
sub pread { my ($h, $count) = @_; return "x" x $count; }
EOF
"$NBDX" -U - perl "$tmp/ro.pl" --run 'nbdsh -u "$uri" -c "
assert h.is_read_only()
assert h.pread(3, 509) == b\"xxx\"
"'

# A syntax error: one error line with the file and line, no socket.
printf 'sub open { 1 }\nmy $x = ;\n' >"$tmp/bad.pl"
fails timeout 60 "$NBDX" -f -U "$tmp/s2" perl "$tmp/bad.pl" 2>"$tmp/err"
cat "$tmp/err"
# (the set -x trace of the command is in err too)
[ "$(grep -vc "^+" "$tmp/err")" = 1 ]
grep -q "syntax error at $tmp/bad.pl line 2" "$tmp/err"
[ ! -e "$tmp/s2" ]

# A script without a required sub.
echo 'sub open { 1 }' >"$tmp/half.pl"
fails "$NBDX" -f -U "$tmp/s3" perl "$tmp/half.pl" 2>"$tmp/err"
grep -q "the script has no 'get_size' sub" "$tmp/err"

"$NBDX" perl --dump-plugin | grep -qx "perl_version=$(perl -e 'printf "%vd", $^V')"

# The same script under nbdkit's perl plugin, when installed, holds the
# same bytes and fails the same write the same way.
if command -v nbdkit >/dev/null &&
    nbdkit perl --dump-plugin >/dev/null 2>&1; then
    cat >"$tmp/enospc.py" <<'EOF'
try:
    h.pwrite(b"E", 1)
    assert False, "poisoned write succeeded"
except nbd.Error as e:
    assert e.errno == "ENOSPC", e.errno
EOF
    nbdkit -U - perl "$tmp/ram.pl" size=4194304 --run "
        nbdcopy '$tmp/data' \"\$uri\" &&
        nbdcopy \"\$uri\" '$tmp/back-nbdkit' &&
        nbdsh -u \"\$uri\" -c 'exec(open(\"$tmp/enospc.py\").read())'" 2>"$tmp/nbdkit.log"
    cmp "$tmp/data" "$tmp/back-nbdkit"
    grep -q 'poisoned write' "$tmp/nbdkit.log"
fi
