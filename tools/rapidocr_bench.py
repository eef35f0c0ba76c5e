#!/usr/bin/env python3
"""Times rapidocr on images and prints one JSON object on stdout: the baseline that
`drawpipe-ocr-bench` (workers/src/bin/ocr-bench.rs) compares the `ocr` stage with.

Run by the bench, inside the virtualenv tools/ocr-bench.sh creates:

    .venv-bench/bin/python tools/rapidocr_bench.py --models models/ppocr \
        --threads 2 --runs 3 --mode matched IMAGE...

Each image is decoded as grayscale and copied into three channels (what the `ocr`
stage reads), once, outside the timing; then one warm-up call and `--runs` timed
calls of `engine(img)` each. With `--serve` the bench drives the calls instead, one
image path per stdin line, so that its runs and ours alternate and share whatever
else loads the machine. rapidocr uses the model files in `--models` (the same
files drawpipe loads) with `--threads` intra-op and inter-op threads.

Modes:
  matched  detector input limited to 1536 px on the longer side (`Det.limit_type:
           max`, `Det.limit_side_len: 1536`, drawpipe's `Params` default) and lines
           cropped from the full-resolution page (`Global.max_side_len` large, so
           rapidocr does not shrink the page first): drawpipe's pipeline.
  stock    rapidocr 3.10's defaults: page shrunk to 2000 px on its longer side, then
           detector input at least 736 px on its shorter side (min/736).

Where rapidocr's time goes: `onnxruntime.InferenceSession.run` is wrapped, and each
call reports the seconds spent inside it per model file (`model_seconds`: det, cls,
rec). The rest of `seconds` is rapidocr's own Python and OpenCV around the models.

Output: {"rapidocr": version, "onnxruntime": version, "mode", "threads", "runs",
"config": {...}, "images": [{"path", "width", "height", "seconds": [..],
"model_seconds": {"det", "cls", "rec"}, "lines": [{"text", "score",
"polygon": [[x, y] x4]}]}]}; times in seconds.
"""

import argparse
import importlib.metadata
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from rapidocr import RapidOCR

# Seconds spent inside InferenceSession.run since the last reset, by model role.
MODEL_SECONDS = {}


def role_of(model_path):
    """det, cls or rec, from the model file's name (the three files params_for names)."""
    name = Path(str(model_path)).name
    for role in ("det", "cls", "rec"):
        if f"_{role}_" in name:
            return role
    return name


def time_session_runs():
    """Wraps InferenceSession.run so that every model call adds its duration to
    MODEL_SECONDS under its model's role."""
    run = onnxruntime.InferenceSession.run

    def timed(self, *a, **kw):
        t = time.perf_counter()
        try:
            return run(self, *a, **kw)
        finally:
            role = role_of(getattr(self, "_model_path", "?"))
            MODEL_SECONDS[role] = MODEL_SECONDS.get(role, 0.0) + time.perf_counter() - t

    onnxruntime.InferenceSession.run = timed


def params_for(args):
    models = Path(args.models)
    p = {
        "Global.log_level": "error",
        "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
        "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
        "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
        "EngineConfig.onnxruntime.intra_op_num_threads": args.threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": args.threads,
    }
    if args.mode == "matched":
        p.update(
            {
                "Global.max_side_len": 100000,
                "Det.limit_type": "max",
                "Det.limit_side_len": args.det_limit_side_len,
            }
        )
    return p


def read_gray_bgr(path, cache):
    """The image as the `ocr` stage reads it (8-bit gray) copied into three channels."""
    if path not in cache:
        gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if gray is None:
            sys.exit(f"rapidocr_bench: cannot read {path} as an image")
        cache[path] = (gray.shape, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    return cache[path]


def read_once(engine, path, cache):
    """One timed call on an already decoded image: {"path", "width", "height",
    "seconds", "model_seconds", "lines"}."""
    shape, img = read_gray_bgr(path, cache)
    MODEL_SECONDS.clear()
    t = time.perf_counter()
    res = engine(img)
    seconds = time.perf_counter() - t
    lines = []
    if res is not None and getattr(res, "boxes", None) is not None and res.txts is not None:
        for box, txt, score in zip(res.boxes, res.txts, res.scores):
            lines.append(
                {
                    "text": txt,
                    "score": float(score),
                    "polygon": np.asarray(box, dtype=float).tolist(),
                }
            )
    return {
        "path": path,
        "width": int(shape[1]),
        "height": int(shape[0]),
        "seconds": seconds,
        "model_seconds": dict(MODEL_SECONDS),
        "lines": lines,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*")
    ap.add_argument("--models", required=True, help="folder with the three .onnx files")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mode", choices=["matched", "stock"], default="matched")
    ap.add_argument("--det-limit-side-len", type=int, default=1536)
    ap.add_argument(
        "--serve",
        action="store_true",
        help="print a header line, then read one image path per stdin line and answer "
        "each with one JSON line of read_once (the bench interleaves its runs with ours)",
    )
    args = ap.parse_args()

    time_session_runs()
    params = params_for(args)
    engine = RapidOCR(params=params)
    header = {
        "rapidocr": importlib.metadata.version("rapidocr"),
        "onnxruntime": onnxruntime.__version__,
        "mode": args.mode,
        "threads": args.threads,
        "runs": args.runs,
        "config": params,
    }
    cache = {}
    if args.serve:
        print(json.dumps(header), flush=True)
        for line in sys.stdin:
            path = line.rstrip("\n")
            if path:
                print(json.dumps(read_once(engine, path, cache), ensure_ascii=False), flush=True)
        return

    header["images"] = []
    for path in args.images:
        read_once(engine, path, cache)  # warm-up
        runs = [read_once(engine, path, cache) for _ in range(args.runs)]
        image = runs[-1]
        image["seconds"] = [r["seconds"] for r in runs]
        header["images"].append(image)
    json.dump(header, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
