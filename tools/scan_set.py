#!/usr/bin/env python3
"""Make scan-like copies of page renderings: the reader on scans of drawings it knows.

Usage: scan_set.py SRC_DIR DST_DIR [--seed N] [--jpeg-min Q]

Each SRC_DIR/*.png (a clean rendering, e.g. tools/vector-eval.sh's out/vector-<split>/png)
is written to DST_DIR under the same name after the degradations a flatbed scan or a
photocopy adds, each drawn per file from a seeded generator (the same file and seed give
the same image):
  ink printed lighter (ink at 55-92 % of black), grey paper (228-250), a Gaussian blur
  (radius 0.35-1.1 px), sensor noise (sigma 2-9), speckles (2e-5 to 2e-4 of the pixels)
  and JPEG compression (quality 35-85), the ranges of the synthetic generator's scan
  style (models/training/synth/generator.py). The page is neither turned nor moved, so
  text-layer truth (../shared/tools/vector_tokens.py) still lies where it was printed.
Then `tools/vector-eval.sh SPLIT --out DIR` with DIR/png holding the copies reads them
(renderings already in a folder are reused) and scores them.
"""
import argparse
import io
import pathlib
import zlib

import numpy as np
from PIL import Image, ImageFilter


def degrade(img, rng, jpeg_min):
    ink = 255.0 - np.asarray(img.convert("L"), dtype=np.float32)
    f = rng.uniform(0.55, 0.92)
    paper = rng.uniform(228, 250)
    work = paper - ink * (f * paper / 255.0)
    r = rng.uniform(0.35, 1.1)
    work = np.asarray(Image.fromarray(work.clip(0, 255).astype(np.uint8))
                      .filter(ImageFilter.GaussianBlur(r)), dtype=np.float32)
    sigma = rng.uniform(2, 9)
    work = work + rng.normal(0, sigma, size=work.shape).astype(np.float32)
    h, w = work.shape
    n = int(rng.uniform(2e-5, 2e-4) * w * h)
    ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
    work[ys, xs] = rng.choice(np.array([0.0, 60.0, 255.0], np.float32), n)
    q = int(rng.integers(jpeg_min, 86))
    buf = io.BytesIO()
    Image.fromarray(work.clip(0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert("L"), dict(ink=f, paper=paper, blur=r, noise=sigma, jpeg=q)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jpeg-min", type=int, default=35)
    a = ap.parse_args()
    dst = pathlib.Path(a.dst)
    dst.mkdir(parents=True, exist_ok=True)
    for p in sorted(pathlib.Path(a.src).glob("*.png")):
        rng = np.random.default_rng([a.seed, zlib.crc32(p.name.encode())])
        out, how = degrade(Image.open(p), rng, a.jpeg_min)
        out.save(dst / p.name)
        print(p.name, " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in how.items()))


if __name__ == "__main__":
    main()
