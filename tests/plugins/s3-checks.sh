# SPDX-License-Identifier: BSD-3-Clause
# s3-checks.sh: what the s3 plugin must do against any S3 server,
# sourced by the tests of each server after tests/lib.sh and
# tests/helpers/clients.sh, with $s3_url (the endpoint), $s3_access and
# $s3_secret (the access key and its secret) set.  A bucket and an
# object are made with curl --aws-sigv4; the object is served read-only
# (nbdcopy, qemu-img compare); size= makes a writable disk of one object
# per block: nbdcopy and qemu-img see the bytes written, blocks never
# written are holes, unaligned writes across blocks land, the data
# survives a restart of nbdx, keys the listing gives XML-escaped are
# found again.  A wrong secret, a missing object or bucket and a closed
# port each stop nbdx at start-up with one error line.  It leaves a
# disk in bucket "disks" under "vm/disk1" (size 4M, 64K objects) and
# its bytes in $tmp/expect, for the test to go on with.

. "$SRCDIR/tests/helpers/objstore.sh"

# s3_curl ARGS... URL-PATH: a signed request (the access key's colon
# percent-encoded in the URL, as curl's --user would split at it).
s3_curl() {
    local path=${*: -1}
    curl -sf --aws-sigv4 'aws:amz:us-east-1:s3' \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "${@:1:$#-1}" \
        "${s3_url%%://*}://${s3_access//:/%3A}:$s3_secret@${s3_url#*://}$path"
}
# objects BUCKET PREFIX: the number of objects whose key starts so (at
# most 1000; the '/'s escaped, as curl signs the query as written).
objects() {
    local q=${2//\//%2F}
    s3_curl "/$1?prefix=${q//&/%26}" | grep -o '<Key>' | wc -l
}
echo "$s3_secret" >"$tmp/secret"
creds=(endpoint-url="$s3_url" access-key="$s3_access"
       secret-key=+"$tmp/secret")

objstore_images

# ---- one object, read-only ----
s3_curl -X PUT -o /dev/null /images
s3_curl -T "$tmp/obj.img" -o /dev/null /images/dir/obj.img
objstore_object s3 "${creds[@]}" bucket=images key=dir/obj.img

# ---- size=: a writable disk of 64K objects ----
s3_curl -X PUT -o /dev/null /disks
chunked=(s3 "${creds[@]}" bucket=disks key=vm/disk1 size=4M)
objstore_fill "${chunked[@]}"
[ "$(objects disks vm/disk1/block-)" = 24 ]
s3_curl -o "$tmp/blk" /disks/vm/disk1/block-0000000000000021
cmp "$tmp/blk" <(dd if="$tmp/disk.img" bs=64K skip=33 count=1 status=none)

blockdisk_writes
[ "$(objects disks vm/disk1/block-)" = 26 ]
stop_server

# A new nbdx on the same prefix serves the same disk; another disk
# under another prefix of the bucket is separate.
start_server -U "$sock" "${chunked[@]}" connections=2
qemu-img compare -f raw -F raw "$tmp/expect" "$uri"
nbdinfo --map "$uri" | grep -E '^ *655360 +65536 +3'
stop_server
start_server -U "$sock" s3 "${creds[@]}" bucket=disks key="vm/disk&2" \
    size=100000 object-size=4K
[ "$(nbdinfo --map "$uri" | awk '{print $1, $2, $3}')" = "0 100000 3" ]
head -c 100000 /dev/urandom >"$tmp/odd.img"
nbdcopy "$tmp/odd.img" "$uri"
qemu-img compare -f raw -F raw "$tmp/odd.img" "$uri"
stop_server
# The listing gives the keys XML-escaped ("&amp;"): they are found again.
start_server -U "$sock" s3 "${creds[@]}" bucket=disks key="vm/disk&2" \
    size=100000 object-size=4K
qemu-img compare -f raw -F raw "$tmp/odd.img" "$uri"
[ "$(nbdinfo --map "$uri" | awk '{print $1, $2, $3}')" = "0 100000 0" ]
stop_server
[ "$(objects disks "vm/disk&2/block-")" = 25 ]
[ "$(objects disks vm/disk1/block-)" = 26 ]

# ---- start-up errors: one line, at once ----
expect_start_error 'HTTP 403 \(access denied' \
    s3 endpoint-url="$s3_url" access-key="$s3_access" secret-key=wrong \
    bucket=images key=dir/obj.img
# (A GET's error page gives the server's own error code too.)
expect_start_error 'HTTP 403 \(access denied.*\): SignatureDoesNotMatch$' \
    s3 endpoint-url="$s3_url" access-key="$s3_access" secret-key=wrong \
    bucket=disks key=vm/disk1 size=4M
expect_start_error 'object images/none does not exist' \
    s3 "${creds[@]}" bucket=images key=none
expect_start_error 'bucket nobucket does not exist' \
    s3 "${creds[@]}" bucket=nobucket key=d size=1M
closed=$(free_port 127.0.0.1)
expect_start_error "http://127.0.0.1:$closed/images/dir/obj.img: Couldn't connect" \
    s3 endpoint-url="http://127.0.0.1:$closed" access-key=a secret-key=b \
    bucket=images key=dir/obj.img
