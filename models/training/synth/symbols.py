"""GD&T feature control frames, datum boxes and surface-roughness symbols.

GD&T characteristic symbols are drawn as vector primitives (DejaVu lacks
most of them); they count as text (label 2), the frame boxes as dimension
(label 3).
"""

import math

from .canvas import DIM, TEXT, Sprite, arrow_poly
from .dimtext import box_anchors, fnum

# characteristic -> YOLO class name (None: drawn as distractor, no box)
GDT_CLASS = {
    "flatness": "flatness", "cylindricity": "cylindricity", "position": "position",
    "perpendicularity": "perpendicularity", "parallelism": "parallelism",
    "straightness": None, "circularity": None, "concentricity": None, "symmetry": None,
    "circular_runout": None, "total_runout": None, "profile_surface": None, "profile_line": None,
    "angularity": None,
}
NEEDS_DATUM = {"position", "perpendicularity", "parallelism", "concentricity", "symmetry",
               "circular_runout", "total_runout", "angularity"}


def draw_gdt_symbol(d, name, cx, cy, a, w):
    """Draw a characteristic symbol centred at (cx, cy), nominal size a."""
    L = lambda pts: d.line(pts, fill=255, width=w)

    def circ(r):
        d.ellipse([cx - r - w / 2, cy - r - w / 2, cx + r + w / 2, cy + r + w / 2], outline=255, width=w)
    if name == "flatness":
        pts = [(cx - 0.45 * a, cy + 0.2 * a), (cx + 0.25 * a, cy + 0.2 * a), (cx + 0.45 * a, cy - 0.2 * a),
               (cx - 0.25 * a, cy - 0.2 * a)]
        L(pts + [pts[0]])
    elif name == "cylindricity":
        r = 0.24 * a
        circ(r)
        ang = math.radians(62)
        ux, uy = math.cos(ang), -math.sin(ang)
        nx, ny = -uy, ux
        for s in (-1, 1):
            ox, oy = cx + s * nx * (r + w / 2), cy + s * ny * (r + w / 2)
            L([(ox - ux * 0.46 * a, oy - uy * 0.46 * a), (ox + ux * 0.46 * a, oy + uy * 0.46 * a)])
    elif name == "position":
        circ(0.24 * a)
        L([(cx - 0.42 * a, cy), (cx + 0.42 * a, cy)])
        L([(cx, cy - 0.42 * a), (cx, cy + 0.42 * a)])
    elif name == "perpendicularity":
        L([(cx, cy - 0.38 * a), (cx, cy + 0.32 * a)])
        L([(cx - 0.36 * a, cy + 0.32 * a), (cx + 0.36 * a, cy + 0.32 * a)])
    elif name == "parallelism":
        for dx in (-0.14, 0.14):
            L([(cx + (dx - 0.17) * a, cy + 0.36 * a), (cx + (dx + 0.17) * a, cy - 0.36 * a)])
    elif name == "angularity":
        L([(cx - 0.38 * a, cy + 0.3 * a), (cx + 0.4 * a, cy + 0.3 * a)])
        L([(cx - 0.38 * a, cy + 0.3 * a), (cx + 0.32 * a, cy - 0.3 * a)])
    elif name == "straightness":
        L([(cx - 0.4 * a, cy), (cx + 0.4 * a, cy)])
    elif name == "circularity":
        circ(0.32 * a)
    elif name == "concentricity":
        circ(0.14 * a)
        circ(0.34 * a)
    elif name == "symmetry":
        L([(cx - 0.4 * a, cy), (cx + 0.4 * a, cy)])
        L([(cx - 0.25 * a, cy - 0.22 * a), (cx + 0.25 * a, cy - 0.22 * a)])
        L([(cx - 0.25 * a, cy + 0.22 * a), (cx + 0.25 * a, cy + 0.22 * a)])
    elif name in ("circular_runout", "total_runout"):
        tip = (cx + 0.3 * a, cy - 0.38 * a)
        L([(cx - 0.3 * a, cy + 0.38 * a), tip])
        d.polygon(arrow_poly(tip, (0.6, -0.76), 0.3 * a, 0.1 * a), fill=255)
        if name == "total_runout":
            tip2 = (cx + 0.05 * a, cy - 0.38 * a)
            L([(cx - 0.55 * a, cy + 0.38 * a), tip2])
            d.polygon(arrow_poly(tip2, (0.6, -0.76), 0.3 * a, 0.1 * a), fill=255)
            L([(cx - 0.55 * a, cy + 0.38 * a), (cx - 0.3 * a, cy + 0.38 * a)])
    elif name in ("profile_surface", "profile_line"):
        r = 0.36 * a
        bb = [cx - r, cy - r * 0.6, cx + r, cy - r * 0.6 + 2 * r]
        d.arc(bb, 180, 360, fill=255, width=w)
        if name == "profile_surface":
            L([(cx - r, cy + 0.4 * r), (cx + r, cy + 0.4 * r)])


def circled_letter(sp, cx, cy, r, letter, font, w):
    d = sp.draw(TEXT)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=w)
    d.text((cx, cy), letter, font=font, fill=255, anchor="mm")


def fcf_sprite(st, g, rng):
    cap = st.cap
    hf = int(round(2 * cap * rng.uniform(1.0, 1.25)))
    f = st.font
    fs = st.font_small
    w = st.thin
    tw = max(1, int(round(cap * 0.09)))
    tol_txt = fnum(g["tolerance"], st)
    dia = st.dia_char if g["diameter_zone"] else ""
    mod_r = 0.55 * cap
    tol_w = f.getlength(dia + tol_txt) + (2 * mod_r + 0.35 * cap if g["modifier"] else 0) + 1.0 * cap
    cells = [hf, max(hf, tol_w)]
    for dl in g["datums"]:
        cells.append(max(hf * 0.95, f.getlength(dl) + 0.9 * cap))
    pad = 6 + w
    total = sum(cells)
    sp = Sprite(total + 2 * pad, hf + 2 * pad)
    x0, y0 = pad, pad
    dd = sp.draw(DIM)
    dd.rectangle([x0, y0, x0 + total, y0 + hf], outline=255, width=w)
    x = x0
    for cw in cells[:-1]:
        x += cw
        dd.line([(x, y0), (x, y0 + hf)], fill=255, width=w)
    cy = y0 + hf / 2
    draw_gdt_symbol(sp.draw(TEXT), g["characteristic"], x0 + cells[0] / 2, cy, hf * 0.62, tw)
    base = cy + cap / 2
    tx = x0 + cells[0] + 0.5 * cap
    sp.text(tx, base, dia + tol_txt, f)
    if g["modifier"]:
        mx = tx + f.getlength(dia + tol_txt) + 0.3 * cap + mod_r
        circled_letter(sp, mx, cy, mod_r, g["modifier"], fs, tw)
    x = x0 + cells[0] + cells[1]
    for dl, cw in zip(g["datums"], cells[2:]):
        sp.text(x + cw / 2, base, dl, f, anchor="ms")
        x += cw
    sp.finalize()
    box_anchors(sp)
    return sp


def datum_sprite(st, letter, rng):
    cap = st.cap
    a = int(round(2 * cap * rng.uniform(1.0, 1.2)))
    pad = 6 + st.thin
    sp = Sprite(a + 2 * pad, a + 2 * pad)
    sp.draw(DIM).rectangle([pad, pad, pad + a, pad + a], outline=255, width=st.thin)
    sp.text(pad + a / 2, pad + a / 2 + cap / 2, letter, st.font, anchor="ms")
    sp.finalize()
    box_anchors(sp)
    return sp


def roughness_sprite(st, spec, rng):
    cap = st.cap
    f = st.font
    w = st.thin
    H1 = 1.4 * cap
    H2 = 2.9 * cap
    t60 = math.tan(math.radians(60))
    tw = f.getlength(spec.main)
    pad = int(cap) + 4
    ax = pad + H1 / t60
    ay = pad + H2
    sp = Sprite(ax + H2 / t60 + tw + 2 * cap + pad, ay + pad)
    bar_y = ay - H2
    text_top = bar_y + 0.35 * cap
    lx = ax + (ay - text_top) / t60 + 0.4 * cap
    bar_end = lx + tw + 0.3 * cap
    d = sp.draw(DIM)
    d.line([(ax - H1 / t60, ay - H1), (ax, ay), (ax + H2 / t60, ay - H2), (bar_end, bar_y)],
           fill=255, width=w, joint="curve" if w > 2 else None)
    if rng.random() < 0.5:
        d.line([(ax - H1 / t60, ay - H1), (ax + H1 / t60, ay - H1)], fill=255, width=w)
    sp.text(lx, text_top + cap, spec.main, f)
    sp.anchors["apex"] = (ax, ay)
    sp.anchors["bar_end"] = (bar_end, bar_y)
    sp.finalize()
    box_anchors(sp)
    return sp
