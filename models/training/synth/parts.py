"""Parametric parts (shaft, plate, flange, bushing): their orthographic
views and how they are dimensioned."""

import math

from .canvas import CONTOUR, Plan, add, mul, vdir
from . import dimtext
from .dimtext import plain_text_sprite

STD_D = [6, 8, 10, 12, 15, 16, 20, 22, 25, 28, 30, 32, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 90, 100]
THREAD_SIZES = [6, 8, 10, 12, 16, 20, 24]
HOLE_D = [3.4, 4.5, 5.5, 6.6, 9, 11, 13.5, 17.5]
TAP = [(4, 3.3), (5, 4.2), (6, 5.0), (8, 6.8), (10, 8.5), (12, 10.2)]


class View:
    def __init__(self, name, x0, y0, x1, y1, label=None):
        self.name = name
        self.bounds = (x0, y0, x1, y1)
        self.label = label
        self.O = (0.0, 0.0)
        self.s = 1.0

    @property
    def size(self):
        return (self.bounds[2] - self.bounds[0], self.bounds[3] - self.bounds[1])

    def P(self, x, y):
        return (self.O[0] + x * self.s, self.O[1] - y * self.s)

    def page_bbox(self):
        a = self.P(self.bounds[0], self.bounds[3])
        b = self.P(self.bounds[2], self.bounds[1])
        return [int(a[0]), int(a[1]), int(math.ceil(b[0])), int(math.ceil(b[1]))]


class Pen:
    """Draws part geometry given in part millimetres into the contour layer."""

    def __init__(self, cv, st, view):
        self.cv, self.st, self.v = cv, st, view
        self.cl_ext = st.cl_ext

    def P(self, x, y):
        return self.v.P(x, y)

    def thick(self, pts, closed=False):
        pp = [self.P(*p) for p in pts]
        if closed:
            pp.append(pp[0])
        self.cv.polyline(CONTOUR, pp, self.st.thick)

    def thin(self, pts):
        self.cv.polyline(CONTOUR, [self.P(*p) for p in pts], self.st.thin)

    def hidden(self, p, q):
        self.cv.pattern_line(CONTOUR, self.P(*p), self.P(*q), self.st.thin, self.st.hidden_pattern)

    def center(self, p, q, ext=True):
        a, b = self.P(*p), self.P(*q)
        if ext:
            dx, dy = b[0] - a[0], b[1] - a[1]
            n = math.hypot(dx, dy) or 1
            a = (a[0] - dx / n * self.cl_ext, a[1] - dy / n * self.cl_ext)
            b = (b[0] + dx / n * self.cl_ext, b[1] + dy / n * self.cl_ext)
        self.cv.pattern_line(CONTOUR, a, b, self.st.thin, self.st.center_pattern, centered=True)

    def circle(self, c, r, kind="thick"):
        C, R = self.P(*c), r * self.v.s
        if kind == "thick":
            self.cv.circle(CONTOUR, C, R, self.st.thick)
        elif kind == "thin":
            self.cv.circle(CONTOUR, C, R, self.st.thin)
        elif kind == "hidden":
            self.cv.pattern_circle(CONTOUR, C, R, self.st.thin, self.st.hidden_pattern)
        else:
            self.cv.pattern_circle(CONTOUR, C, R, self.st.thin, self.st.center_pattern)

    def arc(self, c, r, a0, a1, kind="thick"):
        w = self.st.thick if kind == "thick" else self.st.thin
        self.cv.arc(CONTOUR, self.P(*c), r * self.v.s, a0, a1, w)

    def center_mark(self, c, r, both=True):
        e = r * self.v.s + self.cl_ext
        C = self.P(*c)
        pat = self.st.center_pattern
        self.cv.pattern_line(CONTOUR, (C[0] - e, C[1]), (C[0] + e, C[1]), self.st.thin, pat, centered=True)
        if both:
            self.cv.pattern_line(CONTOUR, (C[0], C[1] - e), (C[0], C[1] + e), self.st.thin, pat, centered=True)

    def hatch(self, polys, holes=(), angle=45):
        def conv(p):
            if p[0] == "circle":
                return ("circle", self.P(*p[1]), p[2] * self.v.s)
            return [self.P(*q) for q in p]
        self.cv.hatch([conv(p) for p in polys], [conv(h) for h in holes], self.st.hatch_spacing, angle,
                      self.st.thin)

    def text(self, x, y, s, font=None):
        """Free text centred at part coords (x, y); skipped if no room."""
        font = font or self.st.font
        sp = plain_text_sprite([s], font, self.st.cap * 1.6)
        plan = Plan()
        plan.sprite(sp, sp.offset_for("c", self.P(x, y)))
        self.cv.try_plan(plan, self.st.margin)
        return sp


def section_marks(cv, st, view, p, q, look, letter):
    """Cutting-plane ends: thick strokes outside the part at p and q (part
    mm), arrows pointing in direction ``look`` (visual degrees), letters."""
    P = view.P
    a, b = P(*p), P(*q)
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = math.hypot(dx, dy) or 1
    u = (dx / n, dy / n)
    L = 6 * st.ppm
    sp_text = []
    plan = Plan()
    for end, s in ((a, -1), (b, 1)):
        e0 = add(end, mul(u, s * 2 * st.ppm))
        e1 = add(e0, mul(u, s * L))
        plan.seg(e0, e1, st.thick + 1, CONTOUR)
        dv = vdir(look)
        tail = add(e1, mul(u, -s * 0.5 * st.ppm))
        tip = add(tail, mul(dv, 7 * st.ppm))
        plan.seg(tail, tip, st.thin, CONTOUR)
        plan.arrow(tip, dv, st, CONTOUR)
        sp = plain_text_sprite([letter], st.font, st.cap * 1.6)
        c = add(add(tail, mul(dv, 3.5 * st.ppm)), mul(u, s * (st.cap * 0.9 + 2 * st.ppm)))
        plan.sprite(sp, sp.offset_for("c", c))
        sp_text.append(sp)
    cv.try_plan(plan, st.margin)


def std_near(v, table=STD_D):
    return min(table, key=lambda t: abs(t - v))


# ==========================================================================
class Shaft:
    kind = "shaft"

    def __init__(self, rng, st):
        self.rng = rng
        n = rng.randint(2, 6)
        peak = rng.randint(0, n - 1)
        dpk = rng.choice([20, 25, 30, 35, 40, 45, 50, 55, 60, 70, 80])
        ds = [0] * n
        ds[peak] = dpk
        for i in range(peak - 1, -1, -1):
            ds[i] = max(6, ds[i + 1] - rng.choice([2, 4, 5, 5, 8, 10]))
        for i in range(peak + 1, n):
            ds[i] = max(6, ds[i - 1] - rng.choice([2, 4, 5, 5, 8, 10]))
        self.thread_end = None
        if rng.random() < 0.45:
            end = rng.choice([0, n - 1])
            nb = ds[1] if end == 0 and n > 1 else ds[n - 2] if n > 1 else 1000
            cands = [t for t in THREAD_SIZES if t <= ds[end] and t < nb - 1]
            if cands:
                ds[end] = max(cands)
                self.thread_end = end
        for i in range(1, n):
            if ds[i] == ds[i - 1]:
                ds[i] += 2
        self.ds = ds
        self.ls = [rng.choice(range(10, 62, 2)) * (1.5 if i == peak else 1) for i in range(n)]
        self.ls = [round(l) + (0.5 if rng.random() < 0.12 else 0) for l in self.ls]
        self.xs = [0]
        for l in self.ls:
            self.xs.append(self.xs[-1] + l)
        self.L = self.xs[-1]
        self.c0 = rng.choice([0.5, 1, 1, 1.5, 2]) if ds[0] > 8 else 0.5
        self.c1 = rng.choice([0.5, 1, 1, 1.5, 2]) if ds[-1] > 8 else 0.5
        self.key = None
        cands = [i for i in range(n) if i != self.thread_end and self.ls[i] >= 18 and ds[i] >= 12]
        if cands and rng.random() < 0.55:
            k = rng.choice(cands)
            d = ds[k]
            b = 4 if d < 12 else 5 if d < 17 else 6 if d < 22 else 8 if d < 30 else 10 if d < 38 else \
                12 if d < 44 else 14 if d < 50 else 16 if d < 58 else 18 if d < 65 else 20
            t1 = round(b * 0.6, 1)
            lk = max(b + 4, round((self.ls[k] - rng.choice([4, 6, 8])) / 2) * 2)
            if lk >= self.ls[k] - 2:
                lk = self.ls[k] - 4
            xk = self.xs[k] + self.ls[k] / 2
            self.key = (k, b, t1, lk, xk)
        self.center_hole = rng.random() < 0.3 and ds[0] >= 16 and self.thread_end != 0
        dmax = max(ds)
        self.front = View("front", -2, -dmax / 2, self.L + 2, dmax / 2)
        grid = [[self.front]]
        self.end = None
        if rng.random() < 0.6:
            self.end = View("end", -dmax / 2, -dmax / 2, dmax / 2, dmax / 2)
            grid[0].append(self.end)
        self.sec = None
        if self.key and rng.random() < 0.65:
            r = ds[self.key[0]] / 2
            self.sec = View("section", -r, -r, r, r, label="A-A")
        row = [v for v in (self.front, self.end, self.sec) if v is not None]
        self.grids = [[row]]
        if len(row) == 3:
            self.grids.append([[self.front, self.end], [None, self.sec]])
            self.grids.append([[self.front, self.sec], [None, self.end]])
        elif len(row) == 2:
            self.grids.append([[self.front], [row[1]]])
        self.grid = self.grids[0]
        self.title = rng.choice(["DRIVE SHAFT", "OUTPUT SHAFT", "SPINDLE", "STEPPED SHAFT", "AXLE",
                                 "Antriebswelle", "Welle", "Zwischenwelle", "Getriebewelle", "PIN"])

    def r_at(self, i):
        """Outline radius at boundary i (max of both sides)."""
        ds, n = self.ds, len(self.ds)
        if i == 0:
            return ds[0] / 2
        if i == n:
            return ds[-1] / 2
        return max(ds[i - 1], ds[i]) / 2

    def draw(self, cv, st):
        pen = Pen(cv, st, self.front)
        ds, xs, L = self.ds, self.xs, self.L
        n = len(ds)
        c0, c1 = self.c0, self.c1
        for sgn in (1, -1):
            pts = [(0, sgn * (ds[0] / 2 - c0)), (c0, sgn * ds[0] / 2)]
            for i in range(n):
                pts.append((xs[i + 1] if i < n - 1 else L - c1, sgn * ds[i] / 2))
                if i < n - 1:
                    pts.append((xs[i + 1], sgn * ds[i + 1] / 2))
            pts.append((L, sgn * (ds[-1] / 2 - c1)))
            pen.thick(pts)
        pen.thick([(0, ds[0] / 2 - c0), (0, -(ds[0] / 2 - c0))])
        pen.thick([(L, ds[-1] / 2 - c1), (L, -(ds[-1] / 2 - c1))])
        pen.thick([(c0, ds[0] / 2), (c0, -ds[0] / 2)])
        pen.thick([(L - c1, ds[-1] / 2), (L - c1, -ds[-1] / 2)])
        for i in range(1, n):
            m = max(ds[i - 1], ds[i]) / 2
            pen.thick([(xs[i], m), (xs[i], -m)])
        if self.thread_end is not None:
            e = self.thread_end
            d = ds[e]
            p = dimtext.THREADS.get(int(d), 1.0)
            dm = d - 1.2269 * p
            if e == 0:
                x0, x1 = 0, self.ls[0] * 0.8
            else:
                x0, x1 = L - self.ls[-1] * 0.8, L
            for s in (1, -1):
                pen.thin([(x0, s * dm / 2), (x1, s * dm / 2)])
            xe = x1 if e == 0 else x0
            pen.thick([(xe, d / 2), (xe, -d / 2)])
        if self.key:
            k, b, t1, lk, xk = self.key
            r = b / 2
            a, c = xk - lk / 2 + r, xk + lk / 2 - r
            pen.thick([(a, r), (c, r)])
            pen.thick([(a, -r), (c, -r)])
            pen.arc((a, 0), r, 90, 270)
            pen.arc((c, 0), r, -90, 90)
        if self.center_hole:
            dh = max(2.5, round(ds[0] * 0.12, 1))
            depth = dh * 2
            for s in (1, -1):
                pen.hidden((0, s * dh / 2), (depth, s * dh / 2))
                pen.hidden((depth, s * dh / 2), (depth + dh * 0.6, 0))
        pen.center((0, 0), (L, 0))
        if self.end is not None:
            pe = Pen(cv, st, self.end)
            run = 0
            for i, d in enumerate(ds):
                if d > run:
                    pe.circle((0, 0), d / 2)
                    run = d
            pe.circle((0, 0), ds[0] / 2 - c0)
            if self.thread_end == 0:
                p = dimtext.THREADS.get(int(ds[0]), 1.0)
                pe.arc((0, 0), (ds[0] - 1.2269 * p) / 2, 100, 370, "thin")
            R = max(ds) / 2
            pe.center((-R, 0), (R, 0))
            pe.center((0, -R), (0, R))
        if self.sec is not None:
            k, b, t1, lk, xk = self.key
            r = self.ds[k] / 2
            ps = Pen(cv, st, self.sec)
            yc = math.sqrt(max(r * r - (b / 2) ** 2, 0))
            a = math.degrees(math.atan2(yc, b / 2))
            notch = [(-b / 2, r + 1), (-b / 2, r - t1), (b / 2, r - t1), (b / 2, r + 1)]
            ps.hatch([("circle", (0, 0), r)], [notch], angle=self.rng.choice([45, 135]))
            ps.arc((0, 0), r, 180 - a, 360 + a)
            ps.thick([(-b / 2, yc), (-b / 2, r - t1), (b / 2, r - t1), (b / 2, yc)])
            ps.center((-r, 0), (r, 0))
            ps.center((0, -r), (0, r))
            dmax = max(self.ds)
            section_marks(cv, st, self.front, (xk, dmax / 2), (xk, -dmax / 2), 180, "A")

    def annotate(self, ann):
        rng, st = self.rng, ann.st
        v = self.front
        P = v.P
        ds, xs, ls = self.ds, self.xs, self.ls
        n = len(ds)
        seats = []
        for i in range(n):
            d = ds[i]
            frac = 0.5
            if self.key and self.key[0] == i:
                frac = 0.5 - (self.key[3] / 2 + self.key[1]) / ls[i] if ls[i] > 0 else 0.5
                frac = max(0.12, frac)
            xm = xs[i] + ls[i] * frac
            if i == self.thread_end:
                spec = dimtext.thread(rng, st, d, fine=rng.random() < 0.35)
            else:
                spec = dimtext.diameter(rng, st, d, hole=False)
                if spec.has_tolerance:
                    seats.append(i)
            ann.across(P(xm, d / 2), P(xm, -d / 2), spec)
        # lengths
        style = rng.choice(["chain", "chain", "baseline"])
        if style == "chain":
            for i in range(n):
                spec = dimtext.linear(rng, st, ls[i])
                ann.linear(P(xs[i], -self.r_at(i)), P(xs[i + 1], -self.r_at(i + 1)), "h", 1, spec, levels=2)
            spec = dimtext.linear(rng, st, self.L, ref_rate=0.5)
            ann.linear(P(0, -self.r_at(0)), P(self.L, -self.r_at(n)), "h", 1, spec,
                       offsets=[st.dim_first + k * st.dim_step for k in (1, 2, 3)])
        else:
            for k, i in enumerate(range(1, n + 1)):
                spec = dimtext.linear(rng, st, xs[i])
                ann.linear(P(0, self.r_at(0)), P(xs[i], self.r_at(i)), "h", -1, spec,
                           offsets=[st.dim_first + j * st.dim_step for j in range(k, k + 3)])
        if self.key:
            k, b, t1, lk, xk = self.key
            dk = ds[k]
            offs = [(dk / 2 * v.s) + st.dim_first * 0.7 + j * st.dim_step for j in range(3)]
            ann.linear(P(xk - lk / 2, 0), P(xk + lk / 2, 0), "h", -1, dimtext.linear(rng, st, lk), offsets=offs)
            ann.linear(P(xs[k], ds[k] / 2), P(xk - lk / 2, 0), "h", -1,
                       dimtext.linear(rng, st, round(xk - lk / 2 - xs[k], 1), allow_tol=False),
                       offsets=[st.dim_first * 0.7 + j * st.dim_step for j in range(3)])
        # chamfers
        c0 = self.c0
        ann.leader(P(c0 / 2, ds[0] / 2 - c0 / 2), 135, dimtext.chamfer(rng, st, c0))
        if self.c1 != c0 or rng.random() < 0.4:
            c1 = self.c1
            ann.leader(P(self.L - c1 / 2, ds[-1] / 2 - c1 / 2), 45, dimtext.chamfer(rng, st, c1))
        # fillet radius at a shoulder
        sh = [i for i in range(1, n) if abs(ds[i] - ds[i - 1]) >= 4]
        if sh and rng.random() < 0.6:
            i = rng.choice(sh)
            small = min(ds[i], ds[i - 1]) / 2
            ang = 135 if ds[i - 1] < ds[i] else 45
            ann.leader(P(xs[i], small), ang, dimtext.radius(rng, st, rng.choice([0.4, 0.6, 1, 1.6, 2, 2.5])))
        # datums / GD&T / roughness
        cand = seats or [i for i in range(n) if i != self.thread_end]
        rng.shuffle(cand)
        datum_ok = False
        if cand and rng.random() < 0.7:
            i = cand[0]
            datum_ok = ann.datum(P(xs[i], -ds[i] / 2), P(xs[i + 1], -ds[i] / 2), (0, 1), "A")
        if len(cand) > 1 and rng.random() < 0.6:
            i = cand[1]
            g = ann.make_gdt("cylindricity")
            ann.fcf_edge(P(xs[i], ds[i] / 2), P(xs[i + 1], ds[i] / 2), (0, -1), g)
        if datum_ok and sh and rng.random() < 0.7:
            i = rng.choice(sh)
            lo, hi = sorted((ds[i - 1] / 2, ds[i] / 2))
            nrm = (-1, 0) if ds[i - 1] < ds[i] else (1, 0)
            g = ann.make_gdt("perpendicularity", datums=["A"])
            ann.fcf_edge(P(xs[i], lo), P(xs[i], hi), nrm, g)
        if datum_ok and len(cand) > 2 and rng.random() < 0.5:
            i = cand[2]
            ch = rng.choice(["circular_runout", "parallelism", "position", "concentricity"])
            g = ann.make_gdt(ch, datums=["A"])
            ann.fcf_edge(P(xs[i], ds[i] / 2), P(xs[i + 1], ds[i] / 2), (0, -1), g)
        if self.key and datum_ok and rng.random() < 0.4:
            k, b, t1, lk, xk = self.key
            g = ann.make_gdt(rng.choice(["symmetry", "parallelism"]), datums=["A"])
            ann.fcf_point(P(xk, b / 2), 90, g)
        for i in (cand[: rng.randint(1, 3)] if cand else []):
            ann.roughness(P(xs[i], ds[i] / 2), P(xs[i + 1], ds[i] / 2), (0, -1))
        if self.sec is not None:
            k, b, t1, lk, xk = self.key
            r = ds[k] / 2
            Ps = self.sec.P
            yc = math.sqrt(max(r * r - (b / 2) ** 2, 0))
            spec = dimtext.linear(rng, st, b, force_tol="fit" if rng.random() < 0.6 else None, allow_fit=True,
                                  hole=True)
            ann.linear(Ps(-b / 2, yc), Ps(b / 2, yc), "h", -1, spec)
            spec = dimtext.linear(rng, st, round(ds[k] - t1, 1), hole=False,
                                  force_tol="dev" if rng.random() < 0.5 else None)
            ann.linear(Ps(b / 2, r - t1), Ps(0, -r), "v", 1, spec)


# ==========================================================================
class Plate:
    kind = "plate"

    def __init__(self, rng, st):
        self.rng = rng
        self.W = rng.choice(range(40, 265, 5))
        self.H = rng.choice(range(30, min(185, int(self.W * 1.2)), 5))
        self.t = rng.choice([3, 4, 5, 6, 8, 10, 12, 15, 20, 25])
        m = min(self.W, self.H)
        self.rc = rng.choice([0, 0, 3, 5, 8, 10]) if m > 40 else 0
        self.cut = None
        if rng.random() < 0.45:
            a = rng.choice([5, 8, 10, 15, 20, 25])
            a = min(a, m // 4)
            b = a if rng.random() < 0.45 else min(m // 3, round(a * rng.choice([0.58, 1.73, 0.84, 1.19]), 1))
            self.cut = (a, b)
        # holes
        self.tapped = None
        e = rng.choice([6, 7.5, 8, 10, 12, 12.5, 15])
        e = min(e, m / 4)
        self.e = e
        if rng.random() < 0.35:
            self.tapped = rng.choice(TAP)
            self.hd = self.tapped[1]
        else:
            self.hd = rng.choice([h for h in HOLE_D if h < e * 1.3] or [3.4])
        corner = [(e, e), (self.W - e, e), (self.W - e, self.H - e), (e, self.H - e)]
        if self.cut:
            corner = corner[:2] + corner[3:]
        self.holes = corner if rng.random() < 0.85 else []
        self.row = []
        if rng.random() < 0.3 and self.W > 100:
            k = rng.randint(2, 4)
            pitch = round((self.W - 4 * e) / (k - 1) / 5) * 5
            x0 = (self.W - pitch * (k - 1)) / 2
            self.row = [(x0 + i * pitch, self.H / 2) for i in range(k)]
            self.row_d = rng.choice([h for h in HOLE_D if h < self.H / 4] or [3.4])
        self.bore = None
        if not self.row and m > 60 and rng.random() < 0.6:
            self.bore = std_near(m * rng.uniform(0.2, 0.4))
        self.pocket = None
        if not self.bore and not self.row and self.t >= 8 and m > 60 and rng.random() < 0.5:
            pw = round(self.W * rng.uniform(0.3, 0.5))
            ph = round(self.H * rng.uniform(0.3, 0.5))
            self.pocket = (self.W / 2 - pw / 2, self.H / 2 - ph / 2, pw, ph, round(self.t * 0.5, 1),
                           rng.choice([2, 3, 5]))
        self.top = View("top", 0, 0, self.W, self.H)
        self.frontv = View("front", 0, 0, self.W, self.t) if rng.random() < 0.85 else None
        self.side = View("side", 0, 0, self.H, self.t) if rng.random() < 0.4 else None
        self.section_front = self.frontv is not None and (self.holes or self.bore) and rng.random() < 0.35
        if self.section_front:
            self.frontv.label = "A-A"
        grid = [[self.top, None]]
        if self.frontv or self.side:
            grid.append([self.frontv, self.side])
        if rng.random() < 0.5:
            grid = [grid[-1], grid[0]] if len(grid) > 1 else grid
        self.grid = grid
        self.grids = [grid]
        if len(grid) > 1 and self.side is not None and rng.random() < 0.5:
            top_row = [r for r in grid if r[0] is self.top][0]
            other = [r for r in grid if r[0] is not self.top][0]
            self.grids.append([[self.top, None, None], [other[0], None, other[1]]] if other[0] else grid)
        self.title = rng.choice(["MOUNTING PLATE", "BASE PLATE", "COVER PLATE", "BRACKET PLATE", "ADAPTER PLATE",
                                 "Grundplatte", "Deckel", "Halteplatte", "Montageplatte", "CLAMP PLATE"])

    def all_holes(self):
        out = [(x, y, self.hd, "tap" if self.tapped else "hole") for x, y in self.holes]
        out += [(x, y, self.row_d, "hole") for x, y in self.row]
        if self.bore:
            out.append((self.W / 2, self.H / 2, self.bore, "bore"))
        return out

    def outline(self):
        W, H, rc = self.W, self.H, self.rc
        return W, H, rc

    def draw(self, cv, st):
        pen = Pen(cv, st, self.top)
        W, H, rc = self.W, self.H, self.rc
        cut = self.cut
        # edges
        tr = (W - cut[0], H, W, H - cut[1]) if cut else None
        r = rc
        pen.thick([(r, 0), (W - r, 0)])
        pen.thick([(0, r), (0, H - r)])
        if cut:
            pen.thick([(r, H), (W - cut[0], H), (W, H - cut[1]), (W, r)])
        else:
            pen.thick([(r, H), (W - r, H)])
            pen.thick([(W, r), (W, H - r)])
        if r:
            pen.arc((r, r), r, 180, 270)
            pen.arc((W - r, r), r, 270, 360)
            pen.arc((r, H - r), r, 90, 180)
            if not cut:
                pen.arc((W - r, H - r), r, 0, 90)
        for x, y, d, kind in self.all_holes():
            if kind == "tap":
                pen.circle((x, y), d / 2)
                pen.arc((x, y), self.tapped[0] / 2, 100, 370, "thin")
                pen.center_mark((x, y), self.tapped[0] / 2)
            else:
                pen.circle((x, y), d / 2)
                pen.center_mark((x, y), d / 2)
        if self.pocket:
            px, py, pw, ph, pd, pr = self.pocket
            pen.thick([(px + pr, py), (px + pw - pr, py)])
            pen.thick([(px + pr, py + ph), (px + pw - pr, py + ph)])
            pen.thick([(px, py + pr), (px, py + ph - pr)])
            pen.thick([(px + pw, py + pr), (px + pw, py + ph - pr)])
            pen.arc((px + pr, py + pr), pr, 180, 270)
            pen.arc((px + pw - pr, py + pr), pr, 270, 360)
            pen.arc((px + pw - pr, py + ph - pr), pr, 0, 90)
            pen.arc((px + pr, py + ph - pr), pr, 90, 180)
        t = self.t
        if self.frontv:
            pf = Pen(cv, st, self.frontv)
            pf.thick([(0, 0), (W, 0), (W, t), (0, t)], closed=True)
            holes = [h for h in self.all_holes()]
            if self.section_front:
                ycut = self.H / 2 if self.bore or self.row else self.e
                cutting = [h for h in holes if abs(h[1] - ycut) < h[2] / 2]
                solid = [[(0, 0), (W, 0), (W, t), (0, t)]]
                voids = [[(x - d / 2, -1), (x + d / 2, -1), (x + d / 2, t + 1), (x - d / 2, t + 1)]
                         for x, y, d, k in cutting]
                if self.pocket:
                    px, py, pw, ph, pd, pr = self.pocket
                    if py <= ycut <= py + ph:
                        voids.append([(px, t - pd), (px + pw, t - pd), (px + pw, t + 1), (px, t + 1)])
                pf.hatch(solid, voids, angle=self.rng.choice([45, 135]))
                for x, y, d, k in cutting:
                    pf.thick([(x - d / 2, 0), (x - d / 2, t)])
                    pf.thick([(x + d / 2, 0), (x + d / 2, t)])
                    pf.center((x, 0), (x, t))
                section_marks(cv, st, self.top, (-2, ycut), (W + 2, ycut), 270, "A")
            else:
                for x, y, d, k in holes:
                    pf.hidden((x - d / 2, 0), (x - d / 2, t))
                    pf.hidden((x + d / 2, 0), (x + d / 2, t))
                    pf.center((x, 0), (x, t))
                if self.cut:
                    pf.hidden((W - self.cut[0], 0), (W - self.cut[0], t))
            if self.pocket:
                px, py, pw, ph, pd, pr = self.pocket
                fn = pf.thick if self.section_front else None
                if fn:
                    fn([(px, t), (px, t - pd), (px + pw, t - pd), (px + pw, t)])
                else:
                    pf.hidden((px, t - pd), (px + pw, t - pd))
                    pf.hidden((px, t - pd), (px, t))
                    pf.hidden((px + pw, t - pd), (px + pw, t))
        if self.side:
            ps = Pen(cv, st, self.side)
            ps.thick([(0, 0), (H, 0), (H, t), (0, t)], closed=True)
            seen = set()
            for x, y, d, k in self.all_holes():
                if y in seen:
                    continue
                seen.add(y)
                ps.hidden((y - d / 2, 0), (y - d / 2, t))
                ps.hidden((y + d / 2, 0), (y + d / 2, t))
                ps.center((y, 0), (y, t))

    def annotate(self, ann):
        rng, st = self.rng, ann.st
        v = self.top
        P = v.P
        W, H, t = self.W, self.H, self.t
        use_pos = bool(self.holes) and rng.random() < 0.45
        ann.linear(P(0, H), P(W, H), "h", -1, dimtext.linear(rng, st, W, hole=None))
        ann.linear(P(0, 0), P(0, H), "v", -1, dimtext.linear(rng, st, H, ref_rate=0.1))
        holes = self.holes
        if holes:
            xs = sorted(set(x for x, y in holes))
            ys = sorted(set(y for x, y in holes))
            for k, x in enumerate(xs):
                spec = dimtext.linear(rng, st, round(x, 2), basic=use_pos, allow_tol=not use_pos)
                ann.linear(P(0, 0), P(x, ys[0]), "h", 1, spec,
                           offsets=[st.dim_first + j * st.dim_step for j in range(k, k + 3)])
            for k, y in enumerate(ys):
                spec = dimtext.linear(rng, st, round(y, 2), basic=use_pos, allow_tol=not use_pos)
                ann.linear(P(W, 0), P(xs[-1], y), "v", 1, spec,
                           offsets=[st.dim_first + j * st.dim_step for j in range(k, k + 3)])
            x, y = holes[0]
            cnt = len(holes)
            if self.tapped:
                spec = dimtext.thread(rng, st, self.tapped[0], internal=True, count=cnt)
            else:
                spec = dimtext.diameter(rng, st, self.hd, hole=True, count=cnt,
                                        allow_tol=rng.random() < 0.3)
            ann.circle_leader(P(x, y), self.hd / 2 * v.s, spec)
        if self.row:
            xs = [x for x, y in self.row]
            y = self.row[0][1]
            spec = dimtext.diameter(rng, st, self.row_d, hole=True, count=len(self.row), allow_tol=False)
            ann.circle_leader(P(*self.row[-1]), self.row_d / 2 * v.s, spec)
            if len(xs) > 1:
                ann.linear(P(xs[0], y), P(xs[1], y), "h", -1,
                           dimtext.linear(rng, st, round(xs[1] - xs[0], 2)),
                           offsets=[(H - y) * v.s + st.dim_first * 0.7 + j * st.dim_step for j in range(2)])
            ann.linear(P(0, 0), P(xs[0], y), "h", 1, dimtext.linear(rng, st, round(xs[0], 2)),
                       offsets=[y * v.s + st.dim_first + j * st.dim_step for j in range(3)])
        if self.bore:
            c = P(W / 2, H / 2)
            spec = dimtext.diameter(rng, st, self.bore, hole=True)
            if rng.random() < 0.5:
                ok = ann.circle_through(c, self.bore / 2 * v.s, spec)
            else:
                ok = ann.circle_leader(c, self.bore / 2 * v.s, spec)
            if not ok:
                ann.circle_leader(c, self.bore / 2 * v.s, spec)
        if self.rc:
            r = self.rc
            cnt = 4 if not self.cut else 3
            spec = dimtext.radius(rng, st, r, count=cnt if rng.random() < 0.7 else None)
            c = P(r, r)
            if not (rng.random() < 0.5 and ann.radius_center(c, r * v.s, -135, spec)):
                ann.circle_leader(c, r * v.s, spec, angles=[-135, -120, -150, -100, -170])
        if self.cut:
            a, b = self.cut
            V = P(W - a, H)
            if a == b and rng.random() < 0.6:
                ann.leader(P(W - a / 2, H - b / 2), 45, dimtext.chamfer(rng, st, a))
            else:
                ang = round(math.degrees(math.atan2(b, a)), 1)
                ang = int(round(ang)) if abs(ang - round(ang)) < 0.05 else ang
                ann.linear(P(W - a, H), P(W, H), "h", -1, dimtext.linear(rng, st, a, allow_tol=False),
                           offsets=[st.dim_first * 0.8 + j * st.dim_step for j in range(2)])
                ann.angular(V, -ang, 0, dimtext.angle(rng, st, ang),
                            [k * st.ppm for k in (14, 20, 28)], ext_from=(0, 0))
                if rng.random() < 0.8:
                    ln = round(math.hypot(a, b), 1)
                    ann.linear(P(W - a, H), P(W, H - b), "a", 1, dimtext.linear(rng, st, ln, allow_tol=False),
                               offsets=[st.dim_first * 0.6, st.dim_first * 0.6 + st.dim_step])
        if self.pocket:
            px, py, pw, ph, pd, pr = self.pocket
            ann.linear(P(px, py + ph), P(px + pw, py + ph), "h", -1, dimtext.linear(rng, st, pw),
                       offsets=[st.dim_first * 0.6])
            ann.linear(P(px, py), P(px, py + ph), "v", 1, dimtext.linear(rng, st, ph),
                       offsets=[st.dim_first * 0.6])
            ann.circle_leader(P(px + pw - pr, py + pr), pr * v.s, dimtext.radius(rng, st, pr),
                              angles=[-45, -30, -60])
        # datums on the top view edges
        datums = []
        if use_pos or rng.random() < 0.5:
            if self.frontv and ann.datum(self.frontv.P(0, 0), self.frontv.P(W, 0), (0, 1), "A"):
                datums.append("A")
            if ann.datum(P(0, H * 0.1), P(0, H * 0.9), (-1, 0), "B"):
                datums.append("B")
            if ann.datum(P(W * 0.1, 0), P(W * 0.9, 0), (0, 1), "C"):
                datums.append("C")
        if use_pos and holes:
            g = ann.make_gdt("position", datums=datums[:3])
            x, y = holes[-1]
            ann.fcf_circle(P(x, y), self.hd / 2 * v.s, g)
        if self.frontv:
            pf = self.frontv.P
            ann.linear(pf(W, 0), pf(W, t), "v", 1, dimtext.linear(rng, st, t))
            if rng.random() < 0.6:
                g = ann.make_gdt("flatness")
                ann.fcf_edge(pf(0, t), pf(W, t), (0, -1), g)
            if "A" in datums and rng.random() < 0.6:
                g = ann.make_gdt("parallelism", datums=["A"])
                ann.fcf_edge(pf(W * 0.2, t), pf(W * 0.8, t), (0, -1), g)
            if self.pocket:
                px, py, pw, ph, pd, pr = self.pocket
                ann.linear(pf(px + pw, t), pf(px + pw, t - pd), "v", 1, dimtext.linear(rng, st, pd),
                           offsets=[(W - px - pw) * self.frontv.s + st.dim_first * 0.6])
            ann.roughness(pf(0, t), pf(W, t), (0, -1))
        if self.bore and "A" in datums and rng.random() < 0.7:
            g = ann.make_gdt("perpendicularity", datums=["A"])
            ann.fcf_circle(P(W / 2, H / 2), self.bore / 2 * v.s, g)
        if self.side and rng.random() < 0.5:
            ps = self.side.P
            ann.roughness(ps(0, 0), ps(0, t), (-1, 0))
        if rng.random() < 0.4:
            ann.roughness(P(0, H * 0.2), P(0, H * 0.8), (-1, 0))


# ==========================================================================
class Flange:
    kind = "flange"

    def __init__(self, rng, st):
        self.rng = rng
        self.D = rng.choice(range(60, 230, 10))
        self.d = std_near(self.D * rng.uniform(0.15, 0.35))
        self.dh = std_near(self.d + 2 * rng.choice([5, 6, 8, 10, 12, 15]))
        if self.dh <= self.d + 6:
            self.dh = self.d + 10
        if self.dh > self.D * 0.6:
            self.dh = round(self.D * 0.55)
        self.tf = rng.choice([8, 10, 12, 15, 18, 20, 25])
        self.Lh = rng.choice([0, 8, 10, 15, 20, 25, 30]) if rng.random() < 0.8 else 0
        self.dbc = round((self.dh + self.D) / 2 / 5) * 5
        ring = (self.D - self.dh) / 2
        self.nh = rng.choice([3, 4, 4, 6, 6, 8])
        self.ho = rng.choice([h for h in HOLE_D if h < ring * 0.55] or [3.4])
        self.tapped = None
        taps = [t for t in TAP if t[0] < ring * 0.5]
        if taps and rng.random() < 0.3:
            self.tapped = rng.choice(taps)
            self.ho = self.tapped[1]
        self.start = 90 if rng.random() < 0.7 else 90 + 180 / self.nh
        self.c = rng.choice([0.5, 1, 1, 1.5])
        R = self.D / 2
        self.front = View("front", -R, -R, R, R)
        self.sec = View("section", 0, -R, self.tf + self.Lh, R, label="A-A")
        pair = [self.sec, self.front] if rng.random() < 0.5 else [self.front, self.sec]
        self.grids = [[pair], [[pair[0]], [pair[1]]]]
        self.grid = self.grids[0]
        self.title = rng.choice(["FLANGE", "PIPE FLANGE DN50", "HUB FLANGE", "COUPLING FLANGE", "Flansch",
                                 "Anschlussflansch", "Nabenflansch", "BEARING FLANGE"])

    def hole_angles(self):
        return [self.start + k * 360 / self.nh for k in range(self.nh)]

    def profile(self, sgn):
        d, D, dh, tf, Lh, c = self.d, self.D, self.dh, self.tf, self.Lh, self.c
        L = tf + Lh
        outer = [(0, D / 2), (tf, D / 2)]
        if Lh:
            outer += [(tf, dh / 2), (L, dh / 2)]
        pts = [(0, d / 2 + c)] + outer + [(L, d / 2 + c), (L - c, d / 2), (c, d / 2)]
        return [(x, sgn * y) for x, y in pts]

    def draw(self, cv, st):
        pen = Pen(cv, st, self.front)
        R = self.D / 2
        pen.circle((0, 0), R)
        if self.Lh:
            pen.circle((0, 0), self.dh / 2)
        pen.circle((0, 0), self.d / 2)
        pen.circle((0, 0), self.d / 2 + self.c)
        pen.circle((0, 0), self.dbc / 2, "center")
        for a in self.hole_angles():
            c = mul(vdir(a), 1)
            x, y = self.dbc / 2 * c[0], -self.dbc / 2 * c[1]
            pen.circle((x, y), self.ho / 2)
            if self.tapped:
                pen.arc((x, y), self.tapped[0] / 2, 100, 370, "thin")
            pen.center_mark((x, y), self.ho / 2)
        pen.center((-R, 0), (R, 0))
        pen.center((0, -R), (0, R))
        ps = Pen(cv, st, self.sec)
        L = self.tf + self.Lh
        holes_y = []
        for a in self.hole_angles():
            aa = a % 360
            if abs(aa - 90) < 1e-6:
                holes_y.append(self.dbc / 2)
            if abs(aa - 270) < 1e-6:
                holes_y.append(-self.dbc / 2)
        voids = [[(-1, y - self.ho / 2), (self.tf + 1, y - self.ho / 2), (self.tf + 1, y + self.ho / 2),
                  (-1, y + self.ho / 2)] for y in holes_y]
        ang = self.rng.choice([45, 135])
        for sgn in (1, -1):
            prof = self.profile(sgn)
            ps.hatch([prof], voids, angle=ang)
            ps.thick(prof, closed=True)
        for y in holes_y:
            ps.thick([(0, y - self.ho / 2), (self.tf, y - self.ho / 2)])
            ps.thick([(0, y + self.ho / 2), (self.tf, y + self.ho / 2)])
            ps.center((0, y), (self.tf, y))
        ps.thick([(self.c, self.d / 2), (self.c, -self.d / 2)])
        ps.thick([(L - self.c, self.d / 2), (L - self.c, -self.d / 2)])
        ps.center((0, 0), (L, 0))
        section_marks(cv, st, self.front, (0, R), (0, -R), 0 if self.grid[0][0] is self.front else 180, "A")
        self.holes_y = holes_y

    def annotate(self, ann):
        rng, st = self.rng, ann.st
        v = self.sec
        P = v.P
        d, D, dh, tf, Lh = self.d, self.D, self.dh, self.tf, self.Lh
        L = tf + Lh
        side_out = -1 if self.grid[0][0] is self.sec else 1
        ann.linear(P(0, D / 2), P(0, -D / 2), "v", -1, dimtext.diameter(rng, st, D, hole=False))
        if Lh:
            ann.linear(P(L, dh / 2), P(L, -dh / 2), "v", 1, dimtext.diameter(rng, st, dh, hole=False))
        spec = dimtext.diameter(rng, st, d, hole=True, force_tol="fit" if rng.random() < 0.5 else None)
        if not ann.across(P(L - Lh / 2 - tf / 2 if Lh else tf / 2, d / 2), P(L - Lh / 2 - tf / 2 if Lh else tf / 2,
                                                                        -d / 2), spec):
            ann.linear(P(L, d / 2), P(L, -d / 2), "v", 1, spec,
                       offsets=[st.dim_first + k * st.dim_step for k in (1, 2, 3)])
        ann.linear(P(0, D / 2), P(tf, D / 2), "h", -1, dimtext.linear(rng, st, tf))
        if Lh:
            ann.linear(P(0, -D / 2), P(L, -dh / 2), "h", 1, dimtext.linear(rng, st, L, ref_rate=0.25))
            ann.linear(P(tf, dh / 2), P(L, dh / 2), "h", -1, dimtext.linear(rng, st, Lh, ref_rate=0.3),
                       offsets=[(D - dh) / 2 * v.s + st.dim_first + k * st.dim_step for k in range(3)])
        if len(self.holes_y) == 2:
            ann.linear(P(0, self.dbc / 2), P(0, -self.dbc / 2), "v", -1,
                       dimtext.diameter(rng, st, self.dbc, allow_tol=False),
                       offsets=[st.dim_first + k * st.dim_step for k in (1, 2, 3)])
        ann.leader(P(self.c / 2, d / 2 + self.c / 2), 225, dimtext.chamfer(rng, st, self.c))
        if Lh and rng.random() < 0.5:
            ann.leader(P(tf, dh / 2), 45, dimtext.radius(rng, st, rng.choice([1, 2, 2.5, 3])))
        # front view
        pf = self.front.P
        s = self.front.s
        C = pf(0, 0)
        if len(self.holes_y) != 2 or rng.random() < 0.5:
            ann.circle_through(C, self.dbc / 2 * s, dimtext.diameter(rng, st, self.dbc, allow_tol=False),
                               aligned=rng.random() < 0.5)
        angs = self.hole_angles()
        hole_c = lambda a: add(C, mul(vdir(a), self.dbc / 2 * s))
        if self.tapped:
            spec = dimtext.thread(rng, st, self.tapped[0], internal=True, count=self.nh)
        else:
            spec = dimtext.diameter(rng, st, self.ho, hole=True, count=self.nh, allow_tol=False)
        ann.circle_leader(hole_c(angs[1 % self.nh]), self.ho / 2 * s, spec)
        radii = [self.dbc / 2 * s + k2 * st.ppm for k2 in (6, 10, 15)] + \
            [D / 2 * s + k2 * st.ppm for k2 in (6, 12, 18, 26)]
        if self.start % 90 and rng.random() < 0.7:
            a1 = min((a % 360 for a in angs), key=lambda a: abs(a - 0) if a < 180 else 999)
            if 0 < a1 < 90:
                ann.angular(C, 0, a1, dimtext.angle(rng, st, round(a1, 1)), radii,
                            ext_from=(D / 2 * s, self.dbc / 2 * s + self.ho / 2 * s))
        if self.nh > 1 and rng.random() < 0.8:
            step = 360 / self.nh
            rr = self.dbc / 2 * s
            k = rng.randrange(self.nh)
            a1 = angs[k] % 360
            ann.angular(C, a1, a1 + step, dimtext.angle(rng, st, round(step, 1)), radii,
                        ext_from=(rr + self.ho / 2 * s, rr + self.ho / 2 * s))
        datums = []
        if Lh and ann.datum(P(tf + Lh * 0.2, dh / 2), P(L - Lh * 0.2, dh / 2), (0, -1), "A"):
            datums.append("A")
        if ann.datum(P(0, d / 2 + 2), P(0, D / 2 - 2), (-1, 0), "B" if datums else "A"):
            datums.append("B" if datums else "A")
        if datums:
            g = ann.make_gdt("position", datums=datums)
            ann.fcf_circle(hole_c(angs[2 % self.nh]), self.ho / 2 * s, g)
        if datums and rng.random() < 0.7:
            g = ann.make_gdt("perpendicularity", datums=datums[:1])
            ann.fcf_edge(P(tf, dh / 2 if Lh else d / 2), P(tf, D / 2), (1, 0), g)
        if len(datums) > 1 and rng.random() < 0.6:
            g = ann.make_gdt("parallelism", datums=[datums[1]])
            ann.fcf_edge(P(L, -d / 2 - 1), P(L, -(dh / 2 if Lh else D / 2) + 1), (1, 0), g)
        if rng.random() < 0.4:
            g = ann.make_gdt(rng.choice(["flatness", "circular_runout", "total_runout"]),
                             datums=datums[:1] if rng.random() < 0.7 else [])
            if g["characteristic"] == "flatness":
                g["datums"] = []
            elif not g["datums"]:
                g["characteristic"] = "flatness"
            ann.fcf_edge(P(0, -d / 2 - 2), P(0, -D / 2 + 2), (-1, 0), g)
        if Lh:
            ann.roughness(P(tf, dh / 2), P(L, dh / 2), (0, -1))
        ann.roughness(P(0, D / 2 - 2), P(tf, D / 2), (0, -1))
        if rng.random() < 0.5:
            ann.roughness(P(0, -d / 2), P(0, -D / 2), (-1, 0))


# ==========================================================================
class Bushing:
    kind = "bushing"

    def __init__(self, rng, st):
        self.rng = rng
        self.D = rng.choice([14, 16, 18, 20, 22, 25, 28, 30, 32, 35, 40, 45, 50, 55, 60, 70, 80])
        self.d = self.D - 2 * rng.choice([2, 2.5, 3, 4, 5, 6, 8, 10])
        if self.d < 6:
            self.d = self.D - 4
        self.L = rng.choice(range(10, 85, 5)) + (rng.choice([0.5, 2, 2.5]) if rng.random() < 0.25 else 0)
        self.collar = None
        if rng.random() < 0.5:
            self.collar = (self.D + 2 * rng.choice([3, 4, 5, 6, 8, 10]), rng.choice([2, 3, 4, 5, 6, 8]))
            if self.collar[1] >= self.L * 0.6:
                self.collar = (self.collar[0], max(2, round(self.L * 0.3)))
        self.ci = rng.choice([0.3, 0.5, 0.5, 1])
        self.co = rng.choice([0.5, 0.5, 1, 1.5])
        R0 = (self.collar[0] if self.collar else self.D) / 2
        self.R0 = R0
        self.secv = View("section", 0, -R0, self.L, R0, label="A-A" if rng.random() < 0.5 else None)
        self.endv = View("end", -R0, -R0, R0, R0)
        views = [self.secv, self.endv] if rng.random() < 0.6 else [self.endv, self.secv]
        if rng.random() < 0.15:
            views = [self.secv]
            self.endv = None
        self.grids = [[views]]
        if len(views) == 2:
            self.grids.append([[views[0]], [views[1]]])
        self.grid = self.grids[0]
        self.title = rng.choice(["BUSHING", "BEARING BUSH", "SLEEVE", "SPACER", "Buchse", "Lagerbuchse",
                                 "Distanzhuelse", "FLANGED BUSHING" if self.collar else "PLAIN BUSHING"])

    def profile(self, sgn):
        d, D, L, ci, co = self.d, self.D, self.L, self.ci, self.co
        R0 = self.R0
        pts = [(ci, d / 2), (0, d / 2 + ci), (0, R0 - co), (co, R0)]
        if self.collar:
            Lc = self.collar[1]
            pts += [(Lc, R0), (Lc, D / 2)]
        pts += [(L - co, D / 2), (L, D / 2 - co), (L, d / 2 + ci), (L - ci, d / 2)]
        return [(x, sgn * y) for x, y in pts]

    def draw(self, cv, st):
        ps = Pen(cv, st, self.secv)
        ang = self.rng.choice([45, 135])
        for sgn in (1, -1):
            prof = self.profile(sgn)
            ps.hatch([prof], [], angle=ang)
            ps.thick(prof, closed=True)
        ps.thick([(self.ci, self.d / 2), (self.ci, -self.d / 2)])
        ps.thick([(self.L - self.ci, self.d / 2), (self.L - self.ci, -self.d / 2)])
        ps.center((0, 0), (self.L, 0))
        if self.endv is not None:
            pe = Pen(cv, st, self.endv)
            pe.circle((0, 0), self.R0)
            if self.collar:
                pe.circle((0, 0), self.D / 2)
            pe.circle((0, 0), self.D / 2 - self.co)
            pe.circle((0, 0), self.d / 2 + self.ci)
            pe.circle((0, 0), self.d / 2)
            pe.center((-self.R0, 0), (self.R0, 0))
            pe.center((0, -self.R0), (0, self.R0))

    def annotate(self, ann):
        rng, st = self.rng, ann.st
        v = self.secv
        P = v.P
        d, D, L, R0 = self.d, self.D, self.L, self.R0
        ann.linear(P(L, D / 2), P(L, -D / 2), "v", 1, dimtext.diameter(rng, st, D, hole=False))
        spec = dimtext.diameter(rng, st, d, hole=True, force_tol="fit" if rng.random() < 0.5 else None)
        if not ann.across(P(L * 0.5, d / 2), P(L * 0.5, -d / 2), spec):
            ann.linear(P(L, d / 2), P(L, -d / 2), "v", 1, spec,
                       offsets=[st.dim_first + k * st.dim_step for k in (1, 2, 3)])
        ann.linear(P(0, -R0), P(L, -D / 2), "h", 1, dimtext.linear(rng, st, L, ref_rate=0.15))
        if self.collar:
            Dc, Lc = self.collar
            ann.linear(P(0, Dc / 2), P(0, -Dc / 2), "v", -1, dimtext.diameter(rng, st, Dc, allow_tol=False))
            ann.linear(P(0, Dc / 2), P(Lc, Dc / 2), "h", -1, dimtext.linear(rng, st, Lc))
        ann.leader(P(L - self.co / 2, D / 2 - self.co / 2), 45, dimtext.chamfer(rng, st, self.co))
        if rng.random() < 0.6:
            ann.leader(P(L - self.ci / 2, -d / 2 - self.ci / 2), -45, dimtext.chamfer(rng, st, self.ci))
        datums = []
        if ann.datum(P(L * 0.3 + (self.collar[1] if self.collar else 0), -D / 2), P(L * 0.9, -D / 2), (0, 1), "A"):
            datums.append("A")
        if rng.random() < 0.6:
            g = ann.make_gdt("cylindricity")
            ann.fcf_point(P(L * 0.6, d / 2), 60, g)
        if self.collar and datums and rng.random() < 0.7:
            Dc, Lc = self.collar
            g = ann.make_gdt("perpendicularity", datums=datums)
            ann.fcf_edge(P(Lc, D / 2), P(Lc, Dc / 2), (1, 0), g)
        if datums and rng.random() < 0.6:
            g = ann.make_gdt(rng.choice(["parallelism", "circular_runout", "concentricity"]), datums=datums)
            ann.fcf_edge(P(L, d / 2 + self.ci + 0.5), P(L, D / 2 - self.co - 0.5), (1, 0), g)
        ann.roughness(P(L * 0.3, D / 2), P(L * 0.9, D / 2), (0, -1))
        if rng.random() < 0.6:
            ann.roughness(P(L * 0.2, -d / 2), P(L * 0.8, -d / 2), (0, -1))
        if self.endv is not None and rng.random() < 0.3:
            pe = self.endv.P
            ann.circle_leader(pe(0, 0), d / 2 * self.endv.s,
                              dimtext.diameter(rng, st, d, hole=True, allow_tol=False, ref_rate=1.0))


PART_TYPES = [(Shaft, 3), (Plate, 3), (Flange, 2), (Bushing, 2)]
