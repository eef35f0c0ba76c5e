#!/usr/bin/env python3
"""Reliability table of `edocr` dimension confidences on tools/vector-eval.sh runs: for
each confidence bin, how many dimensions were read and what share of them is right (every
number of the dimension printed where it was read: the scorer's value-precision test).
A calibrated confidence has the share near the bin's confidence. Only totals per bin are
printed, so it can be run on the check split.

Usage: tools/vector_calibration.py NAME=OUT_DIR [NAME=OUT_DIR ...]
  e.g. tools/vector_calibration.py tune=out/vector-tune check=out/vector-check
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vector_misses import load_scorer, scored_pages  # noqa: E402

BINS = [0.0, 0.75, 0.8, 0.9, 0.95, 0.99, 1.0001]


def scored_dimensions(vt, out):
    """(dimension, right, strict) for every page-1 dimension with a number: right when
    every number of it is printed where it was read (the scorer's value-precision test),
    strict when each is also drawing-area truth (not a title-block field or zone label)."""
    for _, rep, toks, sx, sy in scored_pages(vt, out):
        for d in rep.get("dimensions") or []:
            if (d.get("page") or 0) != 0 or not d.get("bbox"):
                continue
            nums = vt.numbers(d.get("raw") or "")
            if not nums:
                continue
            box = vt.grown(d["bbox"])
            hits = [[t for t in toks if v in t.nums and vt.inside(box, t.cx * sx, t.cy * sy)]
                    for v in nums]
            yield d, all(hits), all(any(t.why is None for t in h) for h in hits)


def readings(vt, out):
    """(confidence, right) for every page-1 dimension with a number."""
    return [(float(d.get("confidence") or 0.0), right)
            for d, right, _ in scored_dimensions(vt, out)]


def main(args):
    if not args or any("=" not in a for a in args):
        sys.exit(__doc__)
    vt = load_scorer()
    runs = [(a.split("=", 1)[0], readings(vt, a.split("=", 1)[1])) for a in args]
    head = "confidence    " + "  ".join(f"{n + ' n':>10} {'right':>6}" for n, _ in runs)
    print(head)
    for lo, hi in zip(BINS, BINS[1:]):
        label = f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}"
        cells = []
        for _, rows in runs:
            inside = [r for c, r in rows if lo <= c < hi]
            share = f"{sum(inside) / len(inside):.3f}" if inside else "-"
            cells.append(f"{len(inside):>10} {share:>6}")
        print(f"{label:<13} " + "  ".join(cells))
    for name, rows in runs:
        # Expected calibration error: the bins' |share - mean confidence|, weighted.
        ece = 0.0
        for lo, hi in zip(BINS, BINS[1:]):
            inside = [(c, r) for c, r in rows if lo <= c < hi]
            if inside:
                conf = sum(c for c, _ in inside) / len(inside)
                share = sum(r for _, r in inside) / len(inside)
                ece += len(inside) / len(rows) * abs(share - conf)
        print(f"{name}: {len(rows)} dimensions, expected calibration error {ece:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
