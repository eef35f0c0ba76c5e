#!/usr/bin/env python3
"""Dimension texts of `drawpipe analyze --out DIR` reports matched to eDOCr2-format truth
by text alone, as multisets (positions left out): for drawings whose pixels no longer
match the truth's coordinates, such as the dev drawings turned by tools/skew_set.py's
rule but scored against their level truth.

Usage: tools/text_match.py REPORT_DIR TRUTH_DIR
  A report NAME_SUFFIX.json (e.g. BM_part_p1.5.json) is scored against TRUTH_DIR/NAME.csv
  (the suffix after the last `_` left out) when NAME_SUFFIX.csv is not there.
Prints per report and the total: truth texts, readings, matches, precision, recall.
"""
import collections
import csv
import glob
import json
import os
import re
import sys


def norm(t):
    return re.sub(r"\s+", "", t).replace("⌀", "Ø").replace(",", ".")


def main():
    reports, truth_dir = sys.argv[1], sys.argv[2]
    total = [0, 0, 0]
    for f in sorted(glob.glob(os.path.join(reports, "*.json"))):
        name = os.path.basename(f)[:-5]
        if name.endswith(".stages"):
            continue
        csv_path = os.path.join(truth_dir, name + ".csv")
        if not os.path.exists(csv_path):
            csv_path = os.path.join(truth_dir, name.rsplit("_", 1)[0] + ".csv")
        with open(csv_path, newline="") as fh:
            truth = collections.Counter(
                norm(r[8]) for r in csv.reader(fh) if len(r) >= 9 and r[8] != "other_info"
            )
        with open(f) as fh:
            read = collections.Counter(norm(d["raw"]) for d in json.load(fh)["dimensions"])
        m = sum((truth & read).values())
        t, p = sum(truth.values()), sum(read.values())
        print(f"{name}: truth {t} read {p} matched {m}")
        total = [total[0] + t, total[1] + p, total[2] + m]
    t, p, m = total
    print(f"TOTAL: truth {t} read {p} matched {m} precision {m / max(p, 1):.3f} recall {m / max(t, 1):.3f}")


if __name__ == "__main__":
    main()
