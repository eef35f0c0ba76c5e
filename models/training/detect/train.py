"""Trains drawpipe's `detect` stage model (YOLO11n, 14 drawing-symbol classes) from scratch on CPU.

    cd /work/main
    nice -n 10 .venv-train/bin/python models/training/detect/train.py \
        --data /tmp/drawpipe-detect/ds/data.yaml --hours 0.9 --seed 0

Builds YOLO11n from `yolo11n.yaml` (no pretrained weights: nothing is downloaded), trains with
Ultralytics' wall-clock budget (`time=` hours; epochs are re-estimated after the first epoch so the
LR schedule still completes), evaluates per class on the held-out split (`test` in data.yaml, a
disjoint generator seed), exports ONNX (opset 17, static 1x3x640x640), checks the output shape is
[1, 18, 8400] and writes models/detect/{yolo11n-drawings.onnx, manifest.json, MODEL_CARD.md}.

`--out DIR` writes the artefacts elsewhere (the smoke run uses /tmp). Runs live under --project
(default /tmp/drawpipe-detect/runs), never in the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import pathlib
import platform
import shutil
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402
import report  # noqa: E402

common.offline_ultralytics_env()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import ultralytics  # noqa: E402
from ultralytics import YOLO  # noqa: E402

ONNX_NAME = "yolo11n-drawings.onnx"
IMGSZ = 640


def sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def onnx_io(path: pathlib.Path):
    m = onnx.load(str(path))
    onnx.checker.check_model(m)

    def spec(vi):
        t = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]
        return {"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": dims}

    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    return [spec(i) for i in m.graph.input], [spec(o) for o in m.graph.output], opset


def run_stats(run_dir: pathlib.Path):
    """(epochs completed, training seconds, full passes) from an Ultralytics run's results.csv.
    Ultralytics counts an epoch cut short by time= as a whole one; the passes count it by the
    share of an average epoch's time it ran."""
    csv = run_dir / "results.csv"
    if not csv.exists():
        return 0, 0.0, 0.0
    rows = [r.split(",") for r in csv.read_text().strip().splitlines()]
    head, rows = rows[0], rows[1:]
    if not rows or "time" not in head:
        return len(rows), 0.0, float(len(rows))
    t = [float(r[head.index("time")]) for r in rows]
    passes = float(len(t))
    if len(t) >= 2:
        passes = (len(t) - 1) + min(1.0, (t[-1] - t[-2]) / (t[-2] / (len(t) - 1)))
    return len(t), t[-1], round(passes, 2)


def per_class_metrics(metrics, nc: int) -> dict:
    """Per-class AP50 / AP50-95 / P / R from a DetMetrics; classes without held-out instances are null."""
    box = metrics.box
    out = {}
    counts = getattr(metrics, "nt_per_class", None)
    idx = list(box.ap_class_index)
    for c in range(nc):
        row = {"instances": int(counts[c]) if counts is not None else None}
        if c in idx:
            i = idx.index(c)
            p, r, ap50, ap = box.class_result(i)
            row.update(precision=round(float(p), 4), recall=round(float(r), 4),
                       mAP50=round(float(ap50), 4), **{"mAP50-95": round(float(ap), 4)})
        else:
            row.update(precision=None, recall=None, mAP50=None, **{"mAP50-95": None})
        out[common.CLASSES[c]] = row
    return out


def cpu_has_native_bf16() -> bool:
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def allow_cpu_bf16_autocast():
    """Ultralytics refuses bf16 autocast anywhere but CUDA. On a CPU with native bf16
    (avx512_bf16 / AMX) torch's CPU autocast runs convolutions in bf16, forward and backward,
    with the weights, optimizer and validation in f32 (bf16_step_bench.py times the gain:
    2.5x for a forward and backward pass on 2 Zen 4 cores)."""
    import ultralytics.engine.trainer as trainer

    plain = trainer.autocast

    def autocast(enabled, device="cuda"):
        if enabled is torch.bfloat16 and device == "cpu":
            return torch.amp.autocast("cpu", dtype=torch.bfloat16)
        return plain(enabled, device)

    trainer.autocast = autocast


def heldout_val(model, data, batch: int, workers: int, project: str, name: str):
    """Ultralytics metrics of `model` on the dataset's held-out split (`test`), conf 0.001, IoU 0.7."""
    return model.val(data=str(data), split="test", imgsz=IMGSZ, batch=batch, device="cpu", workers=workers,
                     plots=False, conf=0.001, iou=0.7, verbose=True, project=project, name=name, exist_ok=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="data.yaml written by make_dataset.py")
    ap.add_argument("--hours", type=float, default=0.9, help="wall-clock training budget (Ultralytics time=)")
    ap.add_argument("--epochs", type=int, default=100, help="epoch cap (ignored by Ultralytics when --hours > 0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2,
                    help="torch CPU threads (Ultralytics would use cpu_count-1 = 1 on a 2-core box)")
    ap.add_argument("--init", default=None,
                    help="start from this checkpoint of ours (e.g. a pilot run's best.pt) instead of random init")
    ap.add_argument("--warmup-epochs", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lr0", type=float, default=0.002)
    ap.add_argument("--close-mosaic", type=int, default=3)
    ap.add_argument("--bf16", action="store_true",
                    help="bf16 autocast for the training steps (CPUs with avx512_bf16 or AMX only)")
    ap.add_argument("--fraction", type=float, default=1.0, help="fraction of the train split to use")
    ap.add_argument("--project", default="/tmp/drawpipe-detect/runs")
    ap.add_argument("--name", default="yolo11n-drawings")
    ap.add_argument("--out", default=str(common.OUT_DIR), help="where the ONNX, manifest and card go")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--train-only", action="store_true",
                    help="stop after training (pilot runs; evaluate them with eval_pages.py)")
    args = ap.parse_args()

    data = pathlib.Path(args.data).resolve()
    ds_info_path = data.parent / "dataset_info.json"
    ds_info = json.loads(ds_info_path.read_text()) if ds_info_path.exists() else {}
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Ultralytics resets torch to NUM_THREADS = cpu_count - 1 threads when it selects the CPU device.
    import ultralytics.utils.torch_utils as tu
    tu.NUM_THREADS = args.threads
    torch.set_num_threads(args.threads)

    if args.bf16:
        if not cpu_has_native_bf16():
            sys.exit("train.py: --bf16 needs a CPU with avx512_bf16 or amx_bf16 (torch would emulate it slowly)")
        allow_cpu_bf16_autocast()
    if args.init:
        model = YOLO(args.init, task="detect")  # our own earlier checkpoint (nothing downloaded)
    else:
        model = YOLO("yolo11n.yaml", task="detect")  # architecture only, random init
    t0 = time.time()
    model.train(
        data=str(data),
        imgsz=IMGSZ,
        epochs=args.epochs,
        time=args.hours if args.hours > 0 else None,
        batch=args.batch,
        nbs=args.batch,  # one optimizer step per batch (default nbs=64 would accumulate 8 batches)
        device="cpu",
        workers=args.workers,
        pretrained=bool(args.init),  # our own --init checkpoint only; never downloaded weights
        plots=False,
        amp="bf16" if args.bf16 else False,
        seed=args.seed,
        deterministic=True,
        project=args.project,
        name=args.name,
        exist_ok=True,
        optimizer="AdamW",
        lr0=args.lr0,
        cos_lr=False,
        warmup_epochs=args.warmup_epochs,
        close_mosaic=args.close_mosaic,
        fraction=args.fraction,
        # Drawings: grayscale, text must not be mirrored; page scale varies with DPI (150-300).
        fliplr=0.0,
        flipud=0.0,
        hsv_h=0.0,
        hsv_s=0.0,
        hsv_v=0.3,
        degrees=0.0,
        translate=0.1,
        scale=0.3,
        mosaic=1.0,
        mixup=0.0,
        patience=1000,
        cache=False,
        verbose=True,
    )
    train_s = time.time() - t0
    trainer = model.trainer
    save_dir = pathlib.Path(trainer.save_dir)
    best = save_dir / "weights" / "best.pt"
    if not best.exists():
        best = save_dir / "weights" / "last.pt"
    epochs_done, _, passes = run_stats(save_dir)
    prior = []  # earlier runs this one continued from (--init chain)
    rebuilt_from = None
    init = pathlib.Path(args.init).resolve() if args.init else None
    while init is not None:
        side = init.with_suffix(".json")
        if side.exists():  # a checkpoint from_onnx.py rebuilt: it carries the ONNX file's history
            history = json.loads(side.read_text())
            prior += history.get("runs", [])
            rebuilt_from = history.get("onnx")
            break
        if not (init.parents[1] / "results.csv").exists():
            break
        e, secs, _ = run_stats(init.parents[1])
        a = init.parents[1] / "args.yaml"
        prev_init = None
        if a.exists():
            for line in a.read_text().splitlines():
                if line.startswith("model:"):
                    prev_init = line.split(":", 1)[1].strip()
        prior.append({"run": init.parents[1].name, "epochs": e, "train_seconds": round(secs, 1),
                      "data": next((ln.split(":", 1)[1].strip() for ln in a.read_text().splitlines()
                                    if ln.startswith("data:")), None) if a.exists() else None})
        init = pathlib.Path(prev_init) if prev_init and prev_init.endswith(".pt") else None
    print(f"training finished: {epochs_done} epochs in {train_s / 60:.1f} min; best = {best}")

    if args.train_only:
        return

    # Held-out evaluation (disjoint generator seed) with the best checkpoint.
    ev = YOLO(str(best), task="detect")
    tu.NUM_THREADS = args.threads
    t1 = time.time()
    metrics = heldout_val(ev, data, args.batch, args.workers, args.project, args.name + "-heldout")
    val_s = time.time() - t1
    nc = len(common.CLASSES)
    per_class = per_class_metrics(metrics, nc)
    overall = {
        "mAP50": round(float(metrics.box.map50), 4),
        "mAP50-95": round(float(metrics.box.map), 4),
        "precision": round(float(metrics.box.mp), 4),
        "recall": round(float(metrics.box.mr), 4),
    }
    dim_ap50 = [per_class[common.CLASSES[c]]["mAP50"] for c in sorted(common.DIMENSION_CLASSES)]
    dim_ap50 = [v for v in dim_ap50 if v is not None]
    overall["mAP50_dimension_classes"] = round(float(np.mean(dim_ap50)), 4) if dim_ap50 else None
    print(json.dumps({"overall": overall, "per_class": per_class}, indent=1))

    # ONNX export: static 1x3x640x640, opset 17, no NMS, no simplify (onnxslim is not installed).
    onnx_tmp = pathlib.Path(ev.export(format="onnx", imgsz=IMGSZ, opset=17, dynamic=False, simplify=False,
                                      nms=False, batch=1, device="cpu"))
    inputs, outputs, opset = onnx_io(onnx_tmp)
    assert len(inputs) == 1 and inputs[0]["shape"] == [1, 3, IMGSZ, IMGSZ], inputs
    assert len(outputs) == 1 and outputs[0]["shape"] == [1, 4 + nc, 8400], outputs
    assert opset <= 17, opset
    onnx_path = out / ONNX_NAME
    shutil.copyfile(onnx_tmp, onnx_path)
    digest = sha256(onnx_path)
    size_mb = onnx_path.stat().st_size / 1e6
    print(f"ONNX {onnx_path} ({size_mb:.1f} MB, opset {opset}) inputs={inputs} outputs={outputs}")

    # Reference input/output (a real held-out tile) for check_onnx.py, which runs ONNX Runtime.
    test_imgs = sorted((data.parent / "images" / "test").glob("*.png"))
    ref_npz = save_dir / "onnx_reference.npz"
    if test_imgs:
        from PIL import Image
        lbl_dir = data.parent / "labels" / "test"
        pick = next((p for p in test_imgs if (lbl_dir / (p.stem + ".txt")).read_text().strip()), test_imgs[0])
        x = np.asarray(Image.open(pick).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
        with torch.no_grad():
            y = ev.model.float().eval()(torch.from_numpy(x))
        y = (y[0] if isinstance(y, (list, tuple)) else y).numpy()
        np.savez_compressed(ref_npz, images=x, output0=y, tile=str(pick))
        print(f"reference I/O for check_onnx.py: {ref_npz} ({pick.name})")

    # Parity check torch vs. the exported graph when an ONNX Runtime is importable (optional).
    parity = None
    try:
        import onnxruntime as ort  # noqa: F401
    except ImportError:
        ort = None
    if ort is not None:
        x = torch.rand(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            y = ev.model.float().eval()(x)
            ref = (y[0] if isinstance(y, (list, tuple)) else y).numpy()
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        got = sess.run(None, {inputs[0]["name"]: x.numpy()})[0]
        parity = float(np.abs(ref - got).max())
        print(f"torch vs onnxruntime max |diff| = {parity:.2e}")

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = {
        "name": "drawpipe-detect-yolo11n",
        "version": args.version,
        "task": "object detection: dimension, GD&T and text-block symbols on engineering drawings (14 classes)",
        "file": ONNX_NAME,
        "sha256": digest,
        "bytes": onnx_path.stat().st_size,
        "format": f"ONNX opset {opset}",
        "architecture": "YOLO11n (Ultralytics yolo11n.yaml, nc=14), trained from random initialisation",
        "input": {
            "name": inputs[0]["name"],
            "dtype": "float32",
            "shape": [1, 3, IMGSZ, IMGSZ],
            "layout": "NCHW",
            "color": "RGB (a grayscale page copied into all three channels)",
            "range": "float 0-1 (pixel / 255)",
            "resize": "letterbox to 640x640 keeping aspect, centred, pad value gray 114 (114/255)",
        },
        "output": {
            "name": outputs[0]["name"],
            "dtype": "float32",
            "shape": outputs[0]["shape"],
            "layout": "[1, 4 + 14, 8400]: rows 0-3 box centre x, centre y, width, height in input (640x640) "
                      "pixels; rows 4-17 per-class scores (sigmoid already applied, no objectness); "
                      "8400 anchors = 80x80 + 40x40 + 20x20 (strides 8, 16, 32)",
            "postprocess": "per anchor take the max class score, keep >= conf (0.25 typical), undo the "
                           "letterbox, class-wise NMS IoU 0.7 (Ultralytics default); NMS is not in the graph",
        },
        "tiling": ds_info.get("tiling", {}),
        "classes": list(common.CLASSES),
        "metrics": {
            "split": "held-out synthetic tiles (disjoint generator seed)",
            "heldout_drawings": ds_info.get("test", {}).get("drawings"),
            "heldout_tiles": ds_info.get("test", {}).get("tiles"),
            "conf": 0.001,
            "iou": 0.7,
            "overall": overall,
            "per_class": per_class,
        },
        "training": {
            "data": {k: ds_info.get(k) for k in ("generator", "train", "val", "test", "tiling", "sampling") if k in ds_info},
            "run": args.name,
            "epochs_completed": epochs_done,
            "epoch_equivalents": passes,
            "epochs_completed_total": epochs_done + sum(p["epochs"] for p in prior),
            "train_seconds_total": round(train_s + sum(p["train_seconds"] for p in prior), 1),
            "continued_from": prior,
            "rebuilt_from_onnx": rebuilt_from,
            "wall_time_budget_hours": args.hours,
            "train_seconds": round(train_s, 1),
            "heldout_eval_seconds": round(val_s, 1),
            "seed": args.seed,
            "batch": args.batch,
            "imgsz": IMGSZ,
            "optimizer": "AdamW",
            "init": args.init or "random (yolo11n.yaml)",
            "lr0": args.lr0,
            "precision": "bf16 autocast (weights f32)" if args.bf16 else "f32",
            "device": f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
            "finished": now,
        },
        "trained_with": {
            "ultralytics": ultralytics.__version__,
            "torch": torch.__version__.split("+")[0],
            "onnx": onnx.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "onnx_parity_max_abs_diff": parity,
        "onnx_reference_npz": str(ref_npz) if test_imgs else None,
        "source": "models/training/detect",
        "licence": (
            "The ONNX weights were trained by the drawpipe project from random initialisation on synthetic "
            "drawings (models/training/synth); no third-party weights were used. Training and export used "
            "Ultralytics (AGPL-3.0): the YOLO11 architecture and the training code are Ultralytics' and "
            "are AGPL-3.0 licensed; Ultralytics states that models trained with it fall under AGPL-3.0 "
            "unless an Ultralytics Enterprise licence is held. Treat this ONNX file as AGPL-3.0."
        ),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(report.model_card(manifest, ds_info))
    print(f"wrote {out / 'manifest.json'} and {out / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
