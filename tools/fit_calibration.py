#!/usr/bin/env python3
"""Fit the calibration of `edocr` dimension confidences (workers/src/stages/edocr/calibrate.rs)
on tools/vector-eval.sh runs of *tune* drawings, and print the constants to paste there.

Each page-1 dimension read from the pixels (`source` "ocr") is one sample: right when every
number of it is printed where it was read and counts as drawing-area truth (the scorer's
strict test: a title-block or zone-label reading is wrong as a dimension). The model is a
logistic regression (Platt scaling) on two features the stage knows when it emits the item:

  logit  log(c / (1 - c)) of the recogniser's confidence c (clamped to [0.001, 0.9999])
  short  1 for an integer of at most two digits (`8`, `24`, `R5`), else 0: such readings are
         a digit or two on line work, a cut number or a label far more often than a number
         with a decimal separator or three digits

fitted by Newton's method with a small ridge penalty (0.01) on the two weights, not on the
bias. The dimension's `confidence` becomes the fitted probability; the recogniser's own is
kept as `read_confidence`. Text-layer dimensions keep confidence 1 (their text is the file's).

Usage: tools/fit_calibration.py OUT_DIR [OUT_DIR ...]   (tune runs only, e.g. out/vector-tune)
Reads `read_confidence` where a report has it (a run with calibration on), else `confidence`.
"""
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vector_calibration import scored_dimensions  # noqa: E402
from vector_misses import load_scorer  # noqa: E402

RIDGE = 0.01


def is_short(raw):
    """An integer of at most two digits: the same test as calibrate.rs's `is_short`."""
    digits = sum(c.isdigit() for c in raw)
    return digits <= 2 and not re.search(r"\d[.,]\d", raw)


def features(conf, raw):
    c = min(max(conf, 0.001), 0.9999)
    return [1.0, math.log(c / (1 - c)), 1.0 if is_short(raw) else 0.0]


def samples(vt, out):
    for d, _, strict in scored_dimensions(vt, out):
        if d.get("source") == "text_layer":
            continue
        conf = d.get("read_confidence", d.get("confidence")) or 0.0
        yield features(float(conf), d.get("raw") or ""), 1.0 if strict else 0.0


def fit(xs, ys, iters=50):
    w = [0.0] * len(xs[0])
    for _ in range(iters):
        g = [0.0] * len(w)
        h = [[0.0] * len(w) for _ in w]
        for x, y in zip(xs, ys):
            p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x))))
            for i in range(len(w)):
                g[i] += (y - p) * x[i]
                for j in range(len(w)):
                    h[i][j] += p * (1 - p) * x[i] * x[j]
        for i in range(1, len(w)):
            g[i] -= RIDGE * w[i]
            h[i][i] += RIDGE
        step = solve(h, g)
        w = [a + b for a, b in zip(w, step)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return w


def solve(a, b):
    """Gaussian elimination with partial pivoting for the small Newton system a x = b."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def main(dirs):
    if not dirs:
        sys.exit(__doc__)
    vt = load_scorer()
    xs, ys = [], []
    for d in dirs:
        for x, y in samples(vt, d):
            xs.append(x)
            ys.append(y)
    w = fit(xs, ys)
    ll = sum(math.log(max(1e-12, p if y else 1 - p)) for x, y in zip(xs, ys)
             for p in [1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x))))])
    print(f"samples {len(ys)}, wrong {int(len(ys) - sum(ys))}, mean log-likelihood {ll / len(ys):.4f}")
    for short, name in [(1.0, "short integers"), (0.0, "other readings")]:
        ws = [y for x, y in zip(xs, ys) if x[2] == short]
        if ws:
            print(f"{name}: {len(ws)}, wrong {len(ws) - sum(ws):.0f} ({1 - sum(ws) / len(ws):.3f})")
    print(f"const BIAS: f32 = {w[0]:.4f};\nconst LOGIT: f32 = {w[1]:.4f};\nconst SHORT: f32 = {w[2]:.4f};")


if __name__ == "__main__":
    main(sys.argv[1:])
