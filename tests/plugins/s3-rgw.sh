#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# s3-rgw.sh: the s3 plugin against Ceph's radosgw, on a single-node
# cluster of its own (tests/helpers/ceph.sh; access key TESTACCESS,
# secret TESTSECRET): the checks of tests/plugins/s3-checks.sh; the
# blocks written are radosgw's objects in the pool of its buckets'
# data; a 16 MiB disk of 1 MiB blocks is copied in and out over four
# connections.  Skipped (77) if the plugin was not built or Ceph's
# daemons or radosgw are not installed.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
. "$SRCDIR/tests/helpers/ceph.sh"
requires nbdcopy nbdinfo nbdsh qemu-img curl python3 rados
[ -e "$BUILDDIR/plugins/s3/nbdkit-s3-plugin.so" ] ||
    { echo "SKIP: the s3 plugin was not built"; exit 77; }
ceph_requires rgw
set -x
watchdog 270
export tmp
ceph_start rgw
s3_url=$rgw_url s3_access=TESTACCESS s3_secret=TESTSECRET

. "$SRCDIR/tests/plugins/s3-checks.sh"

# radosgw keeps the blocks as RADOS objects of its data pool.
rados -c "$conf" -p default.rgw.buckets.data ls >"$tmp/rados"
grep -c 'vm/disk1/block-' "$tmp/rados" | grep -qx 26

# A bigger disk of 1M objects, in and out over 4 connections.
random_file "$tmp/big" 16384 # 16 MiB
s3_curl -X PUT -o /dev/null /big
start_server -U "$sock" s3 "${creds[@]}" bucket=big key=disk size=16M \
    object-size=1M connections=4
nbdcopy -C 4 --requests=8 "$tmp/big" "$uri"
nbdcopy -C 4 --requests=8 "$uri" "$tmp/big2"
cmp "$tmp/big" "$tmp/big2"
stop_server
[ "$(objects big disk/block-)" = 16 ]
