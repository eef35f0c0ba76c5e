"""Per-drawing style: page, resolution, fonts, line weights, number format."""

import functools
import os

from PIL import ImageFont

FONT_DIR = os.environ.get("SYNTH_FONT_DIR", "/usr/share/fonts/truetype/dejavu")

# (file, weight) - the main drawing font is drawn from these
TEXT_FONTS = [
    ("DejaVuSans.ttf", 5),
    ("DejaVuSansCondensed.ttf", 5),
    ("DejaVuSans-Oblique.ttf", 2),
    ("DejaVuSansCondensed-Oblique.ttf", 3),
    ("DejaVuSansMono.ttf", 3),
    ("DejaVuSerif.ttf", 2),
    ("DejaVuSerifCondensed.ttf", 2),
    ("DejaVuSans-Bold.ttf", 1),
    ("DejaVuSansMono-Oblique.ttf", 1),
    ("DejaVuSerif-Italic.ttf", 1),
]

PAPER = {"A4": (297, 210), "A3": (420, 297)}


def fonts_available():
    return all(os.path.exists(os.path.join(FONT_DIR, f)) for f, _ in TEXT_FONTS)


@functools.lru_cache(maxsize=None)
def _font(path, size):
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=None)
def cap_ratio(path):
    f = _font(path, 200)
    b = f.getbbox("H", anchor="ls")
    return -b[1] / 200.0


@functools.lru_cache(maxsize=None)
def has_glyph(path, ch):
    f = _font(path, 40)
    m = f.getmask(ch)
    missing = f.getmask("\U0010FFFD")
    return m.getbbox() is not None and bytes(m) != bytes(missing)


def font_for_cap(path, cap_px):
    return _font(path, max(6, int(round(cap_px / cap_ratio(path)))))


def weighted(rng, items):
    total = sum(w for _, w in items)
    x = rng.random() * total
    for v, w in items:
        x -= w
        if x < 0:
            return v
    return items[-1][0]


class Style:
    def __init__(self, rng):
        self.paper = weighted(rng, [("A3", 80), ("A4", 20)])
        landscape = rng.random() < (0.9 if self.paper == "A3" else 0.65)
        self.orientation = "landscape" if landscape else "portrait"
        self.dpi = weighted(rng, [(200, 70), (150, 6), (180, 5), (240, 7), (300, 12)])
        if self.paper == "A3" and self.dpi > 240 and rng.random() < 0.6:
            self.dpi = 200
        pw, ph = PAPER[self.paper]
        if not landscape:
            pw, ph = ph, pw
        self.page_mm = (pw, ph)
        self.ppm = self.dpi / 25.4
        self.W = int(round(pw * self.ppm))
        self.H = int(round(ph * self.ppm))
        k = self.dpi / 200.0

        def px(v):
            return max(1, int(round(v * k)))
        self.thin = px(rng.uniform(1.0, 2.2))
        self.thick = max(self.thin + 1, px(rng.uniform(2.2, 5.0)))
        self.frame_w = max(self.thick, px(rng.uniform(3, 6)))

        self.font_path = os.path.join(FONT_DIR, weighted(rng, TEXT_FONTS))
        self.tb_font_path = self.font_path if rng.random() < 0.6 else \
            os.path.join(FONT_DIR, weighted(rng, TEXT_FONTS))
        self.cap_mm = weighted(rng, [(2.5, 25), (3.0, 20), (3.5, 35), (4.0, 10), (5.0, 10)])
        self.cap = self.cap_mm * self.ppm
        self.font = font_for_cap(self.font_path, self.cap)
        self.font_small = font_for_cap(self.font_path, self.cap * rng.uniform(0.62, 0.75))

        mm = self.ppm
        self.arrow_len = rng.uniform(2.4, 3.4) * mm * (0.8 + 0.2 * self.cap_mm / 3.5)
        self.arrow_hw = self.arrow_len * rng.uniform(0.14, 0.22)
        self.text_gap = max(2.0, rng.uniform(0.25, 0.45) * self.cap)
        self.ext_gap = rng.uniform(0.6, 1.5) * mm
        self.ext_over = rng.uniform(1.5, 3.0) * mm
        self.dim_first = rng.uniform(6, 10) * mm + 0.5 * self.cap
        self.dim_step = max(6 * mm, 1.6 * self.cap + rng.uniform(1.8, 3.5) * mm)
        self.margin = max(3, int(0.6 * mm))

        self.dash = rng.uniform(2.5, 5.0) * mm
        self.dash_gap = rng.uniform(0.8, 1.5) * mm
        self.cl_long = rng.uniform(6, 14) * mm
        self.cl_gap = rng.uniform(0.8, 1.5) * mm
        self.cl_dot = max(2.0, rng.uniform(0.3, 0.8) * mm)
        self.hatch_spacing = rng.uniform(1.8, 3.5) * mm
        self.cl_ext = rng.uniform(2, 5) * mm

        self.decimal = "," if rng.random() < 0.35 else "."
        self.dia_char = "\u2300" if (rng.random() < 0.25 and has_glyph(self.font_path, "\u2300")) else "\u00d8"
        self.count_fmt = weighted(rng, [("{n}x ", 5), ("{n}X ", 3), ("{n} x ", 1), ("{n}\u00d7", 1)])
        self.chamfer_x = weighted(rng, [("x", 5), (" x ", 2), ("\u00d7", 2), ("X", 1)])
        self.tol_rate = rng.uniform(0.15, 0.5)
        self.german = rng.random() < 0.35

    @property
    def hidden_pattern(self):
        return [(self.dash, True), (self.dash_gap, False)]

    @property
    def center_pattern(self):
        return [(self.cl_long, True), (self.cl_gap, False), (self.cl_dot, True), (self.cl_gap, False)]

    def tfont(self, cap_px, path=None):
        return font_for_cap(path or self.font_path, cap_px)
