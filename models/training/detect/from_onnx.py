"""Rebuilds a trainable Ultralytics checkpoint from the shipped `detect` ONNX file, so training
can continue from the committed weights when the run directories (and their .pt files) are gone.

    nice -n 10 .venv-train/bin/python models/training/detect/from_onnx.py \
        --onnx models/detect/yolo11n-drawings.onnx --calib /tmp/drawpipe-detect/ds-s1/images/val \
        --out /tmp/drawpipe-detect/from-onnx.pt

Ultralytics exports with every Conv+BatchNorm fused into one convolution with a bias. This script
builds YOLO11n from `yolo11n.yaml`, copies the fused weights in by name, and gives each BatchNorm
the per-channel mean and variance of its convolution's output, measured on calibration tiles, as
both its running statistics and its scale and shift: in eval mode every Conv+BN then computes
exactly the fused convolution (checked against ONNX Runtime on a calibration tile), and in train
mode the batch statistics start close to the measured ones, so training resumes near the shipped
model instead of from a disturbed one.

It also writes `<out>.json` with the training history of the ONNX file (from its manifest) for
train.py to carry into the new manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

common.offline_ultralytics_env()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from PIL import Image  # noqa: E402
from ultralytics.nn.modules.conv import Conv  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402

IMGSZ = 640


def tiles(folder: pathlib.Path, limit: int) -> torch.Tensor:
    paths = sorted(folder.glob("*.png"))[:limit]
    if not paths:
        sys.exit(f"from_onnx: no .png tiles in {folder}")
    arr = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        if im.size != (IMGSZ, IMGSZ):
            sys.exit(f"from_onnx: {p} is {im.size}, expected {IMGSZ}x{IMGSZ} tiles")
        arr.append(np.asarray(im, np.float32).transpose(2, 0, 1) / 255.0)
    return torch.from_numpy(np.stack(arr))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", default=str(common.OUT_DIR / "yolo11n-drawings.onnx"))
    ap.add_argument("--manifest", default=str(common.OUT_DIR / "manifest.json"))
    ap.add_argument("--calib", required=True, help="folder of 640x640 .png tiles (e.g. the val split)")
    ap.add_argument("--calib-tiles", type=int, default=64)
    ap.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    args = ap.parse_args()
    torch.set_num_threads(2)

    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in onnx.load(args.onnx).graph.initializer}
    model = DetectionModel("yolo11n.yaml", nc=len(common.CLASSES), verbose=False)
    model.names = dict(enumerate(common.CLASSES))
    model.eval()

    convs = {name: m for name, m in model.named_modules() if isinstance(m, Conv) and hasattr(m, "bn")}
    used = set()
    with torch.no_grad():
        for name, m in convs.items():
            w, b = weights[f"{name}.conv.weight"], weights[f"{name}.conv.bias"]
            m.conv.weight.copy_(w)
            m.bn.weight.fill_(1.0)
            m.bn.bias.copy_(b)
            m.bn.running_mean.zero_()
            m.bn.running_var.fill_(1.0 - m.bn.eps)
            used.update({f"{name}.conv.weight", f"{name}.conv.bias"})
        state = model.state_dict()
        for key, value in weights.items():  # plain convolutions of the head (and the fixed DFL)
            if key in used:
                continue
            if key not in state or state[key].shape != value.shape:
                sys.exit(f"from_onnx: ONNX weight {key} {tuple(value.shape)} has no place in yolo11n")
            state[key].copy_(value)
            used.add(key)
    bn = (".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var", ".bn.num_batches_tracked")
    missing = [k for k in model.state_dict() if k not in used and not k.endswith(bn)]
    if missing:
        sys.exit(f"from_onnx: no ONNX weight for {missing[:5]}")

    # Each convolution's output statistics (bias excluded) with the network computing the fused model.
    x = tiles(pathlib.Path(args.calib), args.calib_tiles)
    sums = {n: [0.0, 0.0, 0] for n in convs}

    def hook(name):
        def f(_m, _inp, out):
            y = out.double()
            s = sums[name]
            s[0] = s[0] + y.sum(dim=(0, 2, 3))
            s[1] = s[1] + (y * y).sum(dim=(0, 2, 3))
            s[2] += y.shape[0] * y.shape[2] * y.shape[3]
        return f

    handles = [m.conv.register_forward_hook(hook(n)) for n, m in convs.items()]
    with torch.no_grad():
        ref = torch.cat([model(x[i:i + 8])[0] for i in range(0, len(x), 8)])
    for h in handles:
        h.remove()
    with torch.no_grad():
        for name, m in convs.items():
            s0, s1, n = sums[name]
            mean = s0 / n
            var = (s1 / n - mean * mean).clamp_min(1e-6)
            b = m.bn.bias.clone()
            m.bn.running_mean.copy_(mean.float())
            m.bn.running_var.copy_(var.float())
            m.bn.weight.copy_(torch.sqrt(var + m.bn.eps).float())
            m.bn.bias.copy_((mean + b.double()).float())
        after = torch.cat([model(x[i:i + 8])[0] for i in range(0, len(x), 8)])
    drift = float((after - ref).abs().max())
    print(f"eval output before/after BN statistics: max abs difference {drift:.2e} on {len(x)} tiles")

    import onnxruntime as ort
    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    onnx_out = sess.run(None, {sess.get_inputs()[0].name: x[:1].numpy()})[0]
    parity = float(np.abs(onnx_out - after[:1].numpy()).max())
    print(f"rebuilt model vs ONNX Runtime on one calibration tile: max abs difference {parity:.2e}")
    if parity > 1e-2:
        sys.exit("from_onnx: the rebuilt model does not compute what the ONNX file computes")

    import ultralytics
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "ema": None, "updates": 0, "epoch": -1, "optimizer": None,
                "train_args": {"task": "detect", "imgsz": IMGSZ}, "version": ultralytics.__version__,
                "date": None}, out)
    digest = hashlib.sha256(pathlib.Path(args.onnx).read_bytes()).hexdigest()
    name = pathlib.Path(args.onnx).name
    history = {"onnx": f"{name}, sha256 {digest[:12]}…", "runs": []}
    man = pathlib.Path(args.manifest)
    m = json.loads(man.read_text()) if man.exists() else {}
    if m.get("sha256") == digest:  # the manifest describes this very file
        t = m.get("training", {})
        history["onnx"] = f"{name} {m.get('version')}, sha256 {digest[:12]}…"
        history["runs"] = [{"run": t.get("run"), "epochs": t.get("epochs_completed"),
                            "train_seconds": t.get("train_seconds"), "data": None}] + t.get("continued_from", [])
    (out.with_suffix(".json")).write_text(json.dumps(history, indent=1) + "\n")
    print(f"wrote {out} (and {out.with_suffix('.json')}); parity {parity:.2e}")


if __name__ == "__main__":
    main()
