#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# test-summary.sh TESTLOG.json: print "N passed, N failed, N skipped".
set -eu
python3 - "$1" <<'PY'
import json, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "EXPECTEDFAIL": 0, "ERROR": 0}
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line).get("result", "ERROR")
        n[r] = n.get(r, 0) + 1
failed = n["FAIL"] + n["TIMEOUT"] + n["ERROR"]
print("%d passed, %d failed, %d skipped" % (n["OK"] + n["EXPECTEDFAIL"], failed, n["SKIP"]))
PY
