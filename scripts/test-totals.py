#!/usr/bin/env python3
"""Adds up the test cases of a `make check` run from its .log files:
check suites ("Checks: N, Failures: F, Errors: E"), Python unittest
("Ran N tests" / "FAILED (failures=F, errors=E, skipped=S)"), and plain
scripts (one case each, by automake's verdict).  Prints one line:
"N passed, N failed, N skipped"."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
passed = failed = skipped = 0
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".trs"):
            continue
        trs = open(os.path.join(dirpath, name)).read()
        m = re.search(r":test-result: (\w+)", trs)
        verdict = m.group(1) if m else "ERROR"
        log_path = os.path.join(dirpath, name[:-4] + ".log")
        log = open(log_path, errors="replace").read() if os.path.exists(log_path) else ""
        checks = re.findall(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", log)
        ran = re.findall(r"^Ran (\d+) tests?", log, re.M)
        if checks:
            for n, f, e in checks:
                n, bad = int(n), int(f) + int(e)
                passed += n - bad
                failed += bad
            if verdict in ("FAIL", "ERROR") and not any(int(f) + int(e) for _, f, e in checks):
                failed += 1  # crashed outside its test cases
        elif ran:
            n = sum(int(x) for x in ran)
            f = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", log))
            s = sum(int(x) for x in re.findall(r"skipped=(\d+)", log))
            passed += n - f - s
            failed += f
            skipped += s
            if verdict in ("FAIL", "ERROR") and f == 0:
                failed += 1
        elif verdict == "PASS":
            passed += 1
        elif verdict == "SKIP":
            skipped += 1
        else:
            failed += 1
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
