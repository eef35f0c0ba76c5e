"""Builds the Ultralytics tile dataset for drawpipe's `detect` model from synthetic drawings.

    cd /work/main
    nice -n 10 .venv-train/bin/python models/training/detect/make_dataset.py \
        --work /tmp/drawpipe-detect --train 160 --val 10 --test 40 --scale 1.0

1. Runs the generator (models/training/synth, with .venv-synth) three times with disjoint seeds
   (train / val / held-out test) into WORK/pages-<split>-s<seed>/ (skipped when already complete).
2. Optionally rescales each page (--scale 0.5 = downscale by 2 with a box filter), then cuts it
   into 640x640 tiles with --overlap px overlap (last row/column aligned to the page edge; pages
   smaller than a tile are padded with white).
3. A box goes into a tile's labels when at least --min-inside (60 %) of its area lies inside the
   tile (for boxes larger than a tile: 60 % of what a tile could hold); it is clipped to the tile and
   dropped if the clipped box is under --min-px on a side.
4. Train: --train-tiles labelled tiles are drawn without replacement from all tiles of all train
   pages, weighted towards rare classes and dimension classes (see select()); val/test keep every
   labelled tile. Tiles without labels are added until they make up about --empty (10 %) of a split.
5. Writes WORK/ds-<tag>/{images,labels}/{train,val,test}/*.png|txt, data.yaml (14 names) and
   dataset_info.json (counts, seeds, tiling) next to it.

Deterministic: the generator is seeded and tile sampling uses numpy's default_rng(--seed).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

Image.MAX_IMAGE_PIXELS = None
TILE = 640

SEEDS = {"train": 1_000, "val": 500_000, "test": 900_000}


def generate(split: str, count: int, seed: int, work: pathlib.Path, jobs: int) -> pathlib.Path:
    out = work / f"pages-{split}-s{seed}-n{count}"
    done = out / ".complete"
    if done.exists():
        return out
    if out.exists():
        shutil.rmtree(out)
    py = common.REPO / ".venv-synth" / "bin" / "python"
    cmd = ["nice", "-n", "10", str(py), "-m", "synth", "--out", str(out), "--count", str(count),
           "--seed", str(seed), "--jobs", str(jobs)]
    print("+", " ".join(cmd), flush=True)
    t0 = time.time()
    subprocess.run(cmd, cwd=common.TRAINING, check=True)
    print(f"  {split}: {count} drawings in {time.time() - t0:.0f} s", flush=True)
    done.write_text(json.dumps({"seed": seed, "count": count}))
    return out


def tile_origins(length: int, overlap: int) -> list[int]:
    if length <= TILE:
        return [0]
    stride = TILE - overlap
    xs = list(range(0, length - TILE + 1, stride))
    if xs[-1] != length - TILE:
        xs.append(length - TILE)
    return xs


def scaled_size(size, scale: float):
    w, h = size
    if scale == 1.0:
        return w, h
    f = 1.0 / scale
    if abs(f - round(f)) < 1e-6:
        f = int(round(f))
        return -(-w // f), -(-h // f)  # Image.reduce rounds up
    return max(1, round(w * scale)), max(1, round(h * scale))


def load_page(png: pathlib.Path, scale: float) -> Image.Image:
    im = Image.open(png).convert("L")
    if scale != 1.0:
        f = 1.0 / scale
        if abs(f - round(f)) < 1e-6:
            im = im.reduce(int(round(f)))  # box filter: thin lines turn gray instead of aliasing away
        else:
            im = im.resize(scaled_size(im.size, scale), Image.Resampling.BOX)
    return im


def page_objects(js: dict, scale: float):
    objs = []
    for o in js.get("objects", []):
        x0, y0, x1, y1 = (float(v) * scale for v in o["bbox"])
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        objs.append((int(o["class_id"]), x0, y0, x1, y1))
    return objs


def tile_labels(objs, tx: int, ty: int, min_inside: float, min_px: float):
    labels = []
    partial = 0
    for c, x0, y0, x1, y1 in objs:
        ix0, iy0 = max(x0, tx), max(y0, ty)
        ix1, iy1 = min(x1, tx + TILE), min(y1, ty + TILE)
        if ix1 <= ix0 or iy1 <= iy0:
            continue
        inter = (ix1 - ix0) * (iy1 - iy0)
        full = min(x1 - x0, TILE) * min(y1 - y0, TILE)
        if inter / full < min_inside or (ix1 - ix0) < min_px or (iy1 - iy0) < min_px:
            partial += 1
            continue
        cx, cy = (ix0 + ix1) / 2 - tx, (iy0 + iy1) / 2 - ty
        labels.append((c, cx / TILE, cy / TILE, (ix1 - ix0) / TILE, (iy1 - iy0) / TILE))
    return labels, partial


def list_pages(pages_dir: pathlib.Path):
    return sorted(p for p in pages_dir.glob("*.png") if not p.name.endswith(".labels.png"))


def candidates(pages_dir: pathlib.Path, args):
    """All tiles of all pages, with their labels (no pixels loaded)."""
    out = []
    sizes = []
    for png in list_pages(pages_dir):
        js = json.loads(png.with_suffix(".json").read_text())
        W, H = (max(TILE, v) for v in scaled_size((int(js["width"]), int(js["height"])), args.scale))
        sizes.append((W, H))
        objs = page_objects(js, args.scale)
        for ty in tile_origins(H, args.overlap):
            for tx in tile_origins(W, args.overlap):
                labels, _ = tile_labels(objs, tx, ty, args.min_inside, args.min_px)
                out.append((png, tx, ty, labels))
    return out, sizes


def select(cands, split, args, rng):
    """Indices of the tiles to write.

    train: weighted sampling without replacement of --train-tiles labelled tiles, weight =
    max over the tile's classes of f_c^-1/2 (f_c = share of labelled tiles containing class c;
    repeat-factor style, so rare classes are kept whenever they occur) times --dim-weight when the
    class is a dimension class. val/test: every labelled tile. All splits: empty tiles are added
    at random until they are ~--empty of the split.
    """
    lab = [i for i, c in enumerate(cands) if c[3]]
    emp = [i for i, c in enumerate(cands) if not c[3]]
    if split == "train" and args.train_tiles and args.train_tiles < len(lab):
        nc = len(common.CLASSES)
        has = np.zeros((len(lab), nc), dtype=bool)
        for k, i in enumerate(lab):
            for c, *_ in cands[i][3]:
                has[k, c] = True
        f = has.mean(0)
        cw = np.where(f > 0, 1.0 / np.sqrt(np.maximum(f, 1e-9)), 0.0)
        cw *= np.array([args.dim_weight if c in common.DIMENSION_CLASSES else 1.0 for c in range(nc)])
        w = (has * cw[None, :]).max(1)
        pick = rng.choice(len(lab), size=args.train_tiles, replace=False, p=w / w.sum())
        lab = [lab[k] for k in sorted(pick)]
    n_empty = min(len(emp), int(round(args.empty / (1 - args.empty) * len(lab))))
    emp = sorted(rng.choice(emp, size=n_empty, replace=False).tolist()) if n_empty else []
    return sorted(lab + emp)


def build_split(split, pages_dir, ds, args, rng):
    img_dir = ds / "images" / split
    lbl_dir = ds / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    cands, sizes = candidates(pages_dir, args)
    chosen = select(cands, split, args, rng)
    instances = collections.Counter()
    empty = 0
    cur_png, page = None, None
    for i in chosen:
        png, tx, ty, labels = cands[i]
        if png != cur_png:
            cur_png, page = png, load_page(png, args.scale)
            if page.size[0] < TILE or page.size[1] < TILE:
                canvas = Image.new("L", (max(page.size[0], TILE), max(page.size[1], TILE)), 255)
                canvas.paste(page, (0, 0))
                page = canvas
        name = f"{png.stem}_{tx:05d}_{ty:05d}"
        page.crop((tx, ty, tx + TILE, ty + TILE)).save(img_dir / f"{name}.png", compress_level=1)
        (lbl_dir / f"{name}.txt").write_text(
            "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels))
        empty += not labels
        for lab in labels:
            instances[lab[0]] += 1
    n_lab_all = sum(1 for c in cands if c[3])
    return {
        "drawings": len(list_pages(pages_dir)),
        "tiles": len(chosen),
        "empty_tiles": empty,
        "instances": int(sum(instances.values())),
        "instances_per_class": {common.CLASSES[c]: int(instances[c]) for c in range(len(common.CLASSES))},
        "candidate_tiles": {"labelled": n_lab_all, "empty": len(cands) - n_lab_all},
        "page_size_after_scale": {"min": [min(s[0] for s in sizes), min(s[1] for s in sizes)],
                                  "max": [max(s[0] for s in sizes), max(s[1] for s in sizes)]},
    }


def count_classes(pages_dir: pathlib.Path) -> collections.Counter:
    cnt = collections.Counter()
    for js in pages_dir.glob("*.json"):
        for o in json.loads(js.read_text()).get("objects", []):
            cnt[int(o["class_id"])] += 1
    return cnt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/drawpipe-detect")
    ap.add_argument("--train", type=int, default=160, help="train drawings")
    ap.add_argument("--val", type=int, default=10, help="validation drawings (monitoring during training)")
    ap.add_argument("--test", type=int, default=40, help="held-out drawings (final metrics)")
    ap.add_argument("--train-seed", type=int, default=SEEDS["train"])
    ap.add_argument("--val-seed", type=int, default=SEEDS["val"])
    ap.add_argument("--test-seed", type=int, default=SEEDS["test"])
    ap.add_argument("--scale", type=float, default=1.0, help="page rescale before tiling (0.5 = downscale by 2)")
    ap.add_argument("--overlap", type=int, default=128)
    ap.add_argument("--min-inside", type=float, default=0.6)
    ap.add_argument("--min-px", type=float, default=4.0)
    ap.add_argument("--empty", type=float, default=0.1, help="target share of tiles without labels")
    ap.add_argument("--train-tiles", type=int, default=1500,
                    help="train: labelled tiles drawn (class-balanced) from all candidate tiles; 0 = all")
    ap.add_argument("--dim-weight", type=float, default=2.0,
                    help="train: sampling weight multiplier for dimension classes")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="tile sampling rng")
    ap.add_argument("--tag", default=None, help="dataset folder name (default ds-s<scale>)")
    ap.add_argument("--generate-only", action="store_true")
    args = ap.parse_args()

    seeds = {"train": args.train_seed, "val": args.val_seed, "test": args.test_seed}
    counts = {"train": args.train, "val": args.val, "test": args.test}
    assert len(set(seeds.values())) == 3
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    pages = {s: generate(s, counts[s], seeds[s], work, args.jobs) for s in ("train", "val", "test") if counts[s] > 0}
    if args.generate_only:
        return

    cnt = count_classes(pages["train"])
    print("train page instances:", {common.CLASSES[c]: cnt[c] for c in range(len(common.CLASSES))})

    tag = args.tag or f"ds-s{args.scale:g}"
    ds = work / tag
    if ds.exists():
        shutil.rmtree(ds)
    info = {
        "generator": {
            "package": "models/training/synth",
            "command": "cd models/training && ../../.venv-synth/bin/python -m synth --out DIR --count N --seed S "
                       f"--jobs {args.jobs}",
        },
        "tiling": {
            "page_scale": args.scale,
            "tile": TILE,
            "overlap": args.overlap,
            "stride": TILE - args.overlap,
            "last_tile_aligned_to_page_edge": True,
            "min_inside_fraction": args.min_inside,
            "min_clipped_px": args.min_px,
            "note": ("pages are rescaled by page_scale (box filter) and cut into 640x640 tiles fed "
                     "to the model 1:1 (no letterbox scaling)"),
        },
        "sampling": {
            "empty_share_target": args.empty,
            "train_tiles": args.train_tiles,
            "class_weight": "max over tile classes of f_c^-0.5, x dim_weight for dimension classes",
            "dim_weight": args.dim_weight,
            "rng_seed": args.seed,
        },
    }
    for split in ("train", "val", "test"):
        if split not in pages:
            continue
        rng = np.random.default_rng([args.seed, list(seeds).index(split)])
        t0 = time.time()
        info[split] = build_split(split, pages[split], ds, args, rng)
        info[split]["seed"] = seeds[split]
        print(f"{split}: {json.dumps(info[split])} ({time.time() - t0:.0f} s)", flush=True)

    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(common.CLASSES))
    (ds / "data.yaml").write_text(
        f"# drawpipe detect tiles, built by models/training/detect/make_dataset.py\n"
        f"path: {ds}\ntrain: images/train\nval: images/val\ntest: images/test\nnames:\n{names}")
    (ds / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {ds / 'data.yaml'}")


if __name__ == "__main__":
    main()
