"""Scores a checkpoint (e.g. the committed model rebuilt by from_onnx.py) on the held-out tiles and
pages that a new run is scored on, so the model card can compare the two on the same data.

    nice -n 10 .venv-train/bin/python models/training/detect/baseline.py \
        --model /tmp/drawpipe-detect/from-onnx.pt --data /tmp/drawpipe-detect/ds-s1/data.yaml \
        --pages /tmp/drawpipe-detect/pages-test-s900000-n60 --limit 20 \
        --what "yolo11n-drawings.onnx 1.0.0" --json /tmp/drawpipe-detect/baseline.json

Tiles: train.py's held-out evaluation. Pages: eval_pages.py, as report.py runs it.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

common.offline_ultralytics_env()

import torch  # noqa: E402
from ultralytics import YOLO  # noqa: E402

import eval_pages  # noqa: E402
import train  # noqa: E402


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
    metrics = train.heldout_val(YOLO(args.model, task="detect"), args.data, batch=8, workers=2,
                                project="/tmp/drawpipe-detect/runs", name="baseline-heldout")
    tiles = {"mAP50": round(float(metrics.box.map50), 4), "mAP50-95": round(float(metrics.box.map), 4)}
    print(f"tiles: {tiles}")
    page = eval_pages.evaluate(args.model, args.pages, args.scale, args.limit)
    pages = {"mAP50": page["overall"]["mAP50"], "mAP50-95": page["overall"]["mAP50-95"], "pages": page["pages"]}
    print(f"pages: {pages}")
    pathlib.Path(args.json).write_text(json.dumps({"what": args.what, "model": args.model, "tiles": tiles,
                                                   "pages": pages}, indent=1) + "\n")


if __name__ == "__main__":
    main()
