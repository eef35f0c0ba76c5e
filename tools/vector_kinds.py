#!/usr/bin/env python3
"""Counts the predicted numbers of a tools/vector-eval.sh output folder by the shape of
their text (a lone 0, Ø0, a single digit 1-9, anything else) and whether the scorer
found them printed there (`vector_tokens.py --detail`: ok or WRONG). Use it on tune
output only: it shows individual readings.

Usage: tools/vector_kinds.py OUT_DIR   (e.g. out/vector-tune)
"""
import collections
import glob
import os
import re
import subprocess
import sys

SCORER = os.environ.get("DRAWPIPE_VECTOR_SCORER", "../shared/tools/vector_tokens.py")
PRED = re.compile(r"\s+pred '(.*?)'\s+box=\(\d+,\d+,\d+,\d+\)\s+(.*)")


def kind(raw):
    t = raw.strip()
    if t == "0":
        return "lone 0"
    if t in ("Ø0", "⌀0", "∅0"):
        return "Ø0"
    if re.fullmatch(r"[1-9]", t):
        return "single digit 1-9"
    return "other"


def main(out):
    counts = collections.Counter()
    for report in sorted(glob.glob(os.path.join(out, "reports", "*.json"))):
        name = os.path.basename(report)[:-5]
        detail = subprocess.run(
            ["python3", SCORER, "--detail", name, os.path.join(out, "pdf"), os.path.join(out, "reports")],
            capture_output=True, text=True, check=True,
        ).stdout
        for line in detail.splitlines():
            m = PRED.match(line)
            if m:
                counts[(kind(m.group(1)), "WRONG" not in m.group(2))] += 1
    for k in ("lone 0", "Ø0", "single digit 1-9", "other"):
        print(f"{k:18} right {counts[(k, True)]:5}  wrong {counts[(k, False)]:5}")


if __name__ == "__main__":
    main(sys.argv[1])
