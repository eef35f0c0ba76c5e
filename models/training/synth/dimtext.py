"""Dimension text specs (what is written + its parsed ground truth) and their
rendering into text sprites."""

from .canvas import DIM, TEXT, Sprite
from .style import weighted

HOLE_FITS = ["H7", "H7", "H8", "H6", "G7", "F7", "K7", "N7", "P7", "JS9", "H11"]
SHAFT_FITS = ["g6", "h6", "h6", "k6", "m6", "f7", "h7", "h9", "js6", "p6", "r6", "e8"]
FIT_PAIRS = ["H7/g6", "H7/h6", "H7/k6", "H7/n6", "H8/f7", "H7/p6", "H11/c11", "H8/h9"]
DEV_HOLE = [(0.021, 0.0), (0.025, 0.0), (0.018, 0.0), (0.1, 0.0), (0.2, 0.0), (0.05, 0.02), (0.03, 0.01)]
DEV_SHAFT = [(0.0, -0.013), (0.0, -0.016), (0.0, -0.1), (-0.007, -0.02), (0.015, 0.002), (-0.02, -0.05),
             (0.018, 0.002)]
DEV_ANY = [(0.2, -0.1), (0.1, -0.05), (0.05, -0.02), (0.0, -0.2), (0.3, 0.0), (0.02, -0.01), (0.1, 0.0),
           (0.0, -0.05)]
SYM_TOLS = [0.1, 0.1, 0.05, 0.2, 0.02, 0.01, 0.3, 0.5, 0.15]
THREADS = {3: 0.5, 4: 0.7, 5: 0.8, 6: 1.0, 8: 1.25, 10: 1.5, 12: 1.75, 16: 2.0, 20: 2.5, 24: 3.0}
FINE_PITCH = {8: [1.0], 10: [1.0, 1.25], 12: [1.25, 1.5], 16: [1.5], 20: [1.5, 2.0], 24: [2.0]}


def fnum(v, st, maxdec=3):
    s = f"{v:.{maxdec}f}".rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s.replace(".", st.decimal)


def fdev(v, st):
    if abs(v) < 1e-12:
        return "0"
    return ("+" if v > 0 else "-") + fnum(abs(v), st)


def r3(v):
    return None if v is None else round(float(v), 4)


class DimSpec:
    """What a dimension text says.  ``main`` is the text on the baseline;
    ``dev`` optional (upper, lower) strings stacked right of it."""

    def __init__(self, kind, nominal, main, unit="mm"):
        self.kind = kind
        self.nominal = nominal
        self.main = main
        self.unit = unit
        self.dev = None
        self.upper = None
        self.lower = None
        self.fit = None
        self.thread = None
        self.count = None
        self.reference = False
        self.basic = False
        self.chamfer_angle = None
        self.roughness = None
        self.tolerance_type = None

    @property
    def text(self):
        if self.dev:
            return f"{self.main} {self.dev[0]}/{self.dev[1]}"
        return self.main

    @property
    def has_tolerance(self):
        return self.upper is not None or self.lower is not None or self.fit is not None

    def json(self):
        return {
            "text": self.text, "kind": self.kind, "nominal": r3(self.nominal), "unit": self.unit,
            "upper": r3(self.upper), "lower": r3(self.lower), "fit": self.fit, "thread": self.thread,
            "count": self.count, "reference": self.reference, "basic": self.basic,
            "chamfer_angle": r3(self.chamfer_angle), "roughness": self.roughness,
            "tolerance_type": self.tolerance_type,
        }


def class_name_for(spec):
    """One YOLO class per dimension text (see README for the rules)."""
    if spec.kind == "roughness":
        return "surface_roughness"
    if spec.has_tolerance:
        return "tolerance_dim"
    if spec.reference:
        return "reference_dim"
    return {"diameter": "diameter_dim", "radius": "radius_dim", "angle": "angular_dim",
            "chamfer": "chamfer_dim", "linear": "linear_dim", "thread": "diameter_dim"}[spec.kind]


# --------------------------------------------------------------------------
# spec factories

def _apply_tol(rng, st, spec, prefix, num, hole, allow_fit, force=None):
    mode = force
    if mode is None:
        if rng.random() >= st.tol_rate:
            mode = "none"
        else:
            opts = [("sym", 4), ("dev", 3)]
            if allow_fit:
                opts.append(("fit", 4))
            mode = weighted(rng, opts)
    if mode == "sym":
        t = rng.choice(SYM_TOLS)
        sp = rng.random() < 0.2
        spec.main = f"{prefix}{num}{' ' if sp else ''}\u00b1{fnum(t, st)}"
        spec.upper, spec.lower = t, -t
        spec.tolerance_type = "symmetric"
    elif mode == "dev":
        pool = DEV_HOLE if hole is True else DEV_SHAFT if hole is False else DEV_ANY + DEV_HOLE + DEV_SHAFT
        up, lo = rng.choice(pool)
        spec.main = prefix + num
        spec.dev = (fdev(up, st), fdev(lo, st))
        spec.upper, spec.lower = up, lo
        spec.tolerance_type = "deviations"
    elif mode == "fit":
        if hole is True:
            fit = rng.choice(HOLE_FITS)
        elif hole is False:
            fit = rng.choice(SHAFT_FITS)
        else:
            fit = rng.choice(HOLE_FITS + SHAFT_FITS + FIT_PAIRS)
        if rng.random() < 0.12 and hole is not False:
            fit = rng.choice(FIT_PAIRS)
        spec.main = f"{prefix}{num} {fit}" if rng.random() < 0.8 else f"{prefix}{num}{fit}"
        spec.fit = fit
        spec.tolerance_type = "fit"
    else:
        spec.main = prefix + num
    return spec


def linear(rng, st, value, *, allow_tol=True, allow_fit=False, hole=None, ref_rate=0.0, basic=False,
           count=None, force_tol=None):
    num = fnum(value, st)
    spec = DimSpec("linear", value, num)
    prefix = ""
    if count:
        prefix = st.count_fmt.format(n=count)
        spec.count = count
    if basic:
        spec.basic = True
        spec.main = prefix + num
        return spec
    if ref_rate and rng.random() < ref_rate:
        spec.reference = True
        spec.main = f"({prefix}{num})"
        return spec
    if allow_tol:
        return _apply_tol(rng, st, spec, prefix, num, hole, allow_fit, force_tol)
    spec.main = prefix + num
    return spec


def diameter(rng, st, value, *, hole=None, count=None, allow_tol=True, force_tol=None, ref_rate=0.0):
    num = fnum(value, st)
    spec = DimSpec("diameter", value, "")
    prefix = ""
    if count:
        prefix = st.count_fmt.format(n=count)
        spec.count = count
    prefix += st.dia_char
    if ref_rate and rng.random() < ref_rate:
        spec.reference = True
        spec.main = f"({prefix}{num})"
        return spec
    if not allow_tol:
        spec.main = prefix + num
        return spec
    return _apply_tol(rng, st, spec, prefix, num, hole, True, force_tol)


def radius(rng, st, value, *, count=None):
    spec = DimSpec("radius", value, "")
    prefix = st.count_fmt.format(n=count) if count else ""
    spec.count = count
    spec.main = f"{prefix}R{fnum(value, st)}"
    if rng.random() < 0.04:
        t = rng.choice([0.1, 0.2])
        spec.main += f"\u00b1{fnum(t, st)}"
        spec.upper, spec.lower = t, -t
        spec.tolerance_type = "symmetric"
    return spec


def angle(rng, st, value):
    spec = DimSpec("angle", value, f"{fnum(value, st)}\u00b0", unit="deg")
    if rng.random() < st.tol_rate * 0.4:
        t = rng.choice([0.5, 1, 2])
        spec.main += f"\u00b1{fnum(t, st)}\u00b0"
        spec.upper, spec.lower = t, -t
        spec.tolerance_type = "symmetric"
    return spec


def chamfer(rng, st, size, ang=45):
    if ang == 45 and rng.random() < 0.3:
        spec = DimSpec("chamfer", size, f"C{fnum(size, st)}")
    else:
        spec = DimSpec("chamfer", size, f"{fnum(size, st)}{st.chamfer_x}{fnum(ang, st)}\u00b0")
    spec.chamfer_angle = ang
    return spec


def thread(rng, st, major, *, internal=False, count=None, fine=False):
    pitch = None
    des = f"M{fnum(major, st)}"
    if fine and major in FINE_PITCH:
        pitch = rng.choice(FINE_PITCH[major])
        des += f"x{fnum(pitch, st)}"
    tcls = None
    if rng.random() < 0.3:
        tcls = "6H" if internal else "6g"
        des += f"-{tcls}"
    spec = DimSpec("thread", major, "")
    prefix = st.count_fmt.format(n=count) if count else ""
    spec.count = count
    spec.main = prefix + des
    spec.thread = {"designation": des, "major_diameter": float(major),
                   "pitch": pitch if pitch is not None else THREADS.get(int(major)),
                   "pitch_explicit": pitch is not None, "tolerance_class": tcls, "internal": internal}
    return spec


def roughness(rng, st):
    param = weighted(rng, [("Ra", 8), ("Rz", 2)])
    vals = [0.4, 0.8, 1.6, 3.2, 6.3, 12.5] if param == "Ra" else [1.6, 4, 6.3, 10, 16, 25]
    v = rng.choice(vals)
    spec = DimSpec("roughness", v, f"{param} {fnum(v, st)}", unit="um")
    spec.roughness = {"parameter": param, "value": v}
    return spec


# --------------------------------------------------------------------------
# rendering

def box_anchors(sp, box=None):
    b = box or sp.bbox()
    x0, y0, x1, y1 = b
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    sp.anchors.update({"bc": (cx, y1), "tc": (cx, y0), "c": (cx, cy), "lc": (x0, cy), "rc": (x1, cy),
                       "bl": (x0, y1), "br": (x1, y1), "tl": (x0, y0), "tr": (x1, y0)})
    return sp


def text_sprite(st, spec, font=None, small=None):
    f = font or st.font
    fs = small or st.font_small
    cap = st.cap
    s = spec.main
    pad = int(cap * 1.2) + 4
    main_w = f.getlength(s)
    dev_w = 0
    if spec.dev:
        dev_w = max(fs.getlength(spec.dev[0]), fs.getlength(spec.dev[1])) + 0.3 * cap
    sp = Sprite(main_w + dev_w + 2 * pad, 3.5 * cap + 2 * pad)
    base = pad + 1.6 * cap
    sp.text(pad, base, s, f)
    if spec.dev:
        sc = cap * 0.7
        mid = base - cap / 2
        xd = pad + main_w + 0.28 * cap
        sp.text(xd, mid - 0.15 * sc, spec.dev[0], fs)
        sp.text(xd, mid + 1.2 * sc, spec.dev[1], fs)
    if spec.basic:
        tb = sp.im(TEXT).getbbox()
        m = 0.35 * cap
        sp.draw(DIM).rectangle([tb[0] - m - st.thin, tb[1] - m - st.thin, tb[2] + m + st.thin,
                                tb[3] + m + st.thin], outline=255, width=st.thin)
    sp.finalize()
    box_anchors(sp)
    return sp


def plain_text_sprite(lines, font, line_h, align="left"):
    w = max(font.getlength(l) for l in lines) if lines else 1
    pad = int(line_h) + 4
    sp = Sprite(w + 2 * pad, line_h * (len(lines) + 1) + 2 * pad)
    for i, l in enumerate(lines):
        x = pad
        if align == "center":
            x = pad + (w - font.getlength(l)) / 2
        sp.text(x, pad + line_h * (i + 1), l, font)
    sp.finalize()
    box_anchors(sp)
    return sp
