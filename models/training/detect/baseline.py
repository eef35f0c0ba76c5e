"""Scores a checkpoint (e.g. the committed model rebuilt by from_onnx.py) on the held-out tiles and
pages that a new run is scored on, so the model card can compare the two on the same data.

    nice -n 10 .venv-train/bin/python models/training/detect/baseline.py \
        --model /tmp/drawpipe-detect/from-onnx.pt --data /tmp/drawpipe-detect/ds-s1/data.yaml \
        --pages /tmp/drawpipe-detect/pages-test-s900000-n60 --limit 20 \
        --what "yolo11n-drawings.onnx 1.0.0" --json /tmp/drawpipe-detect/baseline.json

Tiles: Ultralytics `val` on `split=test`, conf 0.001, IoU 0.7 (as train.py). Pages: eval_pages.py
with the manifest's page scale (as report.py).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

common.offline_ultralytics_env()

import torch  # noqa: E402
from ultralytics import YOLO  # noqa: E402

IMGSZ = 640


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--pages", required=True)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--what", default="the previous model")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()

    import ultralytics.utils.torch_utils as tu
    tu.NUM_THREADS = args.threads
    torch.set_num_threads(args.threads)
    metrics = YOLO(args.model, task="detect").val(
        data=args.data, split="test", imgsz=IMGSZ, batch=8, device="cpu", workers=2, plots=False,
        conf=0.001, iou=0.7, verbose=False, project="/tmp/drawpipe-detect/runs", name="baseline-heldout",
        exist_ok=True)
    tiles = {"mAP50": round(float(metrics.box.map50), 4), "mAP50-95": round(float(metrics.box.map), 4)}
    print(f"tiles: {tiles}")
    page_json = pathlib.Path(args.json).with_suffix(".pages.json")
    subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name("eval_pages.py")), "--model", args.model,
                    "--pages", args.pages, "--scale", str(args.scale), "--limit", str(args.limit),
                    "--json", str(page_json)], check=True, stdout=subprocess.DEVNULL)
    page = json.loads(page_json.read_text())
    pages = {"mAP50": page["overall"]["mAP50"], "mAP50-95": page["overall"]["mAP50-95"], "pages": page["pages"]}
    print(f"pages: {pages}")
    pathlib.Path(args.json).write_text(json.dumps({"what": args.what, "model": args.model, "tiles": tiles,
                                                   "pages": pages}, indent=1) + "\n")


if __name__ == "__main__":
    main()
