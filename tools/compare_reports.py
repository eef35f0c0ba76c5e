#!/usr/bin/env python3
"""Compares two tools/fixture-reports.sh outputs: the eval tables without their two
timing columns, and every report without what differs run to run (job_id, duration_ms).
Prints one line per file and exits non-zero when anything differs.

Usage: tools/compare_reports.py BEFORE_DIR AFTER_DIR
"""
import glob
import json
import os
import sys


def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items() if k not in ("job_id", "duration_ms")}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def eval_rows(path):
    # drawing, truth, pred, match, precision, recall, CER; the ms columns dropped
    return [" ".join(line.split()[:7]) for line in open(path)]


def main(a, b):
    bad = 0
    for name in ("eval-drawings.txt", "eval-unseen.txt"):
        same = eval_rows(os.path.join(a, name)) == eval_rows(os.path.join(b, name))
        bad += not same
        print(name, "identical (timings aside)" if same else "DIFFERENT")
    for f in sorted(glob.glob(os.path.join(a, "reports", "*.json"))):
        g = os.path.join(b, "reports", os.path.basename(f))
        x = json.dumps(norm(json.load(open(f))))
        y = json.dumps(norm(json.load(open(g)))) if os.path.exists(g) else None
        same = x == y
        bad += not same
        print(os.path.basename(f), "identical (job_id, duration_ms aside)" if same else "DIFFERENT")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
