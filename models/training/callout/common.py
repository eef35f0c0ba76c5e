"""Shared pieces of the callout recogniser's training: the character set, the input
geometry, label normalisation and the crop resize that the Rust stage repeats."""

import numpy as np
from PIL import Image

# Index 0 is the CTC blank. The set is what dimension callouts print: digits, Latin
# letters (fits, threads, notes), the symbols of ISO 129 / ASME Y14.5 and space.
SYMBOLS = ".,+-±⌀°′″×()/:%#\"'=<>~*_[]&;!?"
CHARSET = list("0123456789") + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + \
    [chr(c) for c in range(ord("a"), ord("z") + 1)] + list(SYMBOLS) + [" "]
BLANK = 0
INDEX = {c: i + 1 for i, c in enumerate(CHARSET)}
HEIGHT = 32
MAX_WIDTH = 512

# Look-alikes folded onto the character set's spelling.
FOLD = {"Ø": "⌀", "ø": "⌀", "Φ": "⌀", "φ": "⌀", "∅": "⌀", "˚": "°", "º": "°", "–": "-",
        "−": "-", "‐": "-", "—": "-", "’": "'", "‘": "'", "”": '"', "“": '"', "X": "X",
        "\u00a0": " ", "\u2009": " ", "\u202f": " "}


def lev(a, b):
    """Edit distance between two strings."""
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        p, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            p, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, p + (ca != cb))
    return d[-1]


def normalise(text):
    t = "".join(FOLD.get(c, c) for c in text)
    return " ".join(t.split())


def encodable(text):
    return all(c in INDEX for c in text)


def encode(text):
    return [INDEX[c] for c in text]


def decode_greedy(probs):
    """probs [T, C] -> (text, mean max probability of the emitted characters)."""
    best = probs.argmax(-1)
    out, conf, prev = [], [], BLANK
    for t, k in enumerate(best):
        if k != BLANK and k != prev:
            out.append(CHARSET[k - 1])
            conf.append(float(probs[t, k]))
        prev = k
    return "".join(out), (float(np.mean(conf)) if conf else 0.0)


def tighten(img):
    """The crop cut down to its text's rows: rows holding ink (darker than half-way
    between the crop's 5th and 95th percentile grey), rules that cross most of the
    width (a table border, a dimension line) not counted, plus a margin of 15 % of
    the text's height. A line crop with room above and below reads like one without
    (the model saw text filling most of the height). The Rust stage does the same."""
    a = np.asarray(img.convert("L"), dtype=np.float32)
    h, w = a.shape
    if h < 4 or w < 4:
        return img
    lo, hi = np.percentile(a, 5), np.percentile(a, 95)
    if hi - lo < 30:
        return img
    ink = (a < (lo + hi) / 2).sum(axis=1) / w
    rows = np.where((ink > 0) & (ink <= 0.6))[0]
    if len(rows) == 0:
        return img
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    m = int(round(0.15 * (bottom - top)))
    top, bottom = max(0, top - m), min(h, bottom + m)
    return img.crop((0, top, w, bottom))


def to_input(img):
    """A grey crop (PIL, text upright) -> float32 [1, HEIGHT, W] in [-1, 1]: cut to
    its text's rows ([`tighten`]), height scaled to HEIGHT keeping the aspect ratio,
    width a multiple of 8 (max MAX_WIDTH), padded on the right with white. The Rust
    stage does exactly this."""
    img = tighten(img)
    w, h = img.size
    nw = max(8, min(MAX_WIDTH, int(round(w * HEIGHT / max(1, h)))))
    r = img.convert("L").resize((nw, HEIGHT), Image.BILINEAR)
    pw = (nw + 7) // 8 * 8
    a = np.full((HEIGHT, pw), 255, np.uint8)
    a[:, :nw] = np.asarray(r)
    return ((a.astype(np.float32) / 255.0 - 0.5) / 0.5)[None]
