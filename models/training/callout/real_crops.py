"""Line crops with exact text from real CAD PDFs: page 1 rendered at 300 DPI (as
tools/vector-eval.sh does), the text layer's words (pdftotext -bbox) grouped into
horizontal lines, each line holding a digit cut out with a margin. The split follows
tools/vector-split.tsv (by project, fixed before any result was seen): tune crops may
train, check crops are only scored.

    python real_crops.py --split tune --out /tmp/drawpipe-callout/real-tune
"""

import argparse
import html
import json
import os
import re
import subprocess
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from common import encodable, normalise  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def projects(split):
    out = set()
    for line in open(os.path.join(ROOT, "tools", "vector-split.tsv")):
        if line.startswith("#") or "\t" not in line:
            continue
        p, s = line.rstrip("\n").split("\t")
        if s == split:
            out.add(p)
    return out


def words(pdf):
    x = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", pdf, "-"],
                       capture_output=True, text=True, errors="replace").stdout
    return [(float(a), float(b), float(c), float(d), html.unescape(t)) for a, b, c, d, t in WORD.findall(x)]


def lines_of(ws):
    """Horizontal words (wider than tall, or one character) joined left to right when
    they share a baseline band and the gap is under one text height."""
    ws = [w for w in ws if w[2] - w[0] >= (w[3] - w[1]) * 0.5 or len(w[4]) == 1]
    ws.sort(key=lambda w: (w[0]))
    used = [False] * len(ws)
    out = []
    for i, w in enumerate(ws):
        if used[i]:
            continue
        used[i] = True
        line = [w]
        while True:
            last = line[-1]
            h = last[3] - last[1]
            cy = (last[1] + last[3]) / 2
            nxt = None
            for j, v in enumerate(ws):
                if used[j] or v[0] < last[2] - 0.2 * h:
                    continue
                vh = v[3] - v[1]
                if abs((v[1] + v[3]) / 2 - cy) < 0.25 * h and 0.7 < vh / max(h, 1e-6) < 1.4 \
                        and v[0] - last[2] < 1.0 * h:
                    if nxt is None or v[0] < ws[nxt][0]:
                        nxt = j
            if nxt is None:
                break
            used[nxt] = True
            line.append(ws[nxt])
        out.append(line)
    return out


def margin(page, x, y0, y1, side, h):
    """0.25 h when the band beside the word is blank, else 0.03 h."""
    a, b = (x - 0.25 * h, x - 0.03 * h) if side < 0 else (x + 0.03 * h, x + 0.25 * h)
    band = page.crop((int(a), int(y0 + 0.1 * h), int(b) + 1, int(y1 - 0.1 * h) + 1))
    px = list(band.getdata())
    ink = sum(1 for v in px if v < 128) / max(1, len(px))
    return 0.25 * h if ink < 0.02 else 0.03 * h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True, choices=["tune", "check"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--src", default=os.environ.get("DRAWPIPE_VECTOR_DIR",
                                                    os.path.join(ROOT, "..", "shared", "data", "drawings", "vector")))
    ap.add_argument("--per-drawing", type=int, default=80, help="at most this many crops per drawing")
    a = ap.parse_args()
    keep = projects(a.split)
    os.makedirs(os.path.join(a.out, "img"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "pages"), exist_ok=True)
    rows, skipped = [], 0
    for f in sorted(os.listdir(a.src)):
        if not f.lower().endswith(".pdf"):
            continue
        proj = "__".join(f.split("__")[:2])
        if proj not in keep:
            continue
        name = f.rsplit(".", 1)[0]
        pdf = os.path.join(a.src, f)
        png = os.path.join(a.out, "pages", name)
        if not os.path.exists(png + ".png"):
            subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", "-singlefile", "-f", "1", "-l", "1", pdf, png],
                           check=False, capture_output=True)
        if not os.path.exists(png + ".png"):
            continue
        page = Image.open(png + ".png").convert("L")
        s = 300 / 72
        n = 0
        ws = words(pdf)
        heights = sorted(w[3] - w[1] for w in ws if len(w[4]) > 1 and w[2] - w[0] > w[3] - w[1])
        if not heights:
            continue
        typical = heights[len(heights) // 2]
        for line in lines_of(ws):
            text = normalise(" ".join(w[4] for w in line))
            if not any(c.isdigit() for c in text) or len(text) > 32:
                continue
            if not encodable(text):
                skipped += 1
                continue
            x0 = min(w[0] for w in line) * s
            y0 = min(w[1] for w in line) * s
            x1 = max(w[2] for w in line) * s
            y1 = max(w[3] for w in line) * s
            h = y1 - y0
            # Tall boxes hold vertical or slanted text: the crop would not be one upright line.
            if h < 8 or h > 1.6 * typical * s or (len(text) > 1 and x1 - x0 < 1.2 * h):
                continue
            # A margin where it is blank; none where ink sits beside the word (a diameter
            # sign drawn as graphics, a table rule), so the crop shows only its label's text.
            left = margin(page, x0, y0, y1, -1, h)
            right = margin(page, x1, y0, y1, 1, h)
            box = (int(x0 - left), int(y0 - 0.12 * h), int(x1 + right), int(y1 + 0.12 * h))
            crop = page.crop(box)
            fn = f"{name}-{n:03d}.png"
            crop.save(os.path.join(a.out, "img", fn))
            rows.append({"file": fn, "text": text, "drawing": name, "project": proj})
            n += 1
            if n >= a.per_drawing:
                break
    with open(os.path.join(a.out, "labels.jsonl"), "w") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{a.split}: {len(rows)} crops from {len(set(r['drawing'] for r in rows))} drawings "
          f"({skipped} lines with characters outside the set skipped)")


if __name__ == "__main__":
    main()
