#!/usr/bin/env python3
"""Title-block fields of `drawpipe analyze` reports against the synthetic drawings'
metadata, compared as `drawpipe eval` compares them (drawing number, title, material;
right when equal after lower-casing and collapsing white space). For reports of a
build whose `eval` does not score title blocks yet, so that a before/after is one
comparison.

Usage: tools/title_block_score.py REPORT_DIR TRUTH_DIR [-v]
  REPORT_DIR  NAME.json reports (`drawpipe analyze TRUTH_DIR/*.png --stages edocr --out REPORT_DIR`)
  TRUTH_DIR   NAME.json metadata with a `title_block` object (`python -m synth`)
  -v          also list each field read wrong
"""
import glob
import json
import os
import sys

FIELDS = ["drawing_number", "title", "material"]


def norm(s):
    return " ".join((s or "").lower().split())


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    if len(args) != 2:
        sys.exit(__doc__)
    reports, truth = args
    right = {f: 0 for f in FIELDS}
    total = {f: 0 for f in FIELDS}
    wrong = []
    for path in sorted(glob.glob(os.path.join(truth, "*.json"))):
        tb = json.load(open(path)).get("title_block")
        if not isinstance(tb, dict):
            continue
        rep = os.path.join(reports, os.path.basename(path))
        got = json.load(open(rep)).get("title_block") or {} if os.path.exists(rep) else {}
        for f in FIELDS:
            want = (tb.get(f) or "").strip()
            if not want:
                continue
            total[f] += 1
            read = got.get(f)
            if read is not None and norm(read) == norm(want):
                right[f] += 1
            else:
                wrong.append((os.path.basename(path), f, want, read))
    print(", ".join(f"{f} {right[f]}/{total[f]}" for f in FIELDS))
    if "-v" in sys.argv:
        for name, f, want, read in wrong:
            print(f"  {name}: {f} read {read!r} for {want!r}")


if __name__ == "__main__":
    main()
