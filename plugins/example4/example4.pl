#!@NBDX@ perl
# SPDX-License-Identifier: BSD-3-Clause
# example4: the example plugin written in Perl (see nbdx-example4-plugin(1)
# and nbdx-perl-plugin(1)).  One RAM disk of size= bytes, zeros at first,
# shared by every client and thrown away when the server exits.
#
# The perl plugin calls the subs below by name; a sub that is not defined
# is a callback the plugin does not have, and die() fails the request
# with its message logged.

use strict;
use warnings;

my $size;    # size=, in bytes
my $disk;    # the disk: a string of $size bytes

# Each key=value given after the plugin name.
sub config
{
    my ($key, $value) = @_;

    die "unknown parameter $key" unless $key eq "size";
    die "size=$value: not a number of bytes" unless $value =~ /^\d+$/;
    $size = $value;
}

# After the last parameter: size= is required; the disk is made here.
sub config_complete
{
    die "size was not set (size=BYTES is required)" unless defined $size;
    $disk = "\0" x $size;
}

# A connection: its handle can be anything; here, whether it is read-only.
sub open
{
    my ($readonly) = @_;
    return { readonly => $readonly };
}

sub get_size
{
    return length $disk;
}

# Reads and writes inside the disk: the server has checked the range.
sub pread
{
    my ($h, $count, $offset, $flags) = @_;
    return substr $disk, $offset, $count;
}

sub pwrite
{
    my ($h, $buf, $offset, $flags) = @_;
    substr ($disk, $offset, length $buf) = $buf;
}
