#!/usr/bin/env python3
"""Turns a labelled set (images with eDOCr2-format `<stem>.csv` truth beside them) by a
random angle each, as a crooked scanner would, for `drawpipe eval`: each image turned
about its centre onto a canvas that holds all of it (white corners, bicubic), and its
truth polygons turned with it.

Usage: .venv-synth/bin/python tools/skew_set.py SRC DST [--max-deg 3] [--seed 9191]
  e.g. tools/skew_set.py /tmp/syn8123 /tmp/synskew, then `drawpipe eval /tmp/synskew`.
Needs Pillow (the synthetic generator's venv, scripts/synth-venv.sh, has it).
"""
import argparse
import csv
import glob
import math
import os
import random

from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--max-deg", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=9191)
    a = ap.parse_args()
    os.makedirs(a.dst, exist_ok=True)
    rng = random.Random(a.seed)
    for png in sorted(glob.glob(os.path.join(a.src, "*.png")) + glob.glob(os.path.join(a.src, "*.jpg"))):
        stem, ext = os.path.splitext(png)
        if stem.endswith(".labels") or not os.path.exists(stem + ".csv"):
            continue
        ang = rng.uniform(-a.max_deg, a.max_deg)
        im = Image.open(png).convert("L")
        w, h = im.size
        # PIL turns counter-clockwise on screen for a positive angle.
        r = im.rotate(ang, resample=Image.BICUBIC, expand=True, fillcolor=255)
        nw, nh = r.size
        t = math.radians(ang)
        c, s = math.cos(t), math.sin(t)

        def turned(x, y):
            dx, dy = x - w / 2, y - h / 2
            return c * dx + s * dy + nw / 2, -s * dx + c * dy + nh / 2

        base = os.path.basename(stem)
        r.save(os.path.join(a.dst, base + ext))
        with open(stem + ".csv", newline="") as f:
            rows = [row for row in csv.reader(f) if len(row) >= 9]
        with open(os.path.join(a.dst, base + ".csv"), "w", newline="") as f:
            out = csv.writer(f)
            for row in rows:
                pts = [turned(float(row[i]), float(row[i + 1])) for i in range(0, 8, 2)]
                out.writerow([str(round(v)) for p in pts for v in p] + row[8:])
        print(f"{base}: turned {ang:+.2f}°")


if __name__ == "__main__":
    main()
