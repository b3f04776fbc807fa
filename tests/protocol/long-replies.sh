#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# long-replies.sh: option replies larger than the server's reply buffer
# arrive whole and in order: NBD_OPT_LIST of 40 exports, each with a
# 4096-byte name and a 4096-byte description (every reply bigger than
# the buffer, the list 80 times it), and INFO with the long name and
# description.  Uses Debian's nbdkit eval plugin.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
eval_plugin=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-eval-plugin.so
[ -f "$eval_plugin" ] || { echo "SKIP: nbdkit eval plugin not installed"; exit 77; }
set -x

# Export i is named i in four digits and then x up to 4096 bytes; its
# description is i's last digit, 4096 times.
cat >"$tmp/list" <<'EOS'
echo INTERLEAVED
for i in $(seq 1000 1039); do
    printf "%s%4092s\n" "$i" "" | tr ' ' x
    printf "%4096s\n" "" | tr ' ' "$((i % 10))"
done
EOS
start_server -U "$sock" "$eval_plugin" get_size='echo 1048576' \
    pread='dd if=/dev/zero count=$3 iflag=count_bytes 2>/dev/null' \
    list_exports="sh $tmp/list" \
    export_description='printf "%4096s" "" | tr " " d'
nbdsh --opt-mode -u "$uri" -c '
exports = []
h.opt_list(lambda name, desc: exports.append((name, desc)))
assert len(exports) == 40, len(exports)
for i, (name, desc) in enumerate(exports):
    n = 1000 + i
    assert name == str(n) + "x" * 4092, (i, name[:8], len(name))
    assert desc == str(n % 10) * 4096, (i, desc[:8], len(desc))
h.set_full_info(True)
h.set_export_name(exports[7][0])
h.opt_info()
assert h.get_canonical_export_name() == exports[7][0]
assert h.get_export_description() == "d" * 4096
assert h.get_size() == 1048576
'
