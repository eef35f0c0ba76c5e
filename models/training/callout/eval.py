"""Character error rate of the callout recogniser against PP-OCRv6 (the `ocr` stage's
recogniser, from models/ppocr) on the same line crops, overall and by what the truth
holds (⌀, °, a decimal comma, ±, a deviation sign, letters). Each crop is given to
each model with that model's own preprocessing.

    python eval.py --model models/callout/callout-rec.onnx /tmp/drawpipe-callout/real-check ...
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from common import decode_greedy, lev, normalise, to_input  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")


class Ours:
    def __init__(self, path):
        o = ort.SessionOptions()
        o.intra_op_num_threads = 2
        self.s = ort.InferenceSession(path, o)

    def read(self, img):
        probs = self.s.run(None, {"x": to_input(img)[None]})[0][0]
        return decode_greedy(probs)


class PaddleRec:
    def __init__(self, folder):
        o = ort.SessionOptions()
        o.intra_op_num_threads = 2
        self.s = ort.InferenceSession(os.path.join(folder, "PP-OCRv6_rec_small.onnx"), o)
        chars = self.s.get_modelmeta().custom_metadata_map["character"].splitlines()
        self.dict = [""] + chars + [" "]

    def read(self, img):
        g = img.convert("L")
        w, h = g.size
        rw = max(1, int(np.ceil(48 * w / h)))
        W = max(rw, 320)
        a = np.asarray(g.resize((rw, 48), Image.BILINEAR), np.float32) / 127.5 - 1.0
        x = np.zeros((1, 3, 48, W), np.float32)
        x[0, :, :, :rw] = a
        p = self.s.run(None, {"x": x})[0][0]
        best = p.argmax(-1)
        out, conf, prev = [], [], 0
        for t, k in enumerate(best):
            if k != 0 and k != prev:
                out.append(self.dict[k])
                conf.append(p[t, k])
            prev = k
        return normalise("".join(out)), float(np.mean(conf)) if conf else 0.0


INSERTABLE = set("⌀,.")


def looks_like(symbol, read):
    return read in {"⌀": "0OoΦφ@", "°": "0oO'\"*。", "±": "+tT土干", "′": "'", "″": '"'}.get(symbol, "")


def adds_symbols_only(pp, ours):
    """The rule `edocr` applies (workers/src/stages/edocr/callout.rs): `ours` is
    `pp` with drawing symbols inserted or put in place of look-alikes, nothing else."""
    fold = lambda c: "⌀" if c in "⌀Øø∅" else c  # noqa: E731
    a = [fold(c) for c in pp if not c.isspace()]
    b = [fold(c) for c in ours if not c.isspace()]
    if a == b:
        return False
    NO = 1000
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        d[i][0] = NO * i
    for j in range(1, len(b) + 1):
        d[0][j] = d[0][j - 1] + (1 if b[j - 1] in INSERTABLE else NO)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            x, y = a[i - 1], b[j - 1]
            sub = 0 if x == y else (1 if looks_like(y, x) else NO)
            ins = 1 if y in INSERTABLE else NO
            d[i][j] = min(d[i - 1][j - 1] + sub, d[i][j - 1] + ins, d[i - 1][j] + NO)
    return d[len(a)][len(b)] < NO


class Combined:
    """PP-OCR's reading, with the callout model's where the rule allows it."""

    def __init__(self, ours, pp, min_conf):
        self.ours, self.pp, self.min_conf = ours, pp, min_conf

    def read(self, img):
        p, pc = self.pp.read(img)
        o, oc = self.ours.read(img)
        return (o, oc) if oc >= self.min_conf and adds_symbols_only(p, o) else (p, pc)


GROUPS = {
    "all": lambda t: True,
    "⌀": lambda t: "⌀" in t,
    "°": lambda t: "°" in t,
    "decimal comma": lambda t: any(t[i] == "," and t[i - 1].isdigit() and t[i + 1].isdigit() for i in range(1, len(t) - 1)),
    "±": lambda t: "±" in t,
    "+/- deviation": lambda t: t[:1] in "+-" and len(t) > 1,
    "digits only": lambda t: t.replace(".", "").isdigit(),
    "letters": lambda t: any(c.isalpha() for c in t),
}


def score(folder, readers, limit):
    rows = [json.loads(l) for l in open(os.path.join(folder, "labels.jsonl"))][:limit or None]
    acc = {name: {g: [0, 0, 0, 0] for g in GROUPS} for name in readers}  # errs, chars, exact, n
    for r in rows:
        img = Image.open(os.path.join(folder, "img", r["file"]))
        t = r["text"]
        for name, rd in readers.items():
            p = normalise(rd.read(img)[0])
            e = lev(p, t)
            for g, f in GROUPS.items():
                if f(t):
                    a = acc[name][g]
                    a[0] += e
                    a[1] += len(t)
                    a[2] += p == t
                    a[3] += 1
    return len(rows), acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "callout", "callout-rec.onnx"))
    ap.add_argument("--ppocr", default=os.path.join(ROOT, "models", "ppocr"))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--min-confidence", type=float, default=0.9,
                    help="the `edocr` rule's threshold (Params::callout_min_confidence)")
    a = ap.parse_args()
    ours, pp = Ours(a.model), PaddleRec(a.ppocr)
    readers = {"callout": ours, "PP-OCRv6": pp, "PP-OCRv6 + rule": Combined(ours, pp, a.min_confidence)}
    out = {}
    for f in a.folders:
        n, acc = score(f, readers, a.limit)
        name = os.path.basename(os.path.normpath(f))
        out[name] = {"crops": n, "by_group": {}}
        print(f"\n{name}: {n} crops")
        print(f"  {'truth holds':<16}{'n':>6}" + "".join(f"{k + ' CER':>16}{k + ' exact':>18}" for k in readers))
        for g in GROUPS:
            cnt = acc["callout"][g][3]
            if not cnt:
                continue
            line = f"  {g:<16}{cnt:>6}"
            out[name]["by_group"][g] = {"n": cnt}
            for k in readers:
                e, c, x, m = acc[k][g]
                line += f"{e / max(1, c):>16.4f}{x / max(1, m):>18.3f}"
                out[name]["by_group"][g][k] = {"cer": round(e / max(1, c), 4), "exact": round(x / max(1, m), 4)}
            print(line)
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
