#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The nbdkit_* connection functions see the real connection: a test
# plugin reports what they return inside .open, and the list_exports
# helpers (nbdkit_add_export, nbdkit_use_default_export) reach the
# client.
. "$(dirname "$0")/../lib.sh"
requires nbdsh
plugin="$1"

start_server -U "$sock" "$plugin"
nbdsh -c - <<PY
import os
h.set_export_name("some-export")
h.connect_unix("$sock")
report = h.pread(200, 0).rstrip(b"\0").decode()
print(report)
want = "export=some-export tls=0 pid=%d uid=%d gid=%d dn=[]" % (
    os.getpid(), os.getuid(), os.getgid())
assert report == want, want
PY

nbdsh -c - <<PY
names = []
h.set_opt_mode(True)
h.connect_unix("$sock")
h.opt_list(lambda name, desc: names.append((name, desc)))
h.opt_abort()
print(names)
assert ("listed", "a listed export") in names, names
assert any(n == "default-0" for n, d in names), names
PY

# The default export's name is interned inside the connection.
nbdsh -c - <<PY
h.set_full_info(True)
h.connect_unix("$sock")
name = h.get_canonical_export_name()
print(name)
assert name == "default-0", name
PY
