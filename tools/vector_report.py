#!/usr/bin/env python3
"""Side-by-side totals of tools/vector-eval.sh runs (e.g. tune and check), by kind:

- the scorer's totals (value precision, value recall, strict precision);
- predicted numbers that are wrong, by the shape of the text (a single character, or
  longer), and those that are printed there but are not drawing-area truth (a border
  zone label, a title-block field, a tolerance-table or scale entry: strict misses);
- truth numbers missed, by where they were lost: OCR read the number but `edocr` made no
  dimension of it ("dropped": notes, part numbers and callouts end here), OCR read
  something else there ("misread"), or OCR found no text there ("unread"); a dropped
  number is split by the reason `edocr` gave (its `_dropped` lines, in the
  `NAME.stages.json` that `drawpipe analyze --stage-outputs` writes).

Only totals are printed, so it can be run on the check split without showing a single
reading of it.

Usage: tools/vector_report.py NAME=OUT_DIR [NAME=OUT_DIR ...]
  e.g. tools/vector_report.py tune=out/vector-tune check=out/vector-check
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vector_misses import load_scorer, scored_pages  # noqa: E402  (one loader for the scorer)


def centre_in(b, box):
    x, y = b[0] + b[2] / 2, b[1] + b[3] / 2
    return box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]


def table_kind(d, tables, drops, page_h):
    """A table drop's kind: where its table lies (the lower 30 % of the page, where
    title blocks and parts lists sit, or above) and how many of the table's cells
    hold a dropped line (one: line work drawn as rectangles is the likelier)."""
    t = next((r for r in tables if centre_in(d["bbox"], r["bbox"])), None)
    if t is None:
        return "table"
    band = "lower" if t["bbox"][1] + t["bbox"][3] / 2 > 0.7 * page_h else "upper"
    held = sum(1 for c in t.get("cells") or []
               if any(e["reason"] == "table" and centre_in(e["bbox"], c) for e in drops))
    size = "1 text cell" if held <= 1 else "2-5 text cells" if held <= 5 else ">5 text cells"
    return f"table, {band}, {size}"


def tally(vt, out):
    c = collections.Counter()
    for report, rep, toks, sx, sy in scored_pages(vt, out):
        c["drawings"] += 1
        page = rep["pages"][0]
        pos = [(t, t.cx * sx, t.cy * sy) for t in toks]
        dims = [(vt.grown(d["bbox"]), vt.numbers(d.get("raw") or ""), (d.get("raw") or "").strip())
                for d in rep.get("dimensions") or [] if (d.get("page") or 0) == 0 and d.get("bbox")]
        lines = [(vt.grown(t["bbox"]), vt.numbers(t.get("text") or ""))
                 for t in rep.get("text") or [] if (t.get("page") or 0) == 0 and t.get("bbox")]
        why = []
        stages = report[:-5] + ".stages.json"
        if os.path.exists(stages):
            with open(stages) as f:
                edocr = json.load(f).get("edocr") or {}
            drops = [d for d in edocr.get("_dropped") or [] if (d.get("page") or 0) == 0]
            tables = [r for r in edocr.get("_regions") or []
                      if r.get("kind") == "table" and (r.get("page") or 0) == 0]
            why = [(vt.grown(d["bbox"]), vt.numbers(d.get("text") or ""),
                    table_kind(d, tables, drops, page["height"]) if d["reason"] == "table"
                    else d["reason"])
                   for d in drops]
        for box, nums, raw in dims:
            shape = "single char" if len(raw.replace(" ", "")) == 1 else "longer"
            for v in nums:
                c["pred"] += 1
                hit = [t for t, x, y in pos if v in t.nums and vt.inside(box, x, y)]
                if not hit:
                    c[f"wrong: {shape}"] += 1
                elif all(t.why for t in hit):
                    c[f"not truth: {hit[0].why}"] += 1
                else:
                    c["right"] += 1
        for t, x, y in pos:
            if t.why or not t.nums:
                continue
            for v in t.nums:
                c["truth"] += 1
                if any(v in n and vt.inside(b, x, y) for b, n, _ in dims):
                    c["covered"] += 1
                    continue
                there = [n for b, n in lines if vt.inside(b, x, y)]
                if any(v in n for n in there):
                    reason = next((r for b, n, r in why if v in n and vt.inside(b, x, y)),
                                  "merged or kept, number lost" if why else "no reasons recorded")
                    c[f"missed: dropped: {reason}"] += 1
                elif there:
                    c["missed: misread"] += 1
                else:
                    c["missed: unread"] += 1
    return c


def main(args):
    if not args or any("=" not in a for a in args):
        sys.exit(__doc__)
    vt = load_scorer()
    runs = [(a.split("=", 1)[0], tally(vt, a.split("=", 1)[1])) for a in args]
    ratio = lambda a, b: f"{a / b:.3f}" if b else "-"
    rows = [
        ("drawings", lambda c: str(c["drawings"])),
        ("predicted numbers", lambda c: str(c["pred"])),
        ("value precision", lambda c: ratio(c["pred"] - sum(v for k, v in c.items() if k.startswith("wrong")), c["pred"])),
        ("strict precision", lambda c: ratio(c["right"], c["pred"])),
        ("truth numbers", lambda c: str(c["truth"])),
        ("value recall", lambda c: ratio(c["covered"], c["truth"])),
    ]
    kinds = sorted({k for _, c in runs for k in c if ":" in k})
    rows += [(k, (lambda k: lambda c: str(c[k]))(k)) for k in kinds]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  " + "  ".join(f"{n:>8}" for n, _ in runs))
    for label, f in rows:
        print(f"{label:{width}}  " + "  ".join(f"{f(c):>8}" for _, c in runs))


if __name__ == "__main__":
    main(sys.argv[1:])
