#!/usr/bin/env python3
"""Turns a labelled set (images with eDOCr2-format `<stem>.csv` truth beside them) by a
random angle each, as a crooked scanner would, for `drawpipe eval`: each image turned
about its centre onto a canvas that holds all of it (white corners, bicubic), and its
truth polygons turned with it.

Usage: .venv-synth/bin/python tools/skew_set.py SRC DST [--max-deg 3] [--seed 9191]
                                                   [--angles 1.5,-2.5]
  e.g. tools/skew_set.py /tmp/syn8123 /tmp/synskew, then `drawpipe eval /tmp/synskew`.
  --angles: each image turned by each listed angle instead (NAME_p1.5, NAME_m2.5), as
  JPEG (quality 90): tools/skew_set.py tests/fixtures/drawings /tmp/skew --angles 1.5,-2.5,
  then `drawpipe analyze /tmp/skew/*.jpg --out R --stages edocr` and
  `tools/text_match.py R tests/fixtures/drawings`.
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
    ap.add_argument("--angles", default="")
    a = ap.parse_args()
    fixed = [float(v) for v in a.angles.split(",") if v]
    os.makedirs(a.dst, exist_ok=True)
    rng = random.Random(a.seed)
    for png in sorted(glob.glob(os.path.join(a.src, "*.png")) + glob.glob(os.path.join(a.src, "*.jpg"))):
        stem, ext = os.path.splitext(png)
        if stem.endswith(".labels") or not os.path.exists(stem + ".csv"):
            continue
        im = Image.open(png).convert("L")
        base = os.path.basename(stem)
        with open(stem + ".csv", newline="") as f:
            rows = [row for row in csv.reader(f) if len(row) >= 9]
        if fixed:
            for ang in fixed:
                name = f"{base}_{'p' if ang > 0 else 'm'}{abs(ang)}"
                turn(im, ang, rows, os.path.join(a.dst, name), ".jpg")
                print(f"{name}: turned {ang:+.2f}°")
        else:
            ang = rng.uniform(-a.max_deg, a.max_deg)
            turn(im, ang, rows, os.path.join(a.dst, base), ext)
            print(f"{base}: turned {ang:+.2f}°")


def turn(im, ang, rows, out, ext):
    """Writes `im` turned by `ang` degrees as OUT+EXT and its truth `rows` as OUT.csv."""
    w, h = im.size
    # PIL turns counter-clockwise on screen for a positive angle.
    r = im.rotate(ang, resample=Image.BICUBIC, expand=True, fillcolor=255)
    nw, nh = r.size
    t = math.radians(ang)
    c, s = math.cos(t), math.sin(t)

    def turned(x, y):
        dx, dy = x - w / 2, y - h / 2
        return c * dx + s * dy + nw / 2, -s * dx + c * dy + nh / 2

    if ext == ".jpg":
        r.save(out + ext, quality=90)
    else:
        r.save(out + ext)
    with open(out + ".csv", "w", newline="") as f:
        wr = csv.writer(f)
        for row in rows:
            pts = [turned(float(row[i]), float(row[i + 1])) for i in range(0, 8, 2)]
            wr.writerow([str(round(v)) for p in pts for v in p] + row[8:])

if __name__ == "__main__":
    main()
