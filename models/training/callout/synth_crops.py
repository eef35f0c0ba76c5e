"""Synthetic single-line crops of dimension callouts, rendered with the fonts drawings
use (osifont, an ISO 3098-like CAD font; DejaVu; Liberation; FreeFont) and degraded like
rasterised and scanned drawings: thin or heavy strokes, blur, noise, JPEG, a dimension
line under the text, pieces of neighbouring line work, small rotation and shear.
The text generator covers what the `edocr` parser reads: sizes with decimal points or
commas, ⌀ R SR M prefixes, ± and stacked deviations (each deviation is its own line on
a page), fits, angles in degrees and minutes, counts (4X, 2x, (X4), TYP), threads,
chamfers, inch decimals and fractions, references in brackets, roughness, and the
words and numbers of notes and title blocks.

    python synth_crops.py --count 60000 --seed 1 --out /tmp/drawpipe-callout/synth-train.npz
"""

import argparse
import io
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, os.path.dirname(__file__))
from common import HEIGHT, MAX_WIDTH, encodable, tighten  # noqa: E402

FONT_FILES = [
    ("osifont/osifont.ttf", 6),
    ("dejavu/DejaVuSans.ttf", 3), ("dejavu/DejaVuSansCondensed.ttf", 3),
    ("dejavu/DejaVuSans-Oblique.ttf", 1), ("dejavu/DejaVuSansCondensed-Oblique.ttf", 1),
    ("dejavu/DejaVuSansMono.ttf", 2), ("dejavu/DejaVuSerif.ttf", 1), ("dejavu/DejaVuSans-Bold.ttf", 1),
    ("liberation2/LiberationSans-Regular.ttf", 4), ("liberation2/LiberationSans-Italic.ttf", 1),
    ("liberation2/LiberationSans-Bold.ttf", 1), ("liberation2/LiberationMono-Regular.ttf", 1),
    ("liberation2/LiberationSerif-Regular.ttf", 1),
    ("freefont/FreeSans.ttf", 2), ("freefont/FreeSansOblique.ttf", 1), ("freefont/FreeMono.ttf", 1),
    ("freefont/FreeSerif.ttf", 1),
]
FONT_ROOT = os.environ.get("CALLOUT_FONT_ROOT", "/usr/share/fonts/truetype")
FITS = ["H7", "H8", "H6", "G7", "F7", "K7", "N7", "P7", "JS9", "H11", "g6", "h6", "k6", "m6", "f7",
        "h7", "h9", "js6", "p6", "r6", "e8", "H7/g6", "H7/h6", "H7/k6", "H7/n6", "H8/f7", "H7/p6"]
WORDS = ["THRU", "TYP", "TYP.", "REF", "DEEP", "X", "SECTION", "DETAIL", "SCALE", "SHEET", "OF", "REV",
         "ALL", "EQ", "SP", "PCD", "BSC", "MAX", "MIN", "UNC", "UNF", "CSK", "CBORE", "NOTES", "ISO",
         "DIN", "MATERIAL", "WEIGHT", "kg", "mm", "Ra", "Rz", "A", "B", "C", "D", "E", "F", "DRAWN",
         "Teil", "Blatt", "Maßstab", "Gewicht", "Datum", "Werkstoff"]


def has_glyph(font, ch):
    a = font.getmask(ch)
    b = font.getmask("\ue000")
    return a.size != b.size or bytes(a) != bytes(b)


class Gen:
    def __init__(self, rng):
        self.r = rng

    def num(self, st, lo=0.5, hi=400):
        r = self.r
        if st["inch"]:
            v = r.choice([r.uniform(0.05, 1), r.uniform(1, 12)])
            d = r.choice([2, 3, 3, 4])
            s = f"{v:.{d}f}"
            if v < 1 and r.random() < 0.7:
                s = s[1:]
            return s
        mode = r.random()
        if mode < 0.45:
            s = str(int(r.choice([r.uniform(1, 30), r.uniform(1, 120), r.uniform(lo, hi)])))
        else:
            v = r.uniform(lo, hi) if r.random() < 0.6 else r.uniform(0.2, 20)
            d = r.choice([1, 1, 2, 2, 3])
            s = f"{v:.{d}f}"
            if r.random() < 0.5:
                s = s.rstrip("0").rstrip(".") or "0"
        return s.replace(".", st["dec"])

    def dev(self, st, sign=None):
        r = self.r
        if r.random() < 0.15:
            return "0"
        v = r.choice([0.1, 0.2, 0.05, 0.02, 0.01, 0.021, 0.013, 0.025, 0.3, 0.5, 0.015, 0.005, 0.008, 0.1])
        if st["inch"]:
            s = f"{v:.3f}"[1:]
        else:
            s = f"{v:.3f}".rstrip("0") if r.random() < 0.6 else f"{v:.{r.choice([1, 2, 3])}f}"
            if s.endswith("."):
                s += "0"
            if float(s) == 0:
                s = "0.1"
        sign = sign or r.choice("+-")
        return sign + s.replace(".", st["dec"])

    def text(self, st):
        r = self.r
        n = lambda **k: self.num(st, **k)  # noqa: E731
        sp = lambda: " " if r.random() < 0.5 else ""  # noqa: E731
        x = r.choice(["x", "X", "×"]) if not st["inch"] else r.choice(["X", "x"])
        k = r.random()
        if k < 0.22:
            return n()
        if k < 0.34:
            return "⌀" + sp() + n() + (sp() + r.choice(FITS) if r.random() < 0.25 else "")
        if k < 0.40:
            return r.choice(["R", "R", "R", "SR", "S⌀"]) + sp() + n(hi=100)
        if k < 0.46:
            d = r.choice([3, 4, 5, 6, 8, 10, 12, 16, 20, 24])
            s = f"M{d}"
            if r.random() < 0.5:
                s += x + r.choice(["0.5", "0.7", "0.8", "1", "1.25", "1.5", "1.75", "2", ".5"]).replace(".", st["dec"] if r.random() < 0.8 else ".")
            if r.random() < 0.35:
                s += r.choice(["-6H", " - 6H", "-6g", " 6H"])
            if r.random() < 0.3:
                s = r.choice(["2", "3", "4", "6", "8"]) + r.choice(["X ", "x ", "x", "X"]) + s
            return s
        if k < 0.54:
            return (r.choice(["", "⌀"]) + n() + sp() + "±" + sp() + self.dev(st)[1:])
        if k < 0.64:
            return self.dev(st)
        if k < 0.68:
            return n() + " " + self.dev(st, "+") + " " + self.dev(st, "-")
        if k < 0.72:
            return r.choice(["", "⌀"]) + n() + sp() + r.choice(FITS)
        if k < 0.80:
            a = r.choice(["45", "30", "60", "90", "15", "120", "10", "5", "12.5", "22.5", "135", "7"])
            a = a.replace(".", st["dec"])
            c = r.random()
            if c < 0.5:
                return a + "°"
            if c < 0.7:
                return n(hi=5) + sp() + x + sp() + a + "°"
            if c < 0.8:
                return a + "°" + r.choice(["30′", "15'", "0′"])
            return a + "°" + sp() + "±" + sp() + r.choice(["1°", "0°30′", "0.5°", "30′"])
        if k < 0.88:
            c = r.random()
            cnt = r.choice(["2", "3", "4", "6", "8", "12"])
            inner = r.choice(["⌀" + n(hi=30), "R" + n(hi=20), n(hi=50)])
            if c < 0.4:
                return cnt + r.choice(["X ", "x ", "X", "x", "× "]) + inner + (" THRU" if r.random() < 0.3 else "")
            if c < 0.6:
                return inner + " (" + r.choice(["X", "x"]) + cnt + ")" if r.random() < 0.5 else inner + " " + cnt + "X"
            if c < 0.8:
                return inner + r.choice([" (TYP)", " TYP", " TYP.", " THRU"])
            return inner + " " + r.choice(["DEEP", "THRU ALL", "EQ SP", "PCD"])
        if k < 0.92:
            c = r.random()
            if c < 0.4:
                return "(" + n() + ")"
            if c < 0.55:
                return "[" + n() + "]"
            if c < 0.8:
                return r.choice(["#2-56", "#4-40", "#6-32", "#8-32", "#10-24", "1/4-20", "5/16-18", "3/8-16",
                                 "1/2-13"]) + r.choice(["", " UNC", " UNC-2B", " UNF", " THRU"])
            return r.choice(["1/8", "1/4", "3/8", "1/2", "3/4", "5/16", "1-1/2", "2-3/4"]) + r.choice(['"', "", '"'])
        if k < 0.95:
            return r.choice(["Ra ", "Rz ", "Ra", "Ra "]) + r.choice(["0.8", "1.6", "3.2", "6.3", "12.5", "0.4", "25"]).replace(".", st["dec"])
        # words and numbers of notes, views and title blocks
        c = r.random()
        if c < 0.3:
            return r.choice(["SCALE ", "", "M ", "Maßstab "]) + r.choice(["1:1", "1:2", "2:1", "1:5", "5:1", "1:10"])
        if c < 0.5:
            return f"{r.randint(2000, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}" if r.random() < 0.5 \
                else f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2000, 2026)}"
        if c < 0.7:
            return r.choice(["SHEET ", "Blatt ", "REV ", "ISO 2768-", "DIN ", "ISO "]) + str(r.randint(1, 9999))[: r.randint(1, 4)] + \
                (r.choice(["m", "f", "K", ""]) if r.random() < 0.3 else "")
        if c < 0.85:
            w = [r.choice(WORDS) for _ in range(r.randint(1, 3))]
            w.insert(r.randint(0, len(w)), n())
            return " ".join(w)
        return f"{r.choice(['DP', 'A', 'PN', 'ENG', 'X'])}-{r.randint(1, 99999):0{r.randint(3, 5)}d}" + \
            (f"-{r.choice('ABCDE')}" if r.random() < 0.4 else "")


def render(rng, text, font_path):
    r = rng
    size = r.randint(22, 52)
    font = ImageFont.truetype(font_path, size)
    shown = text
    if "⌀" in shown and not has_glyph(font, "⌀"):
        shown = shown.replace("⌀", "Ø")
    for ch, alt in (("′", "'"), ("″", '"'), ("×", "x"), ("±", "+-")):
        if ch in shown and not has_glyph(font, ch):
            shown = shown.replace(ch, alt)
            text = text.replace(ch, alt)
    l, t, rr, b = font.getbbox(shown)
    w, h = rr - l, b - t
    if w <= 0 or h <= 0:
        return None, None
    pad_x = int(size * r.uniform(0.1, 0.6))
    pad_top = int(size * r.uniform(0.05, 0.45 if r.random() < 0.7 else 1.5))
    pad_bot = int(size * r.uniform(0.05, 0.45 if r.random() < 0.7 else 1.5))
    W, H = w + 2 * pad_x, h + pad_top + pad_bot
    bg = r.randint(215, 255)
    img = Image.new("L", (W, H), bg)
    d = ImageDraw.Draw(img)
    ink = r.randint(0, 90)
    stroke = 1 if r.random() < 0.12 else 0
    d.text((pad_x - l, pad_top - t), shown, font=font, fill=ink, stroke_width=stroke, stroke_fill=ink)
    lw = r.choice([1, 1, 2, 2, 3])
    if r.random() < 0.45:  # the dimension line the text sits on
        y = min(H - 1, pad_top + h + int(size * r.uniform(0.05, 0.3)))
        x0 = 0 if r.random() < 0.7 else r.randint(0, W // 3)
        d.line([(x0, y), (W if r.random() < 0.7 else r.randint(2 * W // 3, W), y)], fill=ink, width=lw)
    if r.random() < 0.25:  # line work crossing an edge
        x = r.choice([r.randint(0, max(1, pad_x)), W - 1 - r.randint(0, max(1, pad_x))])
        d.line([(x, 0), (x + r.randint(-5, 5), H)], fill=ink, width=lw)
    if r.random() < 0.15:  # a neighbour's glyph cut by the crop
        f2 = ImageFont.truetype(font_path, size)
        d.text((r.choice([-size // 2, W - size // 3]), pad_top - t), r.choice("0123456789AR"), font=f2, fill=ink)
    if r.random() < 0.12:  # a leader or extension line at an angle
        d.line([(r.randint(0, W), 0), (r.randint(0, W), H)], fill=ink, width=1)
    if r.random() < 0.35:
        img = img.rotate(r.uniform(-3, 3), resample=Image.BILINEAR, expand=False, fillcolor=bg)
    if r.random() < 0.2:
        k = r.uniform(-0.25, 0.25)
        img = img.transform(img.size, Image.AFFINE, (1, k, -k * H / 2, 0, 1, 0), resample=Image.BILINEAR, fillcolor=bg)
    # resolution: drawings rasterised small and scaled back up
    if r.random() < 0.5:
        f = r.uniform(0.35, 0.9)
        small = img.resize((max(4, int(W * f)), max(4, int(H * f))), Image.BILINEAR)
        img = small.resize((W, H), Image.BILINEAR) if r.random() < 0.5 else small
    c = r.random()
    if c < 0.15:
        img = img.filter(ImageFilter.MinFilter(3))
    elif c < 0.25 and size > 30:
        img = img.filter(ImageFilter.MaxFilter(3))
    if r.random() < 0.35:
        img = img.filter(ImageFilter.GaussianBlur(r.uniform(0.3, 1.3)))
    a = np.asarray(img).astype(np.float32)
    if r.random() < 0.4:
        a += np.random.default_rng(r.randint(0, 2**31)).normal(0, r.uniform(3, 25), a.shape)
    if r.random() < 0.1:
        a = np.where(a < r.uniform(100, 200), 0, 255).astype(np.float32)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if r.random() < 0.3:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=r.randint(25, 85))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return img, text


def resize_u8(img):
    img = tighten(img)
    w, h = img.size
    nw = max(8, min(MAX_WIDTH, int(round(w * HEIGHT / max(1, h)))))
    return np.asarray(img.resize((nw, HEIGHT), Image.BILINEAR), dtype=np.uint8)


def fonts():
    out = []
    for f, wgt in FONT_FILES:
        p = os.path.join(FONT_ROOT, f)
        if os.path.exists(p):
            out.append((p, wgt))
    if not out:
        sys.exit(f"no fonts under {FONT_ROOT} (apt-get install fonts-osifont fonts-dejavu fonts-liberation2 fonts-freefont-ttf)")
    return out


def make(count, seed, preview=None, png_dir=None):
    rng = random.Random(seed)
    fl = fonts()
    paths = [p for p, _ in fl]
    weights = [w for _, w in fl]
    g = Gen(rng)
    imgs, labels, used = [], [], {}
    while len(imgs) < count:
        st = {"dec": "," if rng.random() < 0.3 else ".", "inch": rng.random() < 0.12}
        text = g.text(st)
        fp = rng.choices(paths, weights)[0]
        img, label = render(rng, text, fp)
        if img is None or not encodable(label) or len(label) > 32:
            continue
        if preview and len(imgs) < 40:
            img.save(os.path.join(preview, f"{len(imgs):02d}.png"))
        if png_dir:
            img.save(os.path.join(png_dir, "img", f"{len(imgs):05d}.png"))
        imgs.append(resize_u8(img))
        labels.append(label)
        used[os.path.basename(fp)] = used.get(os.path.basename(fp), 0) + 1
    return imgs, labels, used


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preview", help="write the first 40 crops as PNG here")
    ap.add_argument("--png-dir", help="write every crop at its rendered size as PNG, with labels.jsonl "
                    "(the folder format of real_crops.py, for eval.py)")
    a = ap.parse_args()
    if a.png_dir:
        os.makedirs(os.path.join(a.png_dir, "img"), exist_ok=True)
    if a.preview:
        os.makedirs(a.preview, exist_ok=True)
    imgs, labels, used = make(a.count, a.seed, a.preview, a.png_dir)
    if a.png_dir:
        import json
        with open(os.path.join(a.png_dir, "labels.jsonl"), "w") as fh:
            for i, t in enumerate(labels):
                fh.write(json.dumps({"file": f"{i:05d}.png", "text": t}, ensure_ascii=False) + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    widths = np.array([i.shape[1] for i in imgs], np.int32)
    np.savez_compressed(a.out, pixels=np.concatenate([i.ravel() for i in imgs]), widths=widths,
                        labels=np.array(labels, dtype=object), allow_pickle=True)
    print(f"{len(imgs)} crops (seed {a.seed}) -> {a.out}; fonts: {used}")


if __name__ == "__main__":
    main()
