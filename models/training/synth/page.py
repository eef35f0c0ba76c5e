"""Sheet furniture: frame with zones, title block, revision table, notes,
and the layout of the part's views on the sheet."""

import numpy as np

from .canvas import CONTOUR, Plan, rect_grow
from .dimtext import plain_text_sprite
from .style import font_for_cap, weighted

MATERIALS = ["S235JR", "S355J2", "C45E", "42CrMo4", "16MnCr5", "AlMg3", "AlMgSi1", "EN AW-6082 T6",
             "EN AW-7075", "Steel 1.4301", "X5CrNi18-10", "1.4404", "PA6", "PA66 GF30", "POM-C", "PEEK",
             "Ti6Al4V", "CuZn39Pb3", "CuSn8", "GJL-250", "11SMnPb30", "AISI 304", "6061-T6", "C22"]
NAMES = ["J. Miller", "K. Schmidt", "A. Novak", "M. Rossi", "T. Weber", "L. Chen", "S. Meyer", "P. Dubois",
         "R. Kowalski", "H. Tanaka", "E. Fischer", "D. Brown"]
COMPANIES = ["ACME GmbH", "Drawpipe Industries", "Nordtech AG", "PRECISION PARTS LTD", "Muster & Sohn KG",
             "Helix Engineering", "MECHANIK WERK", "Orbit Components Inc."]
TREAT = ["zinc plated", "black oxide", "anodized", "none", "-", "verzinkt", "brueniert", "passivated",
         "powder coated RAL 7035", "hardened 58 HRC"]
NOTES_EN = [
    "BREAK ALL SHARP EDGES", "BREAK ALL SHARP EDGES 0.2 x 45\u00b0", "REMOVE ALL BURRS",
    "UNTOLERANCED DIMENSIONS ISO 2768-mK", "ALL DIMENSIONS IN MM", "DO NOT SCALE DRAWING",
    "SURFACE TREATMENT: ANODIZE BLACK", "HARDEN AND TEMPER 48-52 HRC", "MATERIAL CERTIFICATE EN 10204-3.1",
    "FILLET RADII R0.5 UNLESS OTHERWISE SPECIFIED", "MARK PART NUMBER WHERE SHOWN",
    "INTERPRET DRAWING PER ISO 8015", "THREADS PER ISO 965-1", "CLEAN AND OIL BEFORE PACKING",
    "NO SHARP EDGES PERMITTED", "HOLES TO BE DEBURRED BOTH SIDES", "CENTRE HOLES PERMITTED",
]
NOTES_DE = [
    "Kanten gebrochen 0,5x45\u00b0", "Nicht bemasste Radien R1", "Oberflaeche galvanisch verzinkt",
    "Freimasstoleranz DIN ISO 2768-f", "Alle Masse in mm", "Werkstueck entgraten", "Zentrierbohrungen zulaessig",
    "Einsatzgehaertet und angelassen", "Gewinde nach DIN 13", "Tolerierung nach ISO 8015",
]

FIELDS = [
    # key, english label, german label, min width mm
    ("title", "TITLE", "Benennung", 80),
    ("drawing_number", "DRAWING NO.", "Zeichnungsnr.", 50),
    ("material", "MATERIAL", "Werkstoff", 45),
    ("scale", "SCALE", "Massstab", 20),
    ("date", "DATE", "Datum", 28),
    ("sheet", "SHEET", "Blatt", 16),
    ("revision", "REV", "Index", 14),
    ("general_tolerance", "GENERAL TOL.", "Allgemeintol.", 38),
    ("drawn_by", "DRAWN", "Gezeichnet", 32),
    ("checked_by", "CHECKED", "Geprueft", 32),
    ("weight", "WEIGHT", "Gewicht", 24),
    ("format", "FORMAT", "Format", 16),
    ("treatment", "SURFACE TREATMENT", "Oberflaeche", 40),
    ("company", None, None, 55),
    ("projection", None, None, 22),
]


def put_text(cv, s, font, anchor, pt, cap):
    sp = plain_text_sprite([s], font, cap * 1.6)
    ox, oy = sp.offset_for(anchor, pt)
    cv.paste(sp, ox, oy)
    return sp


def draw_frame(cv, st, rng):
    mm = st.ppm
    W, H = st.W, st.H
    left = 20 if rng.random() < 0.5 else 10
    m = rng.uniform(9, 11)
    fr = (left * mm, m * mm, W - m * mm, H - m * mm)
    cv.draws[CONTOUR].rectangle([fr[0], fr[1], fr[2], fr[3]], outline=255, width=st.frame_w)
    zones = rng.random() < 0.6
    if zones:
        strip = 5 * mm
        outer = (fr[0] - strip, fr[1] - strip, fr[2] + strip, fr[3] + strip)
        cv.draws[CONTOUR].rectangle(list(outer), outline=255, width=st.thin)
        nx = max(4, int(round((fr[2] - fr[0]) / (50 * mm))))
        ny = max(3, int(round((fr[3] - fr[1]) / (50 * mm))))
        zcap = min(3.0, rng.uniform(2.2, 3.2)) * mm
        f = font_for_cap(st.font_path, zcap)
        for i in range(nx + 1):
            x = fr[0] + (fr[2] - fr[0]) * i / nx
            if 0 < i < nx:
                cv.line(CONTOUR, (x, outer[1]), (x, fr[1]), st.thin)
                cv.line(CONTOUR, (x, fr[3]), (x, outer[3]), st.thin)
            if i < nx:
                xc = fr[0] + (fr[2] - fr[0]) * (i + 0.5) / nx
                put_text(cv, str(i + 1), f, "c", (xc, (outer[1] + fr[1]) / 2), zcap)
                put_text(cv, str(i + 1), f, "c", (xc, (outer[3] + fr[3]) / 2), zcap)
        for j in range(ny + 1):
            y = fr[1] + (fr[3] - fr[1]) * j / ny
            if 0 < j < ny:
                cv.line(CONTOUR, (outer[0], y), (fr[0], y), st.thin)
                cv.line(CONTOUR, (fr[2], y), (outer[2], y), st.thin)
            if j < ny:
                yc = fr[1] + (fr[3] - fr[1]) * (j + 0.5) / ny
                letter = "ABCDEFGHJK"[j]
                put_text(cv, letter, f, "c", ((outer[0] + fr[0]) / 2, yc), zcap)
                put_text(cv, letter, f, "c", ((outer[2] + fr[2]) / 2, yc), zcap)
    elif rng.random() < 0.4:
        b = 4 * mm
        cv.draws[CONTOUR].rectangle([fr[0] - b, fr[1] - b, fr[2] + b, fr[3] + b], outline=255, width=st.thin)
    hw = st.frame_w / 2
    return (fr[0] + hw, fr[1] + hw, fr[2] - hw, fr[3] - hw), zones


def _drawing_number(rng):
    return weighted(rng, [
        (f"DP-{rng.randint(2015, 2025)}-{rng.randint(1, 9999):04d}", 3),
        (f"{rng.randint(1000, 9999)}-{rng.randint(100, 999)}-{rng.randint(1, 99):02d}", 3),
        (f"ZN {rng.randint(10000, 99999)}.{rng.randint(1, 20):02d}", 2),
        (f"{rng.choice('ABCDEFGH')}{rng.randint(100000, 999999)}", 2),
    ])


class TitleBlock:
    def __init__(self, st, rng, inner, part_title):
        self.st, self.rng = st, rng
        mm = st.ppm
        de = st.german
        wmm = min(rng.choice([170, 180, 180, 190]), (inner[2] - inner[0]) / mm)
        self.lcap = rng.uniform(1.6, 2.2) * mm
        self.vcap = rng.uniform(2.5, 4.0) * mm
        self.tcap = rng.uniform(4.5, 6.5) * mm
        rowh = (self.lcap + self.vcap) / mm + rng.uniform(3.5, 5.5)
        date = f"{rng.randint(2012, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if de or rng.random() < 0.3:
            y, mo, d = date.split("-")
            date = f"{d}.{mo}.{y}"
        self.values = {
            "title": part_title, "drawing_number": _drawing_number(rng), "material": rng.choice(MATERIALS),
            "scale": "1:1", "date": date, "sheet": rng.choice(["1/1", "1/1", "1/2", "2/3"]),
            "revision": rng.choice(["A", "B", "C", "0", "1", "02", "-"]),
            "general_tolerance": rng.choice(["ISO 2768-m", "ISO 2768-mK", "ISO 2768-f", "DIN ISO 2768-mH",
                                             "ISO 2768-c"]),
            "drawn_by": rng.choice(NAMES), "checked_by": rng.choice(NAMES),
            "weight": f"{rng.uniform(0.02, 12):.2f} kg".replace(".", "," if de else "."),
            "format": st.paper, "treatment": rng.choice(TREAT), "company": rng.choice(COMPANIES),
            "projection": "",
        }
        fields = [f for f in FIELDS if rng.random() < 0.85 or f[0] in ("title", "drawing_number", "material",
                                                                        "scale")]
        head = [f for f in fields if f[0] in ("title", "company")]
        rest = [f for f in fields if f[0] not in ("title", "company")]
        rng.shuffle(rest)
        rng.shuffle(head)
        order = rest + head if rng.random() < 0.7 else head + rest
        rows, cur, used = [], [], 0
        for f in order:
            if cur and used + f[3] > wmm:
                rows.append(cur)
                cur, used = [], 0
            cur.append(f)
            used += f[3]
        if cur:
            rows.append(cur)
        self.rows = rows
        self.wpx = wmm * mm
        self.rowh = rowh * mm
        self.hpx = self.rowh * len(rows)
        self.rect = (inner[2] - self.wpx, inner[3] - self.hpx, inner[2], inner[3])
        self.de = de
        self.cells = []

    def draw(self, cv):
        st, mm = self.st, self.st.ppm
        x0, y0, x1, y1 = self.rect
        cv.draws[CONTOUR].rectangle([x0, y0, x1, y1], outline=255, width=max(st.thin, st.thick - 1))
        fl = font_for_cap(st.tb_font_path, self.lcap)
        for r, row in enumerate(self.rows):
            ry0 = y0 + r * self.rowh
            ry1 = ry0 + self.rowh
            if r:
                cv.line(CONTOUR, (x0, ry0), (x1, ry0), st.thin)
            total = sum(f[3] for f in row)
            x = x0
            for i, f in enumerate(row):
                cw = self.wpx * f[3] / total
                if i:
                    cv.line(CONTOUR, (x, ry0), (x, ry1), st.thin)
                self._cell(cv, f, x, ry0, x + cw, ry1, fl)
                x += cw

    def _cell(self, cv, f, x0, y0, x1, y1, fl):
        st, mm, rng = self.st, self.st.ppm, self.rng
        key, en, de, _ = f
        val = self.values[key]
        pad = 1.0 * mm
        cell = {"field": key, "label": None, "value": val, "label_bbox": None, "value_bbox": None}
        if key == "projection":
            self._projection(cv, x0, y0, x1, y1)
            cell["value"] = "first angle projection symbol"
            self.cells.append(cell)
            return
        if en:
            lab = de if self.de else en
            sp = put_text(cv, lab, fl, "tl", (x0 + pad, y0 + pad * 0.8), self.lcap)
            cell["label"] = lab
            cell["label_bbox"] = list(sp.placed_bbox())
            top = y0 + pad + self.lcap * 1.3
        else:
            top = y0 + pad
        cap = self.tcap if key in ("title", "company") else self.vcap
        cap = min(cap, (y1 - top) * 0.72)
        while True:
            fv = font_for_cap(st.tb_font_path, cap)
            if fv.getlength(val) <= (x1 - x0) - 2 * pad or cap < 1.2 * mm:
                break
            cap *= 0.88
        cy = (top + y1) / 2
        if key in ("title", "company") or rng.random() < 0.3:
            sp = put_text(cv, val, fv, "c", ((x0 + x1) / 2, cy), cap)
        else:
            sp = put_text(cv, val, fv, "lc", (x0 + pad * 1.5, cy), cap)
        cell["value_bbox"] = list(sp.placed_bbox()) if sp.placed_bbox() else None
        self.cells.append(cell)

    def _projection(self, cv, x0, y0, x1, y1):
        st = self.st
        h = (y1 - y0) * 0.5
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        w = st.thin
        # truncated cone side view (left) + end view circles (right): first angle
        a = (cx - h * 1.3, cy)
        cv.draws[CONTOUR].line([(a[0] - h * 0.5, cy - h * 0.25), (a[0] + h * 0.5, cy - h * 0.5),
                                (a[0] + h * 0.5, cy + h * 0.5), (a[0] - h * 0.5, cy + h * 0.25),
                                (a[0] - h * 0.5, cy - h * 0.25)], fill=255, width=w)
        b = (cx + h * 0.6, cy)
        cv.circle(CONTOUR, b, h * 0.5, w)
        cv.circle(CONTOUR, b, h * 0.25, w)

    def json(self):
        out = {k: v for k, v in self.values.items() if k != "projection"}
        out["language"] = "de" if self.de else "en"
        out["bbox"] = [int(v) for v in self.rect]
        out["cells"] = self.cells
        return out


def revision_table(cv, st, rng, inner):
    mm = st.ppm
    n = rng.randint(1, 3)
    cols = [("REV", 12), ("DESCRIPTION", 70), ("DATE", 26), ("NAME", 24)]
    if st.german:
        cols = [("Index", 12), ("Aenderung", 70), ("Datum", 26), ("Name", 24)]
    wpx = sum(c[1] for c in cols) * mm
    cap = rng.uniform(2.0, 2.8) * mm
    rh = cap + 3 * mm
    x1, y0 = inner[2], inner[1]
    x0 = x1 - wpx
    rect = (x0, y0, x1, y0 + rh * (n + 1))
    cv.draws[CONTOUR].rectangle(list(rect), outline=255, width=st.thin)
    f = font_for_cap(st.tb_font_path, cap)
    descr = ["FIRST ISSUE", "TOLERANCE CHANGED", "HOLE ADDED", "MATERIAL CHANGED", "Erstausgabe",
             "Mass geaendert", "CHAMFER ADDED", "NOTE 3 REVISED"]
    rows = [[c[0] for c in cols]]
    for i in range(n):
        rows.append(["ABCDEF"[i], rng.choice(descr), f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}."
                     f"{rng.randint(2015, 2025)}", rng.choice(NAMES)])
    for r, row in enumerate(rows):
        ry = y0 + r * rh
        if r:
            cv.line(CONTOUR, (x0, ry), (x1, ry), st.thin)
        x = x0
        for (name, cw), txt in zip(cols, row):
            if x > x0:
                cv.line(CONTOUR, (x, rect[1]), (x, rect[3]), st.thin)
            put_text(cv, txt, f, "lc", (x + 1.2 * mm, ry + rh / 2), cap)
            x += cw * mm
    return rect, rows


SCALES = [(5, "5:1"), (2.5, "2.5:1"), (2, "2:1"), (1, "1:1"), (2 / 3, "1:1.5"), (0.5, "1:2"), (0.4, "1:2.5"),
          (0.2, "1:5"), (0.1, "1:10")]


def _fits(grid, st, area, M):
    nr = len(grid)
    nc = max(len(r) for r in grid)
    aw, ah = area[2] - area[0], area[3] - area[1]
    fit = []
    for k, label in SCALES:
        s = k * st.ppm
        colw = [max([grid[r][c].size[0] * s for r in range(nr) if c < len(grid[r]) and grid[r][c]] or [0]) + 2 * M
                for c in range(nc)]
        rowh = [max(v.size[1] * s for v in row if v) + 2 * M for row in grid]
        if (sum(colw) <= aw and sum(rowh) <= ah) or k == SCALES[-1][0]:
            fit.append((k, label, colw, rowh))
    return fit


def layout(part, st, rng, area):
    M = st.dim_first + 1.5 * st.dim_step + st.cap
    best = None
    for g in getattr(part, "grids", [part.grid]):
        fit = _fits(g, st, area, M)
        if best is None or fit[0][0] > best[1][0][0]:
            best = (g, fit)
    grid, fit = best
    part.grid = grid
    nr = len(grid)
    nc = max(len(r) for r in grid)
    aw, ah = area[2] - area[0], area[3] - area[1]
    i = 0
    if len(fit) > 1 and rng.random() < 0.25:
        i = 1
    k, label, colw, rowh = fit[i]
    s = k * st.ppm
    gx = max(0.0, (aw - sum(colw)) / (nc + 1))
    gy = max(0.0, (ah - sum(rowh)) / (nr + 1))
    for r, row in enumerate(grid):
        for c, v in enumerate(row):
            if v is None:
                continue
            cx = area[0] + gx * (c + 1) + sum(colw[:c]) + colw[c] / 2 + rng.uniform(-0.3, 0.3) * gx
            cy = area[1] + gy * (r + 1) + sum(rowh[:r]) + rowh[r] / 2 + rng.uniform(-0.3, 0.3) * gy
            b = v.bounds
            v.s = s
            v.O = (cx - (b[0] + b[2]) / 2 * s, cy + (b[1] + b[3]) / 2 * s)
    # keep views of one row on the same axis and of one column on the same x
    for r, row in enumerate(grid):
        vs = [v for v in row if v]
        if vs:
            y = vs[0].O[1] + (vs[0].bounds[1] + vs[0].bounds[3]) / 2 * s
            for v in vs:
                v.O = (v.O[0], y - (v.bounds[1] + v.bounds[3]) / 2 * s)
    for c in range(nc):
        vs = [grid[r][c] for r in range(nr) if c < len(grid[r]) and grid[r][c]]
        if vs:
            x = vs[0].O[0] + (vs[0].bounds[0] + vs[0].bounds[2]) / 2 * s
            for v in vs:
                v.O = (x - (v.bounds[0] + v.bounds[2]) / 2 * s, v.O[1])
    return k, label


def free_spot(cv, w, h, prefs, rng, step, m=4):
    """Find a top-left position where a w x h box (plus margin) is empty
    paper inside the area and outside keep-outs.  prefs: points to be near."""
    union = np.maximum(np.maximum(np.asarray(cv.layers[1]), np.asarray(cv.layers[2])), np.asarray(cv.layers[3]))
    occ = union > 0
    for r in cv.reserved + [rect_grow(k, 0) for k in cv.keepout]:
        x0, y0 = max(0, int(r[0])), max(0, int(r[1]))
        x1, y1 = min(cv.w, int(r[2]) + 1), min(cv.h, int(r[3]) + 1)
        if x1 > x0 and y1 > y0:
            occ[y0:y1, x0:x1] = True
    b = 4  # occupancy cells of b x b pixels keep the integral image small
    Hc, Wc = -(-occ.shape[0] // b), -(-occ.shape[1] // b)
    pad = np.zeros((Hc * b, Wc * b), dtype=bool)
    pad[:occ.shape[0], :occ.shape[1]] = occ
    cells = pad.reshape(Hc, b, Wc, b).any(axis=(1, 3))
    ii = np.zeros((Hc + 1, Wc + 1), dtype=np.int32)
    ii[1:, 1:] = np.cumsum(np.cumsum(cells, axis=0, dtype=np.int32), axis=1)
    a = cv.area
    cands = []
    y = a[1] + m
    while y + h + m <= a[3]:
        x = a[0] + m
        while x + w + m <= a[2]:
            cands.append((x, y))
            x += step
        y += step
    if not cands:
        return None
    px, py = rng.choice(prefs)
    cands.sort(key=lambda p: (p[0] + w / 2 - px) ** 2 + (p[1] + h / 2 - py) ** 2)
    for x, y in cands:
        x0, y0, x1, y1 = int(x - m), int(y - m), int(x + w + m), int(y + h + m)
        c0, r0 = max(0, x0 // b), max(0, y0 // b)
        c1, r1 = min(Wc, -(-x1 // b)), min(Hc, -(-y1 // b))
        if ii[r1, c1] - ii[r0, c1] - ii[r1, c0] + ii[r0, c0] == 0:
            r = (x0, y0, x1, y1)
            if any(r[0] < k[2] and k[0] < r[2] and r[1] < k[3] and k[1] < r[3] for k in cv.keepout):
                continue
            return (int(x), int(y))
    return None


def place_notes(cv, st, rng, tb_rect):
    de = st.german
    pool = NOTES_DE if de else NOTES_EN
    k = rng.randint(2, 5)
    picks = rng.sample(pool, k)
    head = rng.choice(["HINWEISE:", "Anmerkungen:"] if de else ["NOTES:", "NOTES", "GENERAL NOTES:"])
    fmt = rng.choice(["{i}. {t}", "{i}) {t}", "{i}  {t}"])
    lines = [head] + [fmt.format(i=i + 1, t=t) for i, t in enumerate(picks)]
    cap = st.cap * rng.uniform(0.8, 1.0)
    f = font_for_cap(st.font_path, cap)
    sp = plain_text_sprite(lines, f, cap * rng.uniform(1.6, 2.0))
    a = cv.area
    prefs = [(a[0] + sp.w / 2, a[3] - sp.h / 2), (tb_rect[0] + sp.w / 2, tb_rect[1] - sp.h),
             (a[0] + sp.w / 2, a[1] + sp.h / 2), (a[2] - sp.w / 2, a[1] + sp.h / 2),
             (tb_rect[0] - sp.w, a[3] - sp.h / 2)]
    pos = free_spot(cv, sp.w, sp.h, prefs, rng, step=max(8, int(4 * st.ppm)), m=st.margin + 1)
    if pos is None:
        return None
    plan = Plan()
    plan.sprite(sp, pos)
    if not cv.try_plan(plan, st.margin):
        return None
    return {"lines": lines, "bbox": list(sp.placed_bbox((2,)))}
