#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# test-summary.sh TESTLOG.json: print "N passed, N failed, N skipped",
# followed by the names of the failed tests, if any.
# test-summary.sh --tails N TESTLOG.json: print the last N lines of each
# failed test's output instead (so that the end of a long log, which is
# all a CI page may show, says why).
set -eu
tails=0
if [ "$1" = --tails ]; then
    tails=$2
    shift 2
fi
python3 - "$tails" "$1" <<'PY'
import json, sys
tails = int(sys.argv[1])
n = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "EXPECTEDFAIL": 0, "ERROR": 0}
bad = []
with open(sys.argv[2]) as f:
    for line in f:
        t = json.loads(line)
        r = t.get("result", "ERROR")
        n[r] = n.get(r, 0) + 1
        if r in ("FAIL", "TIMEOUT", "ERROR"):
            bad.append("%s (%s)" % (t.get("name", "?"), r.lower()))
            if tails:
                out = (t.get("stdout") or "") + (t.get("stderr") or "")
                print("==== %s (%s): the last %d lines of its output" %
                      (t.get("name", "?"), r.lower(), tails))
                print("\n".join(out.splitlines()[-tails:]))
if tails:
    sys.exit(0)
failed = n["FAIL"] + n["TIMEOUT"] + n["ERROR"]
print("%d passed, %d failed, %d skipped" % (n["OK"] + n["EXPECTEDFAIL"], failed, n["SKIP"]))
if bad:
    print("  failed: " + ", ".join(bad))
PY
