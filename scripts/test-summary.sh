#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# test-summary.sh TESTLOG.json: print "N passed, N failed, N skipped",
# followed by the names of the failed tests, if any.
set -eu
python3 - "$1" <<'PY'
import json, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "EXPECTEDFAIL": 0, "ERROR": 0}
bad = []
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        r = t.get("result", "ERROR")
        n[r] = n.get(r, 0) + 1
        if r in ("FAIL", "TIMEOUT", "ERROR"):
            bad.append("%s (%s)" % (t.get("name", "?"), r.lower()))
failed = n["FAIL"] + n["TIMEOUT"] + n["ERROR"]
print("%d passed, %d failed, %d skipped" % (n["OK"] + n["EXPECTEDFAIL"], failed, n["SKIP"]))
if bad:
    print("  failed: " + ", ".join(bad))
PY
