"""Dimension / leader / GD&T / datum / roughness placement.

Each annotation is built as a ``Plan`` and only drawn when it fits: its
text sprites must land on empty paper inside the drawing area, and none of
its lines may cross a text placed earlier.  Placement is therefore greedy;
an annotation that finds no room is skipped (and so never appears in the
ground truth).
"""

import math

from .canvas import DIM, Plan, add, dist, mul, sub, unit, vangle, vdir
from . import dimtext
from .symbols import GDT_CLASS, datum_sprite, fcf_sprite, roughness_sprite


def _norm_text_angle(theta):
    while theta > 90.0 + 1e-9:
        theta -= 180.0
    while theta <= -90.0 + 1e-9:
        theta += 180.0
    return theta


def _up(theta):
    r = math.radians(theta)
    return (-math.sin(r), -math.cos(r))


class Annotator:
    def __init__(self, cv, st, rng):
        self.cv, self.st, self.rng = cv, st, rng
        self.dims = []    # (spec, sprite, angle)
        self.gdts = []    # (gdt dict, sprite)
        self.datums = []  # (letter, sprite)
        self.roughs = []  # (spec, sprite)
        self.used_datums = []

    # ------------------------------------------------------------------ util
    def mm(self, v):
        return v * self.st.ppm

    def _commit(self, plan):
        return self.cv.try_plan(plan, self.st.margin)

    def _text_for(self, spec, theta):
        sp = dimtext.text_sprite(self.st, spec)
        return sp, sp.rotated(theta)

    # ---------------------------------------------------------------- linear
    def linear(self, p1, p2, orient, side, spec, offsets=None, modes=None, levels=4):
        """Linear dimension between feature points p1, p2 (page px).
        orient: 'h' (horizontal distance), 'v' (vertical distance), 'a'
        (aligned with p1->p2).  side: +1/-1 picks the side of the dimension
        line (for 'h': +1 below, for 'v': +1 right, for 'a': left normal).
        offsets: distances of the dimension line from the outermost point
        (0 = dimension line through p1 and p2 themselves, no extension lines).
        """
        st = self.st
        if offsets is None:
            offsets = [st.dim_first + k * st.dim_step for k in range(levels)]
        if orient == "h":
            n = (0.0, float(side))
        elif orient == "v":
            n = (float(side), 0.0)
        else:
            u = unit(sub(p2, p1))
            n = (u[1] * side, -u[0] * side)
        if modes is None:
            modes = ["center", "out+", "out-"]
        sp0 = None
        for off in offsets:
            if orient in ("h", "v"):
                c = max(p1[0] * n[0] + p1[1] * n[1], p2[0] * n[0] + p2[1] * n[1]) + off
                A = add(p1, mul(n, c - (p1[0] * n[0] + p1[1] * n[1])))
                B = add(p2, mul(n, c - (p2[0] * n[0] + p2[1] * n[1])))
            else:
                A, B = add(p1, mul(n, off)), add(p2, mul(n, off))
            if dist(A, B) < 2:
                return False
            exts = []
            if off > 0:
                for p, q in ((p1, A), (p2, B)):
                    depth = (q[0] - p[0]) * n[0] + (q[1] - p[1]) * n[1]
                    if depth > st.ext_gap + 2:
                        exts.append((add(p, mul(n, st.ext_gap)), add(q, mul(n, st.ext_over))))
            d = unit(sub(B, A))
            theta = _norm_text_angle(vangle(d))
            if sp0 is None:
                sp0, sp = self._text_for(spec, theta)
            oblique = min(abs(theta), abs(abs(theta) - 90)) > 0.5
            for mode in (["break", "tail+", "tail-"] if oblique else modes):
                plan = self._linear_plan(A, B, d, theta, exts, sp0, sp, mode)
                if plan is not None and self._commit(plan):
                    self.dims.append((spec, sp, theta))
                    return True
        return False

    def _linear_plan(self, A, B, d, theta, exts, sp0, sp, mode):
        st = self.st
        up = _up(theta)
        L = dist(A, B)
        tl = sp0.w
        inside = L >= 2.4 * st.arrow_len
        plan = Plan()
        for p, q in exts:
            plan.seg(p, q, st.thin)
        a_out = st.arrow_len * 1.8
        lineA, lineB = A, B
        if inside:
            plan.arrow(A, mul(d, -1), st)
            plan.arrow(B, d, st)
        else:
            plan.arrow(A, d, st)
            plan.arrow(B, mul(d, -1), st)
            lineA, lineB = sub(A, mul(d, a_out)), add(B, mul(d, a_out))
        M = mul(add(A, B), 0.5)
        if mode == "break":
            # oblique text sits in a gap of the dimension line; the gap is
            # long enough that no line pixel enters the text's axis-aligned box
            half = tl / 2 + sp0.h / 2 + st.text_gap
            if L < 2 * half + 2.4 * st.arrow_len:
                return None
            plan.seg(lineA, sub(M, mul(d, half)), st.thin)
            plan.seg(add(M, mul(d, half)), lineB, st.thin)
            plan.sprite(sp, sp.offset_for("c", M))
            return plan
        if mode in ("tail+", "tail-"):
            # oblique text on the dimension line's axis, beyond one end
            half = tl / 2 + sp0.h / 2 + st.text_gap
            run = st.arrow_len * 2.0
            if mode == "tail+":
                plan.seg(lineA, add(B, mul(d, run)), st.thin)
                C = add(B, mul(d, run + half))
            else:
                plan.seg(sub(A, mul(d, run)), lineB, st.thin)
                C = sub(A, mul(d, run + half))
            plan.sprite(sp, sp.offset_for("c", C))
            return plan
        if mode == "center":
            if not inside and tl > L:
                return None
            T = M
        elif mode in ("shift+", "shift-"):
            s = 1 if mode == "shift+" else -1
            T = add(M, mul(d, s * (tl / 2 + 2 * st.text_gap)))
            if tl / 2 + 2 * st.text_gap + tl / 2 > L / 2:
                return None
        elif mode == "out+":
            start = (a_out if not inside else st.arrow_len * 0.5) + st.text_gap
            T = add(B, mul(d, start + tl / 2))
            lineB = add(B, mul(d, start + tl + st.text_gap))
        else:
            start = (a_out if not inside else st.arrow_len * 0.5) + st.text_gap
            T = sub(A, mul(d, start + tl / 2))
            lineA = sub(A, mul(d, start + tl + st.text_gap))
        plan.seg(lineA, lineB, st.thin)
        target = add(T, mul(up, st.text_gap))
        plan.sprite(sp, sp.offset_for("bc", target))
        return plan

    def across(self, p1, p2, spec):
        """Dimension line directly between two outline points (e.g. a
        diameter drawn across a shaft), text beside it."""
        return self.linear(p1, p2, "a", 1, spec, offsets=[0],
                           modes=["shift+", "shift-", "out-", "out+", "center"])

    # --------------------------------------------------------------- leaders
    def _leader_plan(self, T, dvec, L, sp, arrow=True, shoulder=True):
        st = self.st
        K = add(T, mul(dvec, L))
        plan = Plan()
        plan.seg(T, K, st.thin)
        if arrow:
            plan.arrow(T, mul(dvec, -1), st)
        sgn = 1 if dvec[0] >= -1e-6 else -1
        if shoulder:
            S = add(K, (sgn * (sp.w + st.text_gap), 0))
            plan.seg(K, S, st.thin)
            target = add(mul(add(K, S), 0.5), (0, -st.text_gap))
            plan.sprite(sp, sp.offset_for("bc", target))
        else:
            plan.sprite(sp, sp.offset_for("lc" if sgn > 0 else "rc", add(K, (sgn * st.text_gap, 0))))
        return plan

    def leader(self, T, pref_angle, spec, spreads=(0, 20, -20, 40, -40, 60, -60), lengths=(7, 11, 16, 23)):
        """Leader from feature point T (arrow at T) to a horizontal shoulder
        carrying the text."""
        sp = dimtext.text_sprite(self.st, spec)
        for L in lengths:
            for s in spreads:
                dvec = vdir(pref_angle + s)
                plan = self._leader_plan(T, dvec, self.mm(L), sp)
                if self._commit(plan):
                    self.dims.append((spec, sp, 0.0))
                    return True
        return False

    def circle_leader(self, c, r, spec, angles=None, lengths=(6, 10, 15, 22)):
        if angles is None:
            base = self.rng.choice([45, 135, 30, 150, -45, -135])
            angles = [base + k for k in (0, 15, -15, 30, -30, 90, -90, 180, 60, -60, 120, -120)]
        sp = dimtext.text_sprite(self.st, spec)
        for L in lengths:
            for a in angles:
                dvec = vdir(a)
                T = add(c, mul(dvec, r))
                plan = self._leader_plan(T, dvec, self.mm(L), sp)
                if self._commit(plan):
                    self.dims.append((spec, sp, 0.0))
                    return True
        return False

    def circle_through(self, c, r, spec, angles=None, lengths=(5, 9, 14), aligned=False):
        """Diameter: line through the centre, arrows on the circle, text on a
        shoulder outside (or, aligned=True, rotated along the line)."""
        st = self.st
        if angles is None:
            base = self.rng.choice([30, 45, 60, 120, 135, 150])
            angles = [base + k for k in (0, 10, -10, 20, -20, 180, 190, 170)]
        sp = dimtext.text_sprite(st, spec)
        for L in lengths:
            for a in angles:
                dvec = vdir(a)
                T1 = sub(c, mul(dvec, r))
                T2 = add(c, mul(dvec, r))
                plan = Plan()
                plan.arrow(T1, mul(dvec, -1), st)
                plan.arrow(T2, dvec, st)
                if aligned:
                    theta = _norm_text_angle(vangle(dvec))
                    spr = sp.rotated(theta)
                    start = self.mm(L * 0.5)
                    half = sp.w / 2 + sp.h / 2 + st.text_gap
                    plan.seg(T1, add(T2, mul(dvec, start)), st.thin)
                    plan.sprite(spr, spr.offset_for("c", add(T2, mul(dvec, start + half))))
                else:
                    theta, spr = 0.0, sp
                    K = add(T2, mul(dvec, self.mm(L)))
                    plan.seg(T1, K, st.thin)
                    sgn = 1 if dvec[0] >= 0 else -1
                    S = add(K, (sgn * (sp.w + st.text_gap), 0))
                    plan.seg(K, S, st.thin)
                    plan.sprite(sp, sp.offset_for("bc", add(mul(add(K, S), 0.5), (0, -st.text_gap))))
                if self._commit(plan):
                    self.dims.append((spec, spr, theta))
                    return True
        return False

    def radius_center(self, c, r, a, spec):
        """Radius line from the centre to the arc, arrow at the arc, text
        aligned with the line (rotated)."""
        st = self.st
        for da in (0, 10, -10, 20, -20):
            dvec = vdir(a + da)
            T = add(c, mul(dvec, r))
            theta = _norm_text_angle(vangle(dvec))
            sp0, sp = self._text_for(spec, theta)
            half = sp0.w / 2 + sp0.h / 2 + st.text_gap
            if 2 * half + 2 * st.arrow_len > r * 0.95:
                return False
            M = add(c, mul(dvec, r * 0.5 - st.arrow_len * 0.5))
            plan = Plan()
            plan.seg(c, sub(M, mul(dvec, half)), st.thin)
            plan.seg(add(M, mul(dvec, half)), T, st.thin)
            plan.arrow(T, dvec, st)
            plan.sprite(sp, sp.offset_for("c", M))
            if self._commit(plan):
                self.dims.append((spec, sp, theta))
                return True
        return False

    # --------------------------------------------------------------- angular
    def angular(self, V, a1, a2, spec, radii, ext_from=(0, 0)):
        st = self.st
        if a2 < a1:
            a1, a2 = a2, a1
        sp = dimtext.text_sprite(st, spec)
        am = (a1 + a2) / 2
        dm = vdir(am)
        for rho in radii:
            arc_len = math.radians(a2 - a1) * rho
            if arc_len < 2.6 * st.arrow_len:
                continue
            plan = Plan()
            for a, e in ((a1, ext_from[0]), (a2, ext_from[1])):
                if e + st.ext_gap < rho:
                    dv = vdir(a)
                    plan.seg(add(V, mul(dv, e + st.ext_gap)), add(V, mul(dv, rho + st.ext_over)), st.thin)
            plan.arc(V, rho, a1, a2, st.thin)
            r1, r2 = math.radians(a1), math.radians(a2)
            plan.arrow(add(V, mul(vdir(a1), rho)), (math.sin(r1), math.cos(r1)), st)
            plan.arrow(add(V, mul(vdir(a2), rho)), (-math.sin(r2), -math.cos(r2)), st)
            ext = abs(dm[0]) * sp.w / 2 + abs(dm[1]) * sp.h / 2
            C = add(V, mul(dm, rho + st.text_gap + ext))
            plan.sprite(sp, sp.offset_for("c", C))
            if self._commit(plan):
                self.dims.append((spec, sp, 0.0))
                return True
        return False

    # ------------------------------------------------------------------ GD&T
    def make_gdt(self, characteristic, datums=None, diameter_zone=None, modifier=None):
        rng = self.rng
        tol = rng.choice([0.005, 0.01, 0.02, 0.02, 0.03, 0.05, 0.05, 0.1, 0.1, 0.2, 0.3])
        if characteristic == "position":
            tol = rng.choice([0.05, 0.1, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5])
            if diameter_zone is None:
                diameter_zone = rng.random() < 0.85
            if modifier is None and rng.random() < 0.45:
                modifier = rng.choice(["M", "M", "L"])
        if diameter_zone is None:
            diameter_zone = characteristic in ("perpendicularity", "parallelism", "concentricity") and \
                rng.random() < 0.3
        return {"characteristic": characteristic, "tolerance": tol, "diameter_zone": bool(diameter_zone),
                "modifier": modifier or None, "datums": list(datums or [])}

    def _fcf_try(self, T, angles, g, sp, lengths=(9, 14, 20, 28, 38)):
        st = self.st
        for L in lengths:
            for a in angles:
                dvec = vdir(a)
                K = add(T, mul(dvec, self.mm(L)))
                plan = Plan()
                plan.seg(T, K, st.thin, attached=abs(dvec[0]) < 0.35)
                plan.arrow(T, mul(dvec, -1), st)
                if abs(dvec[0]) >= 0.35:
                    sgn = 1 if dvec[0] > 0 else -1
                    K2 = add(K, (sgn * self.mm(3), 0))
                    plan.seg(K, K2, st.thin, attached=True)
                    plan.sprite(sp, sp.offset_for("lc" if sgn > 0 else "rc", K2))
                else:
                    plan.sprite(sp, sp.offset_for("bc" if dvec[1] < 0 else "tc", K))
                if self._commit(plan):
                    self.gdts.append((g, sp))
                    return True
        return False

    def fcf_point(self, T, pref_angle, g, spreads=(0, 25, -25, 50, -50, 75, -75)):
        sp = fcf_sprite(self.st, g, self.rng)
        return self._fcf_try(T, [pref_angle + s for s in spreads], g, sp)

    def fcf_edge(self, P, Q, n, g):
        sp = fcf_sprite(self.st, g, self.rng)
        base = vangle(n)
        for t in (0.5, 0.3, 0.7, 0.15, 0.85):
            T = add(P, mul(sub(Q, P), t))
            if self._fcf_try(T, [base + s for s in (0, 30, -30, 55, -55)], g, sp, lengths=(9, 15, 24)):
                return True
        return False

    def fcf_circle(self, c, r, g):
        sp = fcf_sprite(self.st, g, self.rng)
        base = self.rng.choice([45, 135, -45, -135, 60, 120])
        for a in [base + k for k in (0, 20, -20, 45, -45, 90, -90, 180)]:
            T = add(c, mul(vdir(a), r))
            if self._fcf_try(T, [a], g, sp, lengths=(8, 14, 22)):
                return True
        return False

    # ----------------------------------------------------------------- datum
    def datum(self, P, Q, n, letter):
        st = self.st
        sp = datum_sprite(st, letter, self.rng)
        along = unit(sub(Q, P))
        bw, th = 0.6 * st.cap, 1.0 * st.cap
        anchor = {(0, -1): "bc", (0, 1): "tc", (-1, 0): "rc", (1, 0): "lc"}[(int(round(n[0])), int(round(n[1])))]
        for t in (0.5, 0.3, 0.7, 0.15, 0.85):
            T = add(P, mul(sub(Q, P), t))
            for Lc in (4, 7, 11):
                apex = add(T, mul(n, th))
                plan = Plan()
                plan.polys.append(([add(T, mul(along, bw)), sub(T, mul(along, bw)), apex], DIM))
                K = add(apex, mul(n, self.mm(Lc)))
                plan.seg(apex, K, st.thin, attached=True)
                plan.sprite(sp, sp.offset_for(anchor, K))
                if self._commit(plan):
                    self.datums.append((letter, sp))
                    return True
        return False

    # ------------------------------------------------------------- roughness
    def roughness(self, P, Q, n, spec=None):
        st = self.st
        spec = spec or dimtext.roughness(self.rng, st)
        sp0 = roughness_sprite(st, spec, self.rng)
        gapA = st.thick / 2 + st.margin + 2
        key = (int(round(n[0])), int(round(n[1])))
        for t in (0.5, 0.3, 0.7, 0.2, 0.8):
            T = add(P, mul(sub(Q, P), t))
            if key in ((0, -1), (-1, 0)):
                sp = sp0 if key == (0, -1) else sp0.rotated(90)
                plan = Plan()
                plan.sprite(sp, sp.offset_for("apex", add(T, mul(n, gapA))))
                if self._commit(plan):
                    self.roughs.append((spec, sp))
                    return True
        # leader variant
        for t in (0.5, 0.3, 0.7):
            T = add(P, mul(sub(Q, P), t))
            for L in (8, 13, 20):
                for s in (0, 30, -30):
                    dvec = vdir(vangle(n) + s)
                    K = add(T, mul(dvec, self.mm(L)))
                    sgn = 1 if dvec[0] >= -1e-6 else -1
                    w = sp0.w
                    S = add(K, (sgn * w * 0.8, 0))
                    plan = Plan()
                    plan.seg(T, K, st.thin)
                    plan.seg(K, S, st.thin)
                    plan.arrow(T, mul(dvec, -1), st)
                    apex = add(mul(add(K, S), 0.5), (0, -gapA))
                    plan.sprite(sp0, sp0.offset_for("apex", apex))
                    if self._commit(plan):
                        self.roughs.append((spec, sp0))
                        return True
        return False

    # ------------------------------------------------------------ json rows
    def records(self):
        from .dimtext import class_name_for
        dims = []
        for spec, sp, theta in self.dims:
            row = spec.json()
            row["bbox"] = list(sp.placed_bbox((2,)))
            row["angle_deg"] = round(theta, 3) + 0.0
            row["class_name"] = class_name_for(spec)
            row["cap_px"] = round(self.st.cap, 2)
            dims.append(row)
        for spec, sp in self.roughs:
            row = spec.json()
            row["bbox"] = list(sp.placed_bbox((2,)))
            row["angle_deg"] = 90.0 if sp.h > sp.w * 1.2 else 0.0
            row["class_name"] = "surface_roughness"
            row["symbol_bbox"] = list(sp.placed_bbox())
            row["cap_px"] = round(self.st.cap, 2)
            dims.append(row)
        gdt = []
        for g, sp in self.gdts:
            row = dict(g)
            row["tolerance"] = round(g["tolerance"], 4)
            row["bbox"] = list(sp.placed_bbox((1, 3)) or sp.placed_bbox())
            row["text_bbox"] = list(sp.placed_bbox((2,)))
            row["class_name"] = GDT_CLASS.get(g["characteristic"])
            gdt.append(row)
        datums = [{"letter": l, "bbox": list(sp.placed_bbox())} for l, sp in self.datums]
        return dims, gdt, datums
