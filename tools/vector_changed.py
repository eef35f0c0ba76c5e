#!/usr/bin/env python3
"""How many dimension readings two tools/vector-eval.sh runs of the same drawings differ
by: readings (raw text) present in one run's report and not in the other's, summed
over drawings, and how many of the new ones carry a degree or a diameter sign. Only
totals are printed, so it can be run on the check split.

Usage: tools/vector_changed.py BEFORE_OUT AFTER_OUT
  e.g. tools/vector_changed.py out/check-before out/check-after
"""
import glob
import json
import os
import sys


def raws(path):
    with open(path) as f:
        return {d.get("raw") or "" for d in json.load(f).get("dimensions") or []}


def main(before, after):
    total = changed = degree = diameter = 0
    for path in sorted(glob.glob(os.path.join(after, "reports", "*.json"))):
        if path.endswith(".stages.json"):
            continue
        other = os.path.join(before, "reports", os.path.basename(path))
        a = raws(other) if os.path.exists(other) else set()
        b = raws(path)
        total += len(b)
        new = b - a
        changed += len(new) + len(a - b)
        degree += sum("°" in r for r in new)
        diameter += sum(any(c in r for c in "Ø⌀") for r in new)
    print(f"readings {total}, added or gone {changed}, new with ° {degree}, new with Ø {diameter}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
