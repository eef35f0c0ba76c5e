"""Render one drawing: image, label map and ground-truth record."""

import io
import json
import math
import os
import random

import numpy as np
from PIL import Image, ImageFilter

from .annotate import Annotator
from .canvas import CONTOUR, DIM, TEXT, Canvas, Plan, rect_grow, threshold
from .dimtext import plain_text_sprite
from .page import TitleBlock, draw_frame, layout, place_notes, revision_table
from .parts import PART_TYPES
from .style import Style, weighted

CLASS_NAMES = ["diameter_dim", "linear_dim", "radius_dim", "angular_dim", "chamfer_dim", "tolerance_dim",
               "reference_dim", "flatness", "cylindricity", "position", "perpendicularity", "parallelism",
               "surface_roughness", "text_block"]
CLASS_ID = {n: i for i, n in enumerate(CLASS_NAMES)}
LABELS = {0: "background", 1: "contour", 2: "text", 3: "dimension"}


def drawing_seed(seed, index):
    return seed * 100003 + index


# --------------------------------------------------------------------------
def _build(seed):
    rng = random.Random(seed)
    st = Style(rng)
    cv = Canvas(st.W, st.H, st.ppm)
    mm = st.ppm
    inner, zones = draw_frame(cv, st, rng)
    part_cls = weighted(rng, PART_TYPES)
    part = part_cls(rng, st)
    tb = TitleBlock(st, rng, inner, part.title)
    rev = None
    if rng.random() < 0.3 and (inner[2] - inner[0]) > 250 * mm:
        rev = revision_table(cv, st, rng, inner)
    cv.area = (inner[0] + 1.5 * mm, inner[1] + 1.5 * mm, inner[2] - 1.5 * mm, inner[3] - 1.5 * mm)
    cv.keepout = [rect_grow(tb.rect, 1.5 * mm)]
    top = cv.area[1]
    if rev:
        cv.keepout.append(rect_grow(rev[0], 1.5 * mm))
        top = rev[0][3] + 2 * mm
    views_area = (cv.area[0], top, cv.area[2], tb.rect[1] - 2 * mm)
    k, scale_label = layout(part, st, rng, views_area)
    tb.values["scale"] = scale_label
    tb.draw(cv)
    views = [v for row in part.grid for v in row if v]
    M = st.dim_first + 2 * st.dim_step
    for v in views:
        if v.label:
            txt = rng.choice([v.label, f"SECTION {v.label}", f"SCHNITT {v.label}"] if not st.german
                             else [v.label, f"Schnitt {v.label}"])
            sp = plain_text_sprite([txt], st.font, st.cap * 1.6)
            b = v.page_bbox()
            plan = Plan()
            plan.sprite(sp, sp.offset_for("c", ((b[0] + b[2]) / 2, b[1] - M - st.cap)))
            cv.try_plan(plan, st.margin)
    part.draw(cv, st)
    ann = Annotator(cv, st, rng)
    part.annotate(ann)
    notes = []
    n_notes = 1 if rng.random() < 0.85 else 0
    if n_notes and rng.random() < 0.25:
        n_notes = 2
    for _ in range(n_notes):
        nb = place_notes(cv, st, rng, tb.rect)
        if nb:
            notes.append(nb)
    dims, gdt, datums = ann.records()
    meta = {
        "width": st.W, "height": st.H, "dpi": st.dpi, "seed": seed,
        "paper": st.paper, "orientation": st.orientation, "scale": scale_label, "part_type": part.kind,
        "font": os.path.basename(st.font_path), "text_cap_px": round(st.cap, 2),
        "line_px": {"thin": st.thin, "thick": st.thick},
        "classes": CLASS_NAMES, "label_values": {str(k): v for k, v in LABELS.items()},
        "bbox_convention": "[x0, y0, x1, y1] pixels, x1/y1 exclusive",
        "dimensions": dims, "gdt": gdt, "datums": datums, "notes": notes,
        "title_block": tb.json(), "materials": [tb.values["material"]],
        "revision_table": {"bbox": [int(v) for v in rev[0]], "rows": rev[1]} if rev else None,
        "views": [{"name": v.name, "label": v.label, "bbox": v.page_bbox()} for v in views],
        "zones": zones,
    }
    return st, cv, meta, rng


# --------------------------------------------------------------------------
def _tight(mask, box, W, H):
    x0, y0 = max(0, int(math.floor(box[0]))), max(0, int(math.floor(box[1])))
    x1, y1 = min(W, int(math.ceil(box[2]))), min(H, int(math.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return None
    sub = mask[y0:y1, x0:x1]
    rows = np.flatnonzero(sub.any(axis=1))
    cols = np.flatnonzero(sub.any(axis=0))
    if rows.size == 0:
        return None
    return [int(x0 + cols[0]), int(y0 + rows[0]), int(x0 + cols[-1] + 1), int(y0 + rows[-1] + 1)]


def _rot_box(box, fn):
    pts = [fn((box[0], box[1])), fn((box[2], box[1])), fn((box[0], box[3])), fn((box[2], box[3]))]
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return [min(xs) - 2, min(ys) - 2, max(xs) + 2, max(ys) + 2]


def _retarget_boxes(meta, fn, text_mask, ink_mask, W, H):
    """After a geometric transform: move every box and tighten it on the
    pixels of its own category."""
    def fix(d, key, mask):
        if d.get(key):
            b = _tight(mask, _rot_box(d[key], fn), W, H)
            d[key] = b
    for d in meta["dimensions"]:
        fix(d, "bbox", text_mask)
        fix(d, "symbol_bbox", ink_mask)
    for g in meta["gdt"]:
        fix(g, "bbox", ink_mask)
        fix(g, "text_bbox", text_mask)
    for d in meta["datums"]:
        fix(d, "bbox", ink_mask)
    for n in meta["notes"]:
        fix(n, "bbox", text_mask)
    tb = meta["title_block"]
    fix(tb, "bbox", ink_mask)
    for c in tb["cells"]:
        fix(c, "label_bbox", text_mask)
        fix(c, "value_bbox", text_mask)
    if meta["revision_table"]:
        fix(meta["revision_table"], "bbox", ink_mask)
    for v in meta["views"]:
        v["bbox"] = [int(round(x)) for x in _rot_box(v["bbox"], fn)]


def _pad_clip(b, p, W, H):
    return [max(0, int(math.floor(b[0] - p))), max(0, int(math.floor(b[1] - p))),
            min(W, int(math.ceil(b[2] + p))), min(H, int(math.ceil(b[3] + p)))]


def _objects(meta, W, H):
    objs = []

    def add(name, b, source, ref):
        if b is None:
            return
        if b[2] - b[0] < 1 or b[3] - b[1] < 1:
            return
        objs.append({"class_id": CLASS_ID[name], "class_name": name, "bbox": b, "source": source, "ref": ref})
    for i, d in enumerate(meta["dimensions"]):
        if d["bbox"] is None:
            continue
        if d["kind"] == "roughness":
            add("surface_roughness", _pad_clip(d["symbol_bbox"], 0.1 * d["cap_px"], W, H), "roughness", i)
        else:
            add(d["class_name"], _pad_clip(d["bbox"], 0.15 * d["cap_px"], W, H), "dimension", i)
    for i, g in enumerate(meta["gdt"]):
        if g["class_name"] and g["bbox"]:
            add(g["class_name"], _pad_clip(g["bbox"], 2, W, H), "gdt", i)
    for i, n in enumerate(meta["notes"]):
        if n["bbox"]:
            add("text_block", _pad_clip(n["bbox"], 0.3 * meta["text_cap_px"], W, H), "notes", i)
    if meta["title_block"]["bbox"]:
        add("text_block", _pad_clip(meta["title_block"]["bbox"], 2, W, H), "title_block", 0)
    if meta["revision_table"] and meta["revision_table"]["bbox"]:
        add("text_block", _pad_clip(meta["revision_table"]["bbox"], 2, W, H), "revision_table", 0)
    return objs


def render(seed, degrade=True):
    """Returns (image uint8 HxW, labels uint8 HxW, meta dict, clean uint8 HxW).
    ``clean`` is the image before photometric degradation (after the
    optional rotation), i.e. the image the label map describes exactly."""
    st, cv, meta, rng = _build(seed)
    W, H = st.W, st.H
    deg = {"applied": False}
    scan = degrade and rng.random() < 0.55
    layers = cv.layers
    if scan and rng.random() < 0.4:
        ang = rng.uniform(-0.5, 0.5)
        deg["rotation_deg"] = round(ang, 4)
        layers = {c: threshold(im.rotate(ang, resample=Image.Resampling.BILINEAR, fillcolor=0))
                  for c, im in layers.items()}
    c = np.asarray(layers[CONTOUR])
    t = np.asarray(layers[TEXT])
    d = np.asarray(layers[DIM])
    labels = np.zeros((H, W), np.uint8)
    labels[c > 0] = 1
    labels[d > 0] = 3
    labels[t > 0] = 2
    ink = np.maximum(np.maximum(c, t), d)
    clean = (255 - ink).astype(np.uint8)
    if "rotation_deg" in deg:
        a = math.radians(deg["rotation_deg"])
        ca, sa = math.cos(a), math.sin(a)
        cx, cy = W / 2.0, H / 2.0

        def fn(p):
            dx, dy = p[0] - cx, p[1] - cy
            return (cx + dx * ca + dy * sa, cy - dx * sa + dy * ca)
        _retarget_boxes(meta, fn, labels == 2, labels > 0, W, H)
    img = clean
    if scan:
        deg["applied"] = True
        nrng = np.random.default_rng(seed)
        f = 1.0
        if rng.random() < 0.6:
            f = rng.uniform(0.55, 0.92)
            deg["ink_level"] = round(f, 3)
        paper = 255
        if rng.random() < 0.4:
            paper = rng.randint(228, 250)
            deg["paper_level"] = paper
        work = paper - ink.astype(np.float32) * (f * paper / 255.0)
        if rng.random() < 0.6:
            r = rng.uniform(0.35, 1.1)
            deg["blur_radius"] = round(r, 3)
            work = np.asarray(Image.fromarray(work.clip(0, 255).astype(np.uint8))
                              .filter(ImageFilter.GaussianBlur(r)), dtype=np.float32)
        if rng.random() < 0.6:
            sigma = rng.uniform(2, 9)
            deg["noise_sigma"] = round(sigma, 3)
            work = work + nrng.normal(0, sigma, size=work.shape).astype(np.float32)
        if rng.random() < 0.45:
            frac = rng.uniform(2e-5, 2e-4)
            deg["speckle_fraction"] = round(frac, 7)
            n = int(frac * W * H)
            ys = nrng.integers(0, H, n)
            xs = nrng.integers(0, W, n)
            vals = nrng.choice(np.array([0.0, 60.0, 255.0], np.float32), n)
            work[ys, xs] = vals
            sz = nrng.integers(1, 3, n)
            big = sz > 1
            work[np.minimum(ys[big] + 1, H - 1), xs[big]] = vals[big]
            work[ys[big], np.minimum(xs[big] + 1, W - 1)] = vals[big]
        img = work.clip(0, 255).astype(np.uint8)
        if rng.random() < 0.4:
            q = rng.randint(35, 85)
            deg["jpeg_quality"] = q
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=q)
            buf.seek(0)
            img = np.asarray(Image.open(buf).convert("L"))
    meta["degradation"] = deg
    meta["objects"] = _objects(meta, W, H)
    return img, labels, meta, clean


def yolo_lines(meta):
    W, H = meta["width"], meta["height"]
    out = []
    for o in meta["objects"]:
        x0, y0, x1, y1 = o["bbox"]
        out.append(f"{o['class_id']} {(x0 + x1) / 2 / W:.6f} {(y0 + y1) / 2 / H:.6f} "
                   f"{(x1 - x0) / W:.6f} {(y1 - y0) / H:.6f}")
    return out


def order_meta(meta):
    keys = ["width", "height", "dpi", "seed", "base_seed", "index", "objects", "dimensions", "gdt", "title_block", "materials"]
    out = {k: meta[k] for k in keys if k in meta}
    out.update({k: v for k, v in meta.items() if k not in out})
    return out


def write_drawing(out_dir, index, seed, degrade=True):
    dseed = drawing_seed(seed, index)
    img, labels, meta, _ = render(dseed, degrade=degrade)
    meta["index"] = index
    meta["base_seed"] = seed
    meta = order_meta(meta)
    stem = os.path.join(out_dir, f"{index:05d}")
    Image.fromarray(img).save(stem + ".png", compress_level=3)
    Image.fromarray(labels).save(stem + ".labels.png", compress_level=3)
    with open(stem + ".json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False, indent=1)
    with open(stem + ".yolo.txt", "w", encoding="utf-8") as fh:
        lines = yolo_lines(meta)
        fh.write("\n".join(lines) + ("\n" if lines else ""))
    return index, len(meta["objects"]), len(meta["dimensions"])
