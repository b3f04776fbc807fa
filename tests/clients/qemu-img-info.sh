#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-img-info.sh: qemu-img info sees the export as a raw image of the
# right virtual size.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires qemu-img python3
set -x

start_server -U "$sock" memory 10M
qemu-img info --output=json "$uri" | tee "$tmp/info.json"
python3 - "$tmp/info.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["virtual-size"] == 10 * 1048576, i["virtual-size"]
assert i["format"] == "raw", i["format"]
PY
