#!/usr/bin/env python3
"""Would the detector's dimension boxes help `edocr`? Measured against the text layer.

For a `tools/vector-eval.sh` run (raster path) and `drawpipe analyze --stages detect`
reports of the same renderings, prints totals only (so it may run on check):
- the detector's dimension-class boxes (7 classes) on real drawings: how many hold a
  drawing-area truth number (its precision here), and how many truth numbers lie in a
  box (its recall here);
- `edocr`'s predicted numbers, right or wrong (strict: confirmed by a drawing-area
  truth word), split by whether the dimension's centre lies in a detector box: what
  requiring that confirmation would keep and lose.

Usage: tools/detector_vs_edocr.py NAME=EVAL_OUT:DETECT_REPORTS [...]
  e.g. tools/detector_vs_edocr.py tune=out/t-ras:out/t-det check=out/c-ras:out/c-det
  (detect reports: target/release/drawpipe analyze EVAL_OUT/png/*.png --stages detect --out DIR)
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vector_misses import load_scorer, scored_pages  # noqa: E402

DIM = {"diameter_dim", "linear_dim", "radius_dim", "angular_dim", "chamfer_dim", "tolerance_dim",
       "reference_dim"}


def tally(vt, out, det_dir):
    c = collections.Counter()
    for report, rep, toks, sx, sy in scored_pages(vt, out):
        path = os.path.join(det_dir, os.path.basename(report))
        if not os.path.exists(path):
            c["drawings without detect report"] += 1
            continue
        det = json.load(open(path))
        boxes = [vt.grown(d["bbox"]) for d in det.get("detections") or []
                 if d.get("page", 0) == 0 and d.get("class_name") in DIM]
        pos = [(t, t.cx * sx, t.cy * sy) for t in toks if t.nums]
        truth = [(t, x, y) for t, x, y in pos if t.why is None]
        c["detector boxes"] += len(boxes)
        c["detector boxes holding a truth number"] += sum(
            1 for b in boxes if any(vt.inside(b, x, y) for _, x, y in truth))
        for t, x, y in truth:
            c["truth numbers"] += len(t.nums)
            if any(vt.inside(b, x, y) for b in boxes):
                c["truth numbers in a detector box"] += len(t.nums)
        for d in rep.get("dimensions") or []:
            if (d.get("page") or 0) != 0 or not d.get("bbox"):
                continue
            box = vt.grown(d["bbox"])
            cx, cy = d["bbox"][0] + d["bbox"][2] / 2, d["bbox"][1] + d["bbox"][3] / 2
            inside = any(vt.inside(b, cx, cy) for b in boxes)
            for v in vt.numbers(d.get("raw") or ""):
                ok = any(v in t.nums and vt.inside(box, x, y) for t, x, y in truth)
                c[f"edocr numbers {'right' if ok else 'wrong'}, {'in' if inside else 'outside'} a box"] += 1
    return c


def main():
    runs = []
    for arg in sys.argv[1:]:
        name, _, dirs = arg.partition("=")
        out, _, det = dirs.partition(":")
        if not (name and out and det):
            sys.exit(__doc__)
        runs.append((name, out, det))
    if not runs:
        sys.exit(__doc__)
    vt = load_scorer()
    tallies = [tally(vt, out, det) for _, out, det in runs]
    keys = sorted(set().union(*tallies))
    print(f"{'':50}" + "".join(f"{n:>10}" for n, _, _ in runs))
    for k in keys:
        print(f"{k:50}" + "".join(f"{t[k]:>10}" for t in tallies))
    for (name, _, _), t in zip(runs, tallies):
        right_in, wrong_in = t["edocr numbers right, in a box"], t["edocr numbers wrong, in a box"]
        right_out, wrong_out = t["edocr numbers right, outside a box"], t["edocr numbers wrong, outside a box"]
        allp = right_in + wrong_in + right_out + wrong_out
        if allp and right_in + wrong_in:
            print(f"{name}: strict precision {(right_in + right_out) / allp:.3f} without the detector, "
                  f"{right_in / (right_in + wrong_in):.3f} keeping only boxed dimensions "
                  f"({right_out} right numbers lost, {wrong_out} wrong ones dropped)")


if __name__ == "__main__":
    main()
