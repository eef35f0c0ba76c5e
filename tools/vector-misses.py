#!/usr/bin/env python3
"""Why the numbers a vector-eval run did not find were missed.

Usage: tools/vector-misses.py OUT_DIR [EXAMPLES]
  OUT_DIR   a `tools/vector-eval.sh --out` folder (pdf/, reports/ with <name>.stages.json:
            the eval passes --stage-outputs)
  EXAMPLES  examples printed per cause (default 6)

Every truth number the scorer (`../shared/tools/vector_tokens.py --detail`) marks MISSED is
looked up, at its position, in what `edocr` made of the page: inside a reported dimension
(`dim_wrong`: read, but another value), inside a line `edocr` dropped (`dropped:<reason>`:
not_a_dimension, title_block, unsure_reading, ...), inside an OCR line only (`ocr_only`), or
nowhere (`not_detected`). `frag` marks text set at a slant. Prints the causes by count with
examples (drawing, truth, what was read, position, box). Use it on tune folders: the
examples show the drawings.
"""
import collections
import json
import os
import re
import subprocess
import sys

SCORER = os.environ.get("DRAWPIPE_VECTOR_SCORER", "../shared/tools/vector_tokens.py")
MISSED = re.compile(r"\s+truth (.+?)\s+(\(frag\) )?@\((\d+),(\d+)\)\s+(.*)")


def cause(px, py, stages):
    """(cause, text, bbox) of whatever `edocr` or `ocr` made at (px, py)."""
    edocr = stages.get("edocr", {})

    def inside(b, pad=10):
        x, y, w, h = b
        return x - pad <= px <= x + w + pad and y - pad <= py <= y + h + pad

    for d in edocr.get("dimensions", []):
        if inside(d["bbox"]):
            return "dim_wrong", d["raw"], d["bbox"]
    for d in edocr.get("_dropped", []):
        if inside(d["bbox"]):
            return "dropped:" + d["reason"], d["text"], d["bbox"]
    for line in stages.get("ocr", {}).get("text", []):
        if inside(line["bbox"]):
            return "ocr_only", line["text"], line["bbox"]
    return "not_detected", "", None


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out = sys.argv[1]
    examples = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    reports = os.path.join(out, "reports")
    names = sorted(f[:-5] for f in os.listdir(reports)
                   if f.endswith(".json") and not f.endswith(".stages.json"))
    counts, shown = collections.Counter(), collections.defaultdict(list)
    for name in names:
        detail = subprocess.run(
            [sys.executable, SCORER, "--detail", name, os.path.join(out, "pdf"), reports],
            capture_output=True, text=True).stdout
        stages = json.load(open(os.path.join(reports, f"{name}.stages.json")))
        for line in detail.splitlines():
            m = MISSED.match(line)
            if not m or "MISSED" not in m.group(5):
                continue
            px, py = int(m.group(3)), int(m.group(4))
            kind, text, box = cause(px, py, stages)
            kind += " frag" if m.group(2) else ""
            counts[kind] += 1
            shown[kind].append(f"{name} {m.group(1)} -> {text!r} @{px},{py} {box}")
    for kind, n in counts.most_common():
        print(n, kind)
        for e in shown[kind][:examples]:
            print("   ", e)


if __name__ == "__main__":
    main()
