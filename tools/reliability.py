#!/usr/bin/env python3
"""Reliability table of the dimensions' `confidence` on a folder scored by the vector scorer.

Usage: tools/reliability.py OUT_DIR [OUT_DIR ...]
  OUT_DIR  a `tools/vector-eval.sh --out` folder (pdf/ and reports/)

For each predicted dimension, its `confidence` from the report and whether it is right:
every number it holds confirmed by a text-layer token at its place (the scorer's strict
test, `../shared/tools/vector_tokens.py --detail`: `:ok`). Prints, per confidence bin,
how many dimensions fall in it, the share that is right, and the mean confidence, so a
user can read off what a review threshold means. Several folders are printed side by
side (tune first, then check, by convention).
"""
import json
import os
import re
import subprocess
import sys

SCORER = os.environ.get("DRAWPIPE_VECTOR_SCORER", "../shared/tools/vector_tokens.py")
BINS = [0.0, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0001]


def predictions(out):
    """(confidence, right) per predicted dimension of every report in OUT/reports."""
    rows = []
    reports = os.path.join(out, "reports")
    for f in sorted(os.listdir(reports)):
        if not f.endswith(".json") or f.endswith(".stages.json"):
            continue
        name = f[:-5]
        rep = json.load(open(os.path.join(reports, f)))
        dims = [d for d in rep.get("dimensions") or [] if d.get("page", 0) == 0]
        detail = subprocess.run(
            [sys.executable, SCORER, "--detail", name, os.path.join(out, "pdf"), reports],
            capture_output=True, text=True).stdout
        for line in detail.splitlines():
            m = re.match(r"\s+pred .*box=\((\d+),(\d+),(\d+),(\d+)\)\s*(.*)$", line)
            if not m:
                continue
            # The scorer prints the box grown about its centre: match on the centre.
            x0, y0, x1, y1 = (int(v) for v in m.group(1, 2, 3, 4))
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            marks = m.group(5).split()
            near = [d for d in dims
                    if abs(d["bbox"][0] + d["bbox"][2] / 2 - cx) <= 2
                    and abs(d["bbox"][1] + d["bbox"][3] / 2 - cy) <= 2]
            if not marks or not near:
                continue
            dims.remove(near[0])
            rows.append((near[0].get("confidence", 0.0), all(k.endswith(":ok") for k in marks)))
    return rows


def table(rows):
    out = []
    for lo, hi in zip(BINS, BINS[1:]):
        inb = [r for r in rows if lo <= r[0] < hi]
        if inb:
            right = sum(r[1] for r in inb) / len(inb)
            mean = sum(r[0] for r in inb) / len(inb)
            out.append((f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}", len(inb), right, mean))
        else:
            out.append((f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}", 0, None, None))
    return out


def main():
    dirs = sys.argv[1:]
    if not dirs:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    tables = [table(predictions(d)) for d in dirs]
    head = "confidence     " + "".join(f"{os.path.basename(d.rstrip('/'))[:24]:>32}" for d in dirs)
    print(head)
    print("               " + "".join(f"{'n':>8}{'right':>12}{'mean conf':>12}" for _ in dirs))
    for i, (label, *_r) in enumerate(tables[0]):
        cells = ""
        for t in tables:
            _, n, right, mean = t[i]
            cells += f"{n:>8}" + (f"{right:>12.3f}{mean:>12.3f}" if n else f"{'-':>12}{'-':>12}")
        print(f"{label:<15}{cells}")


if __name__ == "__main__":
    main()
