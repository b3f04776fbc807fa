#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# test-summary.sh: scripts/test-summary.sh (what dev.sh prints at the
# end of a run) counts a meson JSON log's results, names the failed
# tests, and with --tails N shows the last N lines of their output only.
. "$SRCDIR/tests/lib.sh"
set -x
python3 - "$tmp/log.json" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for name, result, out in (("a", "OK", "fine\n"), ("b", "FAIL", "1\n2\n3\n"),
                              ("c", "SKIP", ""), ("d", "TIMEOUT", "x\ny\n"),
                              ("e", "EXPECTEDFAIL", "")):
        f.write(json.dumps({"name": name, "result": result, "stdout": out}) + "\n")
PY
summary="$SRCDIR/scripts/test-summary.sh"
[ "$("$summary" "$tmp/log.json")" = "2 passed, 2 failed, 1 skipped
  failed: b (fail), d (timeout)" ]
[ "$("$summary" --tails 2 "$tmp/log.json")" = "==== b (fail): the last 2 lines of its output
2
3
==== d (timeout): the last 2 lines of its output
x
y" ]
