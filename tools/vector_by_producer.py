#!/usr/bin/env python3
"""A `tools/vector-eval.sh --from-pdf` run by the CAD program that wrote each PDF.

Per producer (the PDF's `Creator`, else `Producer`, from `pdfinfo`, version numbers
dropped), totals only (so it may run on check):
- drawings, and how many were read from their text layer (a report `text` line with
  `source: text_layer`) rather than from pixels;
- value precision and value recall (the scorer's per-drawing lines in `score.txt`);
- callouts rebuilt from pieces: dimensions read from the text layer whose box spans
  more than one `pdftotext -bbox` word (a stacked tolerance, a split thread, slanted
  text cut glyph by glyph);
- diameter signs: dimensions with Ø, and where the sign came from: the text layer's
  own text, or the pixels next to the number (the line's text lacks it).

Usage: tools/vector_by_producer.py NAME=OUT_DIR [NAME=OUT_DIR ...]
"""
import collections
import glob
import html
import os
import re
import subprocess
import sys

WORD = re.compile(r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>', re.S)
DIAMETER = ("Ø", "⌀", "ø")


def producer(pdf):
    out = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
    info = dict(re.findall(r"^(Creator|Producer):\s*(.*)$", out, re.M))
    name = info.get("Creator") or info.get("Producer") or "unknown"
    name = re.sub(r"[\d.()_\-/ ]*(SP[\d.]*)?[\d.()\s]*$", "", name).strip() or "unknown"
    return re.split(r"\s+(?:\d|SP\d)", name)[0]


def words(pdf):
    out = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", pdf, "-"], capture_output=True,
                         text=True).stdout
    return [(float(a), float(b), float(c), float(d), html.unescape(t)) for a, b, c, d, t in WORD.findall(out)]


def page_points(pdf):
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", "1", "-box", pdf], capture_output=True, text=True).stdout
    m = re.search(r"Page\s+1 size:\s+([\d.]+) x ([\d.]+)", out) or re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", out)
    w, h = float(m.group(1)), float(m.group(2))
    r = re.search(r"Page\s+1 rot:\s+(\d+)", out)
    return (h, w) if r and int(r.group(1)) % 180 == 90 else (w, h)


def tally(out):
    import json
    scores = {}
    with open(os.path.join(out, "score.txt")) as f:
        for line in f:
            m = re.match(r"(\S+): pred_numbers=(\d+) correct=(\d+) truth_numbers=(\d+) covered=(\d+)", line)
            if m:
                scores[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    by = collections.defaultdict(collections.Counter)
    for pdf in sorted(glob.glob(os.path.join(out, "pdf", "*"))):
        stem = os.path.splitext(os.path.basename(pdf))[0]
        c = by[producer(pdf)]
        c["drawings"] += 1
        p, ok, t, cov = scores.get(stem, (0, 0, 0, 0))
        c["pred"] += p
        c["correct"] += ok
        c["truth"] += t
        c["covered"] += cov
        path = os.path.join(out, "reports", stem + ".json")
        if not os.path.exists(path):
            continue
        rep = json.load(open(path))
        lines = [l for l in rep.get("text") or [] if l.get("source") == "text_layer" and (l.get("page") or 0) == 0]
        if lines:
            c["read from text layer"] += 1
        pages = rep.get("pages") or []
        if not pages:
            continue
        pw, ph = page_points(pdf)
        sx, sy = pages[0]["width"] / pw, pages[0]["height"] / ph
        ws = [((a + cc) / 2 * sx, (b + d) / 2 * sy) for a, b, cc, d, _ in words(pdf)]
        for d in rep.get("dimensions") or []:
            if (d.get("page") or 0) != 0 or d.get("source") != "text_layer":
                continue
            x, y, w, h = d["bbox"]
            inside = sum(1 for cx, cy in ws if x <= cx <= x + w and y <= cy <= y + h)
            c["text-layer dimensions"] += 1
            if inside > 1:
                c["rebuilt from >1 word"] += 1
            raw = d.get("raw") or ""
            if any(s in raw for s in DIAMETER):
                c["with a diameter sign"] += 1
                line = next((l for l in lines if abs(l["bbox"][0] - x) < 2 and abs(l["bbox"][1] - y) < 2), None)
                text = (line or {}).get("text") or ""
                c["Ø from the text layer" if any(s in text for s in DIAMETER) else "Ø from the pixels"] += 1
    return by


def main():
    runs = [a.partition("=")[::2] for a in sys.argv[1:]]
    if not runs or not all(n and o for n, o in runs):
        sys.exit(__doc__)
    keys = ["drawings", "read from text layer", "text-layer dimensions", "rebuilt from >1 word",
            "with a diameter sign", "Ø from the text layer", "Ø from the pixels"]
    for name, out in runs:
        by = tally(out)
        print(f"== {name}")
        print(f"{'producer':28}" + "".join(f"{k[:14]:>15}" for k in keys) + f"{'precision':>11}{'recall':>8}")
        for prod in sorted(by, key=lambda p: -by[p]["drawings"]):
            c = by[prod]
            prec = c["correct"] / c["pred"] if c["pred"] else float("nan")
            rec = c["covered"] / c["truth"] if c["truth"] else float("nan")
            print(f"{prod[:27]:28}" + "".join(f"{c[k]:>15}" for k in keys) + f"{prec:>11.3f}{rec:>8.3f}")


if __name__ == "__main__":
    main()
