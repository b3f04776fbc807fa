#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A plugin that lists exports: NBD_OPT_LIST returns them, INFO with the
# default name reports the canonical name, GO picks the right one.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
mkdir "$tmp/dir"
printf 'aaaa' > "$tmp/dir/a"
truncate -s 4096 "$tmp/dir/a"
truncate -s 8192 "$tmp/dir/b"
start_server -U "$sock" file dir="$tmp/dir"
nbdsh --opt-mode -u "$uri" -c '
names = []
h.opt_list(lambda name, desc: names.append(name))
assert sorted(names) == ["a", "b"], names
h.set_full_info(True)
h.opt_info()
assert h.get_canonical_export_name() == "a"
assert h.get_size() == 4096
h.set_export_name("b")
h.opt_info()
assert h.get_size() == 8192
h.set_export_name("nosuch")
try:
    h.opt_info()
    assert False, "INFO on a missing export succeeded"
except nbd.Error:
    pass
h.set_export_name("a")
h.opt_go()
assert h.pread(4, 0) == b"aaaa"
'
