"""Page-level evaluation: tiled inference on whole held-out pages, merged in page coordinates.

    cd /work/main
    nice -n 10 .venv-train/bin/python models/training/detect/eval_pages.py \
        --model /tmp/drawpipe-detect/runs/NAME/weights/best.pt \
        --pages /tmp/drawpipe-detect/pages-test-s900000-n40 --scale 1.0 [--limit 20] [--json out.json]

This is what inference on a real drawing does: rescale the page by --scale, cut 640x640 tiles
with --overlap (same origins as make_dataset.py), detect on each tile, map boxes back to page
pixels, class-wise NMS across tiles (IoU --merge-iou), then compare with the page's ground truth
(`objects` in NNNNN.json) at IoU 0.50:0.95 (COCO-style AP via Ultralytics' ap_per_class).
Used to compare native-resolution tiles with downscaled-by-2 tiles on equal footing, since
per-tile metrics of differently tiled datasets are not comparable.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

common.offline_ultralytics_env()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.utils.metrics import ap_per_class, box_iou  # noqa: E402

import make_dataset as md  # noqa: E402

IOUV = np.linspace(0.5, 0.95, 10)


def match(pred_cls, pred_box, gt_cls, gt_box):
    correct = np.zeros((len(pred_cls), len(IOUV)), dtype=bool)
    if len(pred_cls) == 0 or len(gt_cls) == 0:
        return correct
    iou = box_iou(torch.as_tensor(gt_box, dtype=torch.float32), torch.as_tensor(pred_box, dtype=torch.float32)).numpy()
    iou = iou * (gt_cls[:, None] == pred_cls[None, :])
    matched = np.zeros((iou.shape[0], len(IOUV)), dtype=bool)
    for j in np.flatnonzero((iou >= IOUV.min()).any(0)):  # predictions sorted by descending conf
        available = np.where(matched, 0, iou[:, j, None])
        k = available.argmax(0)
        correct[j] = available[k, range(len(IOUV))] >= IOUV
        matched[k, range(len(IOUV))] |= correct[j]
    return correct


def detect_page(model, png, scale, overlap, conf, merge_iou, batch):
    page = md.load_page(png, scale)
    W0, H0 = page.size
    if W0 < md.TILE or H0 < md.TILE:
        canvas = Image.new("L", (max(W0, md.TILE), max(H0, md.TILE)), 255)
        canvas.paste(page, (0, 0))
        page = canvas
    W, H = page.size
    origins = [(tx, ty) for ty in md.tile_origins(H, overlap) for tx in md.tile_origins(W, overlap)]
    arr = np.asarray(page)
    boxes, scores, classes = [], [], []
    for i in range(0, len(origins), batch):
        chunk = origins[i:i + batch]
        tiles = [np.ascontiguousarray(np.repeat(arr[ty:ty + md.TILE, tx:tx + md.TILE, None], 3, 2)) for tx, ty in chunk]
        res = model.predict(tiles, imgsz=md.TILE, conf=conf, iou=0.7, max_det=300, device="cpu", verbose=False)
        for (tx, ty), r in zip(chunk, res):
            b = r.boxes
            if len(b) == 0:
                continue
            xyxy = b.xyxy.numpy().copy()
            xyxy[:, [0, 2]] += tx
            xyxy[:, [1, 3]] += ty
            boxes.append(xyxy)
            scores.append(b.conf.numpy())
            classes.append(b.cls.numpy().astype(int))
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int), len(origins)
    boxes, scores, classes = np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)
    keep = torchvision.ops.batched_nms(torch.as_tensor(boxes), torch.as_tensor(scores),
                                       torch.as_tensor(classes), merge_iou).numpy()
    return boxes[keep] / scale, scores[keep], classes[keep], len(origins)


def evaluate(model_path, pages, scale=1.0, limit=0, overlap=128, conf=0.01, merge_iou=0.5, batch=8) -> dict:
    """Tiled inference on the first `limit` (0: all) pages of a generator folder, scored against their
    ground truth: {"model", "pages", "tiles", "scale", "overlap", "seconds", "seconds_per_page",
    "overall", "per_class"}."""
    model = YOLO(str(model_path), task="detect")
    pngs = sorted(p for p in pathlib.Path(pages).glob("*.png") if not p.name.endswith(".labels.png"))
    if limit:
        pngs = pngs[:limit]
    stats = {"tp": [], "conf": [], "cls": [], "target": []}
    t0 = time.time()
    n_tiles = 0
    for png in pngs:
        js = json.loads(png.with_suffix(".json").read_text())
        gt = md.page_objects(js, 1.0)
        gt_cls = np.array([g[0] for g in gt], dtype=int)
        gt_box = np.array([g[1:] for g in gt], dtype=np.float32).reshape(-1, 4)
        boxes, scores, classes, nt = detect_page(model, png, scale, overlap, conf, merge_iou, batch)
        n_tiles += nt
        order = np.argsort(-scores)
        boxes, scores, classes = boxes[order], scores[order], classes[order]
        stats["tp"].append(match(classes, boxes, gt_cls, gt_box))
        stats["conf"].append(scores)
        stats["cls"].append(classes)
        stats["target"].append(gt_cls)
    secs = time.time() - t0
    tp = np.concatenate(stats["tp"])
    scored = np.concatenate(stats["conf"])
    pcls = np.concatenate(stats["cls"])
    tcls = np.concatenate(stats["target"])
    _, _, p, r, _, ap, ucls, *_ = ap_per_class(tp, scored, pcls, tcls, plot=False)
    per_class = {}
    counts = np.bincount(tcls, minlength=len(common.CLASSES))
    for i, c in enumerate(ucls):
        per_class[common.CLASSES[int(c)]] = {
            "instances": int(counts[int(c)]), "precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
            "mAP50": round(float(ap[i, 0]), 4), "mAP50-95": round(float(ap[i].mean()), 4)}
    return {
        "model": str(model_path), "pages": len(pngs), "tiles": n_tiles, "scale": scale, "overlap": overlap,
        "seconds": round(secs, 1), "seconds_per_page": round(secs / max(1, len(pngs)), 2),
        "overall": {"mAP50": round(float(ap[:, 0].mean()), 4), "mAP50-95": round(float(ap.mean()), 4),
                    "precision": round(float(p.mean()), 4), "recall": round(float(r.mean()), 4)},
        "per_class": per_class,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help=".pt checkpoint (or .onnx)")
    ap.add_argument("--pages", required=True, help="generator output folder with held-out pages")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--overlap", type=int, default=128)
    ap.add_argument("--conf", type=float, default=0.01)
    ap.add_argument("--merge-iou", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N pages")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()

    result = evaluate(args.model, args.pages, args.scale, args.limit, args.overlap, args.conf,
                      args.merge_iou, args.batch)
    print(json.dumps(result, indent=1))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
