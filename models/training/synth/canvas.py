"""Layered raster canvas: one 8-bit layer per label category.

Every primitive is drawn into exactly one of three layers (contour, text,
dimension).  The visible drawing is the union (pixel-wise max) of the layers,
the label map is derived from the same layers, so image and ground truth agree
by construction.  Text is anti-aliased, then every value below ``INK_T`` is
cleared, so "ink" is simply "any layer > 0".
"""

import math

from PIL import Image, ImageChops, ImageDraw

CONTOUR, TEXT, DIM = 1, 2, 3
CATS = (CONTOUR, TEXT, DIM)
INK_T = 64
_LUT = [0] * INK_T + list(range(INK_T, 256))


def threshold(im):
    return im.point(_LUT)


# --------------------------------------------------------------------------
# small vector helpers (points are (x, y) tuples in page pixels, y down)

def add(a, b):
    return (a[0] + b[0], a[1] + b[1])


def sub(a, b):
    return (a[0] - b[0], a[1] - b[1])


def mul(a, k):
    return (a[0] * k, a[1] * k)


def dist(a, b):
    return math.hypot(a[0] - b[0], a[1] - b[1])


def unit(a):
    n = math.hypot(a[0], a[1])
    return (a[0] / n, a[1] / n) if n else (1.0, 0.0)


def vdir(deg):
    """Unit vector for a visual angle (counter-clockwise, 0 = right)."""
    r = math.radians(deg)
    return (math.cos(r), -math.sin(r))


def vangle(v):
    return math.degrees(math.atan2(-v[1], v[0]))


def rect_union(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def rect_grow(r, m):
    return (r[0] - m, r[1] - m, r[2] + m, r[3] + m)


def rect_overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def rect_contains(outer, inner):
    return (inner[0] >= outer[0] and inner[1] >= outer[1]
            and inner[2] <= outer[2] and inner[3] <= outer[3])


def seg_hits_rect(p, q, r):
    """Liang-Barsky: does segment pq intersect rectangle r?"""
    x0, y0 = p
    dx, dy = q[0] - x0, q[1] - y0
    t0, t1 = 0.0, 1.0
    for pp, qq in ((-dx, x0 - r[0]), (dx, r[2] - x0), (-dy, y0 - r[1]), (dy, r[3] - y0)):
        if pp == 0:
            if qq < 0:
                return False
        else:
            t = qq / pp
            if pp < 0:
                if t > t1:
                    return False
                t0 = max(t0, t)
            else:
                if t < t0:
                    return False
                t1 = min(t1, t)
    return t0 <= t1


def arrow_poly(tip, direction, length, half_width):
    u = unit(direction)
    base = sub(tip, mul(u, length))
    n = (-u[1], u[0])
    return [tip, add(base, mul(n, half_width)), sub(base, mul(n, half_width))]


# --------------------------------------------------------------------------

class Sprite:
    """A small multi-layer image (text block, GD&T frame, symbol...)."""

    def __init__(self, w, h):
        self.w, self.h = int(math.ceil(w)), int(math.ceil(h))
        self.layers = {}
        self.anchors = {}
        self.pos = None  # (ox, oy) once pasted

    def im(self, cat):
        if cat not in self.layers:
            self.layers[cat] = Image.new("L", (self.w, self.h), 0)
        return self.layers[cat]

    def draw(self, cat):
        return ImageDraw.Draw(self.im(cat))

    def text(self, x, y, s, font, anchor="ls"):
        self.draw(TEXT).text((x, y), s, font=font, fill=255, anchor=anchor)

    def line(self, cat, pts, w):
        self.draw(cat).line([tuple(p) for p in pts], fill=255, width=max(1, int(w)))

    def finalize(self, pad=2):
        """Threshold, crop to the ink and move anchors accordingly."""
        box = None
        for cat in list(self.layers):
            self.layers[cat] = threshold(self.layers[cat])
            box = rect_union(box, self.layers[cat].getbbox())
        if box is None:
            return self
        x0 = max(0, box[0] - pad)
        y0 = max(0, box[1] - pad)
        x1 = min(self.w, box[2] + pad)
        y1 = min(self.h, box[3] + pad)
        for cat in list(self.layers):
            self.layers[cat] = self.layers[cat].crop((x0, y0, x1, y1))
        self.w, self.h = x1 - x0, y1 - y0
        self.anchors = {k: (v[0] - x0, v[1] - y0) for k, v in self.anchors.items()}
        return self

    def bbox(self, cats=CATS):
        box = None
        for cat in cats:
            if cat in self.layers:
                box = rect_union(box, self.layers[cat].getbbox())
        return box

    def rotated(self, ang):
        """Counter-clockwise rotation by ``ang`` degrees (visual)."""
        a = ang % 360.0
        if abs(a) < 1e-9:
            return self
        w, h = self.w, self.h
        out = Sprite(1, 1)
        exact = {90.0: Image.Transpose.ROTATE_90, 180.0: Image.Transpose.ROTATE_180,
                 270.0: Image.Transpose.ROTATE_270}
        key = round(a, 6)
        if key in exact:
            for cat, im in self.layers.items():
                out.layers[cat] = im.transpose(exact[key])
            if key == 90.0:
                fn = lambda p: (p[1], w - p[0])
                out.w, out.h = h, w
            elif key == 180.0:
                fn = lambda p: (w - p[0], h - p[1])
                out.w, out.h = w, h
            else:
                fn = lambda p: (h - p[1], p[0])
                out.w, out.h = h, w
        else:
            for cat, im in self.layers.items():
                out.layers[cat] = threshold(im.rotate(a, resample=Image.Resampling.BILINEAR, expand=True))
            any_im = next(iter(out.layers.values()))
            out.w, out.h = any_im.size
            ca, sa = math.cos(math.radians(a)), math.sin(math.radians(a))
            cx, cy, ncx, ncy = w / 2, h / 2, out.w / 2, out.h / 2

            def fn(p):
                dx, dy = p[0] - cx, p[1] - cy
                return (ncx + dx * ca + dy * sa, ncy - dx * sa + dy * ca)
        out.anchors = {k: fn(v) for k, v in self.anchors.items()}
        return out

    def placed_bbox(self, cats=CATS):
        b = self.bbox(cats)
        if b is None or self.pos is None:
            return None
        return (b[0] + self.pos[0], b[1] + self.pos[1], b[2] + self.pos[0], b[3] + self.pos[1])

    def offset_for(self, anchor, target):
        a = self.anchors[anchor]
        return (int(round(target[0] - a[0])), int(round(target[1] - a[1])))


class Plan:
    """Annotation geometry that is validated before it is drawn."""

    def __init__(self):
        self.segs = []     # (p, q, width, cat)
        self.attached = set()  # indices of segs that end on this plan's own sprite
        self.arcs = []     # (c, r, a0, a1, width, cat) visual degrees a0 < a1
        self.polys = []    # (pts, cat) filled
        self.sprites = []  # (sprite, ox, oy)

    def seg(self, p, q, w, cat=DIM, attached=False):
        if attached:
            self.attached.add(len(self.segs))
        self.segs.append((p, q, w, cat))

    def arrow(self, tip, direction, st, cat=DIM):
        self.polys.append((arrow_poly(tip, direction, st.arrow_len, st.arrow_hw), cat))

    def arc(self, c, r, a0, a1, w, cat=DIM):
        self.arcs.append((c, r, a0, a1, w, cat))

    def sprite(self, sp, off):
        self.sprites.append((sp, off[0], off[1]))

    def check_segments(self, own=False):
        """Segments to test; own=True leaves out those attached to the
        plan's own sprites (they touch them by design)."""
        out = [(p, q) for i, (p, q, _, _) in enumerate(self.segs) if not (own and i in self.attached)]
        for pts, _ in self.polys:
            for i in range(len(pts)):
                out.append((pts[i], pts[(i + 1) % len(pts)]))
        for c, r, a0, a1, _, _ in self.arcs:
            n = max(2, int((a1 - a0) / 10) + 1)
            prev = None
            for i in range(n + 1):
                p = add(c, mul(vdir(a0 + (a1 - a0) * i / n), r))
                if prev is not None:
                    out.append((prev, p))
                prev = p
        return out


class Canvas:
    def __init__(self, w, h, ppm):
        self.w, self.h, self.ppm = w, h, ppm
        self.layers = {c: Image.new("L", (w, h), 0) for c in CATS}
        self.draws = {c: ImageDraw.Draw(im) for c, im in self.layers.items()}
        self.reserved = []   # rects that no later line / sprite may touch
        self.keepout = []    # rects that annotations must stay out of
        self.area = (0, 0, w, h)

    # --- primitives ----------------------------------------------------------
    def line(self, cat, p, q, w):
        self.draws[cat].line([tuple(p), tuple(q)], fill=255, width=max(1, int(w)))

    def polyline(self, cat, pts, w):
        self.draws[cat].line([tuple(p) for p in pts], fill=255, width=max(1, int(w)),
                             joint="curve" if w > 2 else None)

    def polygon(self, cat, pts, w):
        pts = [tuple(p) for p in pts]
        self.polyline(cat, pts + [pts[0]], w)

    def fill_poly(self, cat, pts):
        self.draws[cat].polygon([tuple(p) for p in pts], fill=255)

    def circle(self, cat, c, r, w):
        w = max(1, int(w))
        rr = r + w / 2.0
        if rr < 1:
            return
        self.draws[cat].ellipse([c[0] - rr, c[1] - rr, c[0] + rr, c[1] + rr], outline=255, width=w)

    def arc(self, cat, c, r, a0, a1, w):
        """Arc from visual angle a0 to a1 (counter-clockwise, degrees)."""
        w = max(1, int(w))
        rr = r + w / 2.0
        if rr < 1:
            return
        self.draws[cat].arc([c[0] - rr, c[1] - rr, c[0] + rr, c[1] + rr], -a1, -a0, fill=255, width=w)

    def pattern_line(self, cat, p, q, w, pattern, centered=False):
        """pattern: list of (length, on).  centered=True fits a dash-dot line so
        that it starts and ends with a long dash."""
        L = dist(p, q)
        if L < 1:
            return
        u = unit(sub(q, p))
        if centered:
            long_ = pattern[0][0]
            rest = sum(l for l, _ in pattern[1:])
            k = max(2, int(round((L + rest) / (long_ + rest))))
            long2 = (L - (k - 1) * rest) / k
            if long2 < rest * 0.6:
                self.line(cat, p, q, w)
                return
            pattern = [(long2, True)] + list(pattern[1:])
        t, i = 0.0, 0
        while t < L - 1e-6:
            ln, on = pattern[i % len(pattern)]
            t2 = min(L, t + ln)
            if on:
                self.line(cat, add(p, mul(u, t)), add(p, mul(u, max(t2, t + 1))), w)
            t, i = t2, i + 1

    def pattern_circle(self, cat, c, r, w, pattern):
        circ = 2 * math.pi * r
        per = sum(l for l, _ in pattern)
        if circ < 2 * per or r < 3:
            self.circle(cat, c, r, w)
            return
        k = max(1, int(round(circ / per)))
        scale = 360.0 / (k * per)
        a = 0.0
        for _ in range(k):
            for ln, on in pattern:
                da = ln * scale
                if on:
                    self.arc(cat, c, r, a, a + max(da, 0.5), w)
                a += da

    def hatch(self, polys, holes, spacing, angle, w, cat=CONTOUR):
        """45/135 degree hatching clipped to union(polys) minus holes.
        polys/holes: lists of point lists, or ('circle', c, r)."""
        pts = [p for poly in polys for p in (poly if poly[0] != "circle" else
               [(poly[1][0] - poly[2], poly[1][1] - poly[2]), (poly[1][0] + poly[2], poly[1][1] + poly[2])])]
        x0 = int(math.floor(min(p[0] for p in pts))) - 2
        y0 = int(math.floor(min(p[1] for p in pts))) - 2
        x1 = int(math.ceil(max(p[0] for p in pts))) + 3
        y1 = int(math.ceil(max(p[1] for p in pts))) + 3
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(self.w, x1), min(self.h, y1)
        bw, bh = x1 - x0, y1 - y0
        if bw < 2 or bh < 2:
            return
        mask = Image.new("L", (bw, bh), 0)
        md = ImageDraw.Draw(mask)

        def shape(d, poly, fill):
            if poly[0] == "circle":
                c, r = poly[1], poly[2]
                d.ellipse([c[0] - r - x0, c[1] - r - y0, c[0] + r - x0, c[1] + r - y0], fill=fill)
            else:
                d.polygon([(p[0] - x0, p[1] - y0) for p in poly], fill=fill)
        for poly in polys:
            shape(md, poly, 255)
        for hole in holes:
            shape(md, hole, 0)
        hat = Image.new("L", (bw, bh), 0)
        hd = ImageDraw.Draw(hat)
        step = spacing * math.sqrt(2)
        w = max(1, int(w))
        if angle == 45:
            k = (x0 + y0) % step
            c = -k
            while c < bw + bh + step:
                hd.line([(c, 0), (c - bh - 2, bh + 2)], fill=255, width=w)
                c += step
        else:
            k = (x0 - y0) % step
            c = -k - step * math.ceil((bh + 2) / step)
            while c < bw + step:
                hd.line([(c, 0), (c + bh + 2, bh + 2)], fill=255, width=w)
                c += step
        clipped = ImageChops.darker(hat, mask)
        region = self.layers[cat].crop((x0, y0, x1, y1))
        self.layers[cat].paste(ImageChops.lighter(region, clipped), (x0, y0))

    # --- sprites / plans -----------------------------------------------------
    def paste(self, sp, ox, oy):
        sp.pos = (ox, oy)
        for cat, im in sp.layers.items():
            x0, y0 = max(0, ox), max(0, oy)
            x1, y1 = min(self.w, ox + sp.w), min(self.h, oy + sp.h)
            if x1 <= x0 or y1 <= y0:
                continue
            src = im.crop((x0 - ox, y0 - oy, x1 - ox, y1 - oy))
            region = self.layers[cat].crop((x0, y0, x1, y1))
            self.layers[cat].paste(ImageChops.lighter(region, src), (x0, y0))

    def region_free(self, r):
        x0, y0 = max(0, int(r[0])), max(0, int(r[1]))
        x1, y1 = min(self.w, int(math.ceil(r[2]))), min(self.h, int(math.ceil(r[3])))
        if x1 <= x0 or y1 <= y0:
            return False
        for im in self.layers.values():
            if im.crop((x0, y0, x1, y1)).getbbox() is not None:
                return False
        return True

    def in_area(self, r):
        if not rect_contains(self.area, r):
            return False
        return not any(rect_overlap(r, k) for k in self.keepout)

    def point_ok(self, p):
        a = self.area
        if not (a[0] <= p[0] <= a[2] and a[1] <= p[1] <= a[3]):
            return False
        return not any(k[0] <= p[0] <= k[2] and k[1] <= p[1] <= k[3] for k in self.keepout)

    def plan_ok(self, plan, margin):
        segs = plan.check_segments()
        for p, q in segs:
            if not (self.point_ok(p) and self.point_ok(q)):
                return False
            for k in self.keepout:
                if seg_hits_rect(p, q, k):
                    return False
        own = []
        for sp, ox, oy in plan.sprites:
            b = sp.bbox()
            if b is None:
                continue
            r = (b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy)
            rg = rect_grow(r, margin)
            if not self.in_area(rg):
                return False
            if any(rect_overlap(rg, o) for o in self.reserved):
                return False
            if any(rect_overlap(rg, o) for o in own):
                return False
            if not self.region_free(rg):
                return False
            own.append(r)
        for p, q in segs:
            for r in self.reserved:
                if seg_hits_rect(p, q, r):
                    return False
        for p, q in plan.check_segments(own=True):
            for r in own:
                if seg_hits_rect(p, q, rect_grow(r, 1)):
                    return False
        return True

    def commit(self, plan, margin):
        for p, q, w, cat in plan.segs:
            self.line(cat, p, q, w)
        for c, r, a0, a1, w, cat in plan.arcs:
            self.arc(cat, c, r, a0, a1, w)
        for pts, cat in plan.polys:
            self.fill_poly(cat, pts)
        for sp, ox, oy in plan.sprites:
            self.paste(sp, ox, oy)
            b = sp.placed_bbox()
            if b is not None:
                self.reserved.append(rect_grow(b, max(1, margin // 2)))

    def try_plan(self, plan, margin):
        if self.plan_ok(plan, margin):
            self.commit(plan, margin)
            return True
        return False
