#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# data.sh: the data plugin serves the bytes and size that nbdkit's data
# plugin serves for the same data= expressions (each digest below was
# taken from Debian's nbdkit 1.32.5 and is checked against nbdkit again
# when it is installed), bad expressions fail at startup with a message,
# raw= and base64= work, and the disk is a writable RAM disk (read-only
# with -r) with nbdkit's flags and allocation map.
. "$SRCDIR/tests/lib.sh"
requires nbdsh nbdcopy nbdinfo sha256sum
have_nbdkit=no
if command -v nbdkit >/dev/null 2>&1 &&
    nbdkit data --dump-plugin >/dev/null 2>&1; then
    have_nbdkit=yes
fi

cd "$tmp"
printf hello >f5
export E='7 8'

# digest SERVER EXPR: "SIZE SHA256" of the disk, or the server's failure.
digest() {
    timeout 60 "$1" -U - data "$2" v='1 2 3' w='\a \a' --run \
        'nbdinfo --size "$uri" && nbdcopy "$uri" - | sha256sum' \
        </dev/null 2>&1 | tr '\n' ' ' | cut -d' ' -f1,2
}

# SIZE, SHA256 and the expression (read with printf %b: \\ is one
# backslash, \n a newline), tab-separated.
status=0
while IFS=$'\t' read -r size sha expr; do
    e=$(printf '%b' "$expr")
    got=$(digest "$NBDX" "$e")
    if [ "$got" != "$size $sha" ]; then
        echo "FAIL: data '$e': nbdx: $got, expected $size $sha" >&2
        status=1
    fi
    if [ $have_nbdkit = yes ]; then
        got=$(digest nbdkit "$e")
        if [ "$got" != "$size $sha" ]; then
            echo "FAIL: data '$e': nbdkit: $got, expected $size $sha" >&2
            status=1
        fi
    fi
done <<'TABLE'
3	1f8f12d1330e093575089e333067208dbad87f15c75f2cfd0ff62219bdd33448	1 2 3 @0 ( @2 9 )
100	cd00e292c5970d3c5e2f0ffa5171e555bc46bfc4faddfb4a418b6840b86e79a3	@100
10	96eeff563b3135e3f77964e8c062328fd207c8bc9e754fc423abaf83eb3f1490	1 @10 @5
3	039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81	1 2 3 @-1
10	9fe9cdcb501159baa3d045eda1bd1a197db274f6b2e26f7f451f8e388c8e0ab4	"a\\n\\t\\a\\b\\f\\r\\v\\"\\\\"
1	8e35c2cd3bf6641bdb0e2050b76932cbb2e6034a0ddacc1d9bea82a6ba57f7cf	"\\q"
3	15d8404fc3751021e5e88ccafcf69745c72e44af65b77297f52c491009b3c324	"\\x41\\x4a\\x4A"
0	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855	""
2	b4c43b50bf245bd727623e3c775a8fcfb8d823d00b57dd65f7f79dd33f126315	08
3	356facc058b88bf63e3c9d88cb8b585c6a322db68e6be8a84645a3fce1e308ec	010 0x1F 0X1f
6	dfea2964b5deedea7b1ef077de529c3959e6788bdbb3441e70c77a1ae875bb48	1*2*3
3	75c8fd04ad916aec3e3d5cb76a452b116b3d4d0912a0a485e9fb8e3d240e210c	1 * 3
2	25dfd29c09617dcc9852281c030e5b3037a338a4712a42a21c907f259c6412a0	(1 2)*2[1:3]
2	3b64db95cb55c763391c707108489ae18b4112d783300de38e033b4c98c3deaf	"ab"[1:]*2
3	039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81	(1 2 3)[:]
2	9dcf97a184f32623d11a73124ceb99a5709b083721e878a16d78f596718ba7b2	(1)->\\a \\a \\a
11	f3c8e2bd85655c15f3059fbac30580b51b790b588a2f8d612cf4021efb3b8a87	(@+5)*2 1
4	67abdd721024f0ff4e0b3f4c2fc13bc5bad42d0b7851d456d88d203d15aaa450	@^1 1 @^4
2	47dc540c94ceb704a23875c11273e16bb0b8a87aed84de911f2133568115f254	(le16:1 )
26	ca7de80098be0bd87e2708cdfaebc8eff27b661a632a48c06723ed3ce01bb738	be16:0x0102 le64:0x0102 be32:0xdeadbeef le32:0xdeadbeef be64:0x0102030405060708
4	3ae95dd4fee75ea4fc56378db6b5e89c6cbfb0c52dda3a0f109301d28470e47a	le16:+1 le16:010
1	6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d	0x
0	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855	()
0	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855	( )*2
2	c79b932e1e1da3c0e098e5ad2c422937eb904a76cf61d83975a74a68fbb04b99	1 # a comment 2\n3
12	3ee5f0d83bf791f0fb4d750a5719ce19d6d352ef7e5a4264e4b760f0f9c15014	1*+2 1* 0x2 1*010
3	039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81	1 2 3 @-0
0	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855	1[1:1] 1[0:0]
2	9dcf97a184f32623d11a73124ceb99a5709b083721e878a16d78f596718ba7b2	(1)->\\a-b_2 \\a-b_2*2
2	9dcf97a184f32623d11a73124ceb99a5709b083721e878a16d78f596718ba7b2	(1)->\\a (\\a \\a)
1	dbc1b4c900ffe48d575b5da5c638040125f65db0fe3e24494b76ea986457d986	(1)->\\a (2)->\\a \\a
0	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855	1 -> \\a -> \\b \\b
1	dbc1b4c900ffe48d575b5da5c638040125f65db0fe3e24494b76ea986457d986	(1 2)->\\a \\a[1:]
2	9dcf97a184f32623d11a73124ceb99a5709b083721e878a16d78f596718ba7b2	(1)*2->\\a \\a
2	9dcf97a184f32623d11a73124ceb99a5709b083721e878a16d78f596718ba7b2	(1)->\\a ((\\a)*2)
2	9dcf97a184f32623d11a73124ceb99a5709b083721e878a16d78f596718ba7b2	(1)->\\a $w
4	1592c7819025326dded9b60f2eefde6518794ce675dc22b0fc5f111d8d6386ff	(1 2 3)[1:]->\\s \\s \\s
5	2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824	<f5
2	d65c3e892354b17a4c032593974d46bc8732c6c0b1ce56edf0c95511d1749cf5	<f5[1:3]
10	0a86050fb37a4def36885da9557f5b22a9e191767a80e7a4a2415410a4462b68	<f5*2
5	2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824	(<f5)
1024	59d02997af28228c15c5f1450baa3a0f276849ec4d2b770f2b6e2d95319f59f9	<f5 @^512 <f5 @^512
8192	9f1dcbc35c350d6027f98be0f5c8b43b42ca52b7604459c0c42be3aa88913d47	</dev/zero[:512]*16
3	98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4	<(echo hi)
3	ec84ac67768312115554ab2ce62babb31be64d20af9eba87cf4c8a06f5a215d0	<(printf "(x)")
4	31dd7ac5cecb908e0d74a57bad1c4321eaf7c0928fcd109b52d83bfe64dfaa92	<(yes)[:4]
12	887f2749b07e559d140605a4b9de9af5721e2accad06fade91301f0410ad5cdf	<(printf ab; printf cd)*3
6	3ba35ee83f218013f8b83f08ae2c06c9d8e05a198d271c57c9e9a1771b44a211	$v*2
2	ee9040f65c341855e070ff438eb0ea9d5b831b2a2c270fb7ef592d750408e3b3	$v[1:]
6	3ba35ee83f218013f8b83f08ae2c06c9d8e05a198d271c57c9e9a1771b44a211	$v $v
2	bd7c250566c6e99f47c174b589b7551f8b0e930ed056511d1e8f653bc71d3c4a	$E
8	9ff63640fa3b4682056532b7924b03250ccc7a832f64ccec3dea79ea8595a24d	(1 2)*2*2
1	4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a	1[0:1]*2[1:]
4	9f73493f2069cfd43424ddc2a5494abd420da8a2e4f421e482ed9e08505b4d73	1 2 *3
0	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855	"a"*2*0
4	507503b51960cceda8d924904fb85377fe7d177fb8dfcf56b24e4557644ed486	le16:1 *2
6	917140cbddb025737b7411f40c01f2e8c37ea61e77fa6bfaafafc680a60cc117	( 1 @+2 )*2
3	f31b2b6ef48dff580eca633d0a0cfb15adb7c3bdbc2a1d966a1e10eaaefad3c4	1 2 3 @0 (@+2)
1	dbc1b4c900ffe48d575b5da5c638040125f65db0fe3e24494b76ea986457d986	(1 2 3)[1:2][0:1]
5	8855508aade16ec573d21e6a485dfd0a7624085c1a14b5ecdd6485de0c6839a4	@+ 5
16	374708fff7719dd5979ec875d56cd2286f6d3cf7ec317a3b25632aab28ec37bb	@0x10 @^0x10
512	05c46c35d7f6cc2f05e224337ba7ac2a76426cae04067452989b58109849cadb	0 1 2 3 @0x1fe 0x55 0xaa
4096	8c241b0a408362183f5e2539d631e05a40f0fe261d2183290f78b08a0783ff0f	( 0x55 0xAA )*2048
10000	d2ee089625a4cf7595bd98eba575696a3e17be5127ae5c835c1f382ceaefdbe2	( "Hello" )*2000
512	ba7c7abbeb7c938d30fa68e8d43215586f43f0f075cc871dd12ee793bdda4501	\n  @0x1be    # MBR first partition entry\n    0\t\t# Partition status\n    0 2 0\t# CHS start\n    0x83\t# Partition type (Linux)\n    0x20 0x20 0 # CHS last sector\n    le32:1\t# LBA first sector\n    le32:0x7ff\t# LBA number of sectors\n  @0x1fe    # Boot signature\n    0x55 0xaa\n
1024	f074306dd61fcc87d3bacb43b263bc7df587a098f4a4bee4a1a88fa1af6b0ec0	( 0x55 0xAA ) -> \\boot-signature ( @0x1fe \\boot-signature ) -> \\sector \\sector \\sector
100000	be87f6dbe42cdf682276fbecab3636fbfcaa008cf454d635dd77872b50d940aa	0xff*100000
1500000	6b75e31df8e7f8639078423fb492bc7ee6b634713673d7a4d1a64b4aed832516	(1 2 3 4 5)*300000
5005000	dafd52822b3ac19b04c718dbd2362922be1c6fcc77769cae5187a8cf20cf6b01	(1 @+1000)*5000
30000000	703e0eeab74f02a2aad0aba73bef76a149c9ec1fb705b7df01de556573d5e36d	(0x55 0xaa 0x11)*10000000
262145	fc6c02c4807131f8ad85ed5633e076e5d8b908c3e526dd389ce93d33b04cd9dc	@0x40000 1 @0 (@+0x20000)
32768	c95dbf8506b69e3f46b979a07e006e28a4135f56bf1af556ae91494255d68ee9	<( i=0; while :; do printf "%04d" $i; i=$((i+1)); done )[:32768]
TABLE
[ $status = 0 ]

# Bad expressions: nbdx exits 1 at startup (no crash, whatever nbdkit
# does with them) and says why.
while IFS= read -r expr; do
    e=$(printf '%b' "$expr")
    rc=0
    timeout 60 "$NBDX" -U - data "$e" v='1 $undef' loop='$loop' --run true \
        </dev/null 2>"$tmp/err" || rc=$?
    if [ $rc != 1 ] || ! grep -q '^nbdx: data: ' "$tmp/err"; then
        echo "FAIL: data '$e': exit status $rc" >&2
        cat "$tmp/err" >&2
        status=1
    fi
done <<'BAD'
1 @-2
"\\0"
"\\u1234"
"\\x4"
"\\xZZ"
"abc
256
0x100
99999999999999999999
le16:0x10000
be64:-1
le32:1*2
le16:
le16: 1
(le16:1)
le16:1[0:1]
le8:1
xx
1e3
0b1
*2
1*
1*-1
1 *
(1)*
1 @-1 @-1
1 2 (@-1)
@-1
@ 5
@x
@^3
@^0
@+-1
(1 2)[5:]
(1 2 3)[2:1]
(1 2 3)[1:9]
(1 2 3)[1 :]
(1)[0:1
@+5[0:1]
@+5*2
@+5 -> \\a
\\a
\\
\\-
(1 -> \\a) \\a
( (1)->\\a ) \\a
\\a\\b
1 ->
1 -> a
1 - > \\a
(1 2
1 2)
$v)
"a
"\\
<nonexist
<
<(exit 1)
<(echo (
$undef
$
$v-x
$loop
@0x7fffffffffffffff 1
(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((
BAD
[ $status = 0 ]

# Messages say where the expression went wrong.
fails "$NBDX" -U - data '1 2 xx' --run true 2>"$tmp/err"
grep "unexpected 'x' (at offset 4 of data=)" "$tmp/err"
fails "$NBDX" -U - data '1 $v' v='2 @^3' --run true 2>"$tmp/err"
grep 'at offset 2 of \$v' "$tmp/err"
fails "$NBDX" -U - data '1' raw=x --run true 2>"$tmp/err"
grep 'exactly one of' "$tmp/err"
fails "$NBDX" -U - data '1' allocator=malloc --run true 2>"$tmp/err"
grep 'allocator=malloc' "$tmp/err"
fails "$NBDX" -U - data base64='!!' --run true 2>"$tmp/err"
grep 'base64' "$tmp/err"
"$NBDX" data --dump-plugin | grep -x 'data_base64=yes'

# raw=, base64= and size= truncating or extending.
check() { # EXPECTED-PYTHON-BYTES ARGS...
    local want=$1
    shift
    "$NBDX" -U - data "$@" --run "nbdsh -u \"\$uri\" -c '
want = $want
assert h.get_size() == len(want), h.get_size()
assert len(want) == 0 or h.pread(len(want), 0) == want
'" </dev/null
}
check 'b"Hello, world!"' raw='Hello, world!'
check 'b""' raw=
check 'b"123"' base64=MTIz
check 'b"hello nbdkit user"' base64='aGVsbG8gbmJka2l0IHVzZXI='
check 'b"\xff\xfe"' base64=//4
check 'b"123" + bytes(1021)' base64=MTIz size=1K
check 'b"12"' base64=MTIz size=2
check 'b"Hel"' raw=Hello size=3
check 'b"\x01\x02" + bytes(510)' '1 2' size=512
check 'b"\x01\x02"' '1 2 3 @0x100000 4' size=2

# A writable RAM disk holding the data; -r makes it read-only.
start_server -U "$sock" data '1 2 3 @0x10000 "end" @0x7000000000 9' size=1T
nbdsh_u -c '
assert h.get_size() == 1 << 40
assert not h.is_read_only()
assert h.can_multi_conn() and h.can_fua() and h.can_zero() and h.can_trim()
assert h.pread(4, 0) == b"\x01\x02\x03\x00"
assert h.pread(3, 0x10000) == b"end"
assert h.pread(2, 0x7000000000) == b"\x09\x00"
h.pwrite(b"XY", 1)
h.pwrite(b"far", 0x8000000000)
assert h.pread(4, 0) == b"\x01XY\x00"
assert h.pread(3, 0x8000000000) == b"far"
h.zero(3, 0x10000)
assert h.pread(3, 0x10000) == bytes(3)
h.trim(4, 0)
assert h.pread(4, 0) == bytes(4)
h.flush()
'
stop_server
start_server -U "$sock" -r data '"abc"'
nbdsh_u -c '
assert h.is_read_only()
assert h.pread(3, 0) == b"abc"
try:
    h.pwrite(b"x", 0)
    assert False, "write to a read-only disk succeeded"
except nbd.Error:
    pass
'
stop_server

# nbdkit's flags and allocation map.
if [ $have_nbdkit = yes ]; then
    for s in "$NBDX" nbdkit; do
        "$s" -U - data '1 @0x100000 2 @0x300000 (0 0)' size=8M \
            --run 'nbdinfo "$uri"; nbdinfo --map "$uri"' </dev/null |
            grep -v -e 'uri:' -e 'block_size' >"$tmp/info.$(basename "$s")"
    done
    cat "$tmp/info.nbdkit"
    diff "$tmp/info.nbdx" "$tmp/info.nbdkit"
fi
