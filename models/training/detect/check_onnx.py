"""Checks the exported detector with ONNX Runtime (the runtime drawpipe uses).

    python models/training/detect/check_onnx.py [--onnx models/detect/yolo11n-drawings.onnx] \
        [--ref /tmp/drawpipe-detect/runs/NAME/onnx_reference.npz]

Needs numpy and onnxruntime (e.g. a throwaway venv with the pinned wheel from models/cache:
`python3 -m venv /tmp/ortvenv && /tmp/ortvenv/bin/pip install models/cache/onnxruntime-1.32.0-*.whl`);
`onnx` is used when importable. Verifies the sha256 in models/detect/manifest.json, prints input
and output names/shapes/types, asserts [1,3,640,640] -> [1,18,8400], runs the reference tile that
train.py saved and compares with the PyTorch output, and prints the decoded detections (conf >= 0.25,
class-wise NMS) next to the tile's labels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib

import numpy as np
import onnxruntime as ort

HERE = pathlib.Path(__file__).resolve().parent
DETECT = HERE.parents[2] / "models" / "detect"


def nms(boxes, scores, iou):
    order = np.argsort(-scores)
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        if len(order) == 1:
            break
        xx0 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy0 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx1 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy1 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        o = inter / (area[i] + area[order[1:]] - inter + 1e-9)
        order = order[1:][o < iou]
    return keep


def decode(out, conf=0.25, iou=0.7):
    """[1, 4+nc, 8400] -> list of (class, score, x0, y0, x1, y1) in input pixels."""
    p = out[0].T  # 8400 x (4+nc)
    cls = p[:, 4:].argmax(1)
    score = p[np.arange(len(p)), 4 + cls]
    m = score >= conf
    xywh, cls, score = p[m, :4], cls[m], score[m]
    boxes = np.stack([xywh[:, 0] - xywh[:, 2] / 2, xywh[:, 1] - xywh[:, 3] / 2,
                      xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2], 1)
    dets = []
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        for k in nms(boxes[idx], score[idx], iou):
            j = idx[k]
            dets.append((int(c), float(score[j]), *map(float, boxes[j])))
    return sorted(dets, key=lambda d: -d[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", default=str(DETECT / "yolo11n-drawings.onnx"))
    ap.add_argument("--manifest", default=None, help="default: manifest.json next to the ONNX file")
    ap.add_argument("--ref", default=None, help="onnx_reference.npz from train.py (default: from the manifest)")
    args = ap.parse_args()

    path = pathlib.Path(args.onnx)
    man_path = pathlib.Path(args.manifest) if args.manifest else path.parent / "manifest.json"
    man = json.loads(man_path.read_text()) if man_path.exists() else {}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path} sha256 {digest} ({path.stat().st_size / 1e6:.1f} MB)")
    if man:
        assert man["sha256"] == digest, f"sha256 mismatch with {man_path}"
        print(f"  matches {man_path}")
    names = man.get("classes") or [str(i) for i in range(14)]

    try:
        import onnx
        m = onnx.load(str(path))
        onnx.checker.check_model(m)
        for kind, vis in (("input", m.graph.input), ("output", m.graph.output)):
            for vi in vis:
                dims = [d.dim_value or d.dim_param for d in vi.type.tensor_type.shape.dim]
                print(f"  onnx {kind}: {vi.name} {onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type)} {dims}")
        print(f"  opset {[(o.domain or 'ai.onnx', o.version) for o in m.opset_import]}, "
              f"producer {m.producer_name} {m.producer_version}")
    except ImportError:
        pass

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ins, outs = sess.get_inputs(), sess.get_outputs()
    for i in ins:
        print(f"  ort input: {i.name} {i.type} {i.shape}")
    for o in outs:
        print(f"  ort output: {o.name} {o.type} {o.shape}")
    assert len(ins) == 1 and list(ins[0].shape) == [1, 3, 640, 640]
    assert len(outs) == 1 and list(outs[0].shape) == [1, 4 + len(names), 8400]
    print(f"onnxruntime {ort.__version__}: shapes OK")

    ref = args.ref or man.get("onnx_reference_npz")
    if ref and pathlib.Path(ref).exists():
        z = np.load(ref)
        got = sess.run(None, {ins[0].name: z["images"].astype(np.float32)})[0]
        diff = np.abs(got - z["output0"])
        print(f"reference tile {z['tile']}: max |onnx - torch| = {diff.max():.2e} "
              f"(boxes {diff[0, :4].max():.2e}, scores {diff[0, 4:].max():.2e})")
        assert diff[0, 4:].max() < 1e-3 and diff[0, :4].max() < 0.05, "ONNX and PyTorch disagree"
        dets = decode(got)
        print(f"  {len(dets)} detections (conf >= 0.25):")
        for c, s, x0, y0, x1, y1 in dets[:20]:
            print(f"    {names[c]:18s} {s:.2f}  [{x0:.0f}, {y0:.0f}, {x1:.0f}, {y1:.0f}]")
        lbl = pathlib.Path(str(z["tile"]).replace("/images/", "/labels/")).with_suffix(".txt")
        if lbl.exists():
            print("  labels:")
            for line in lbl.read_text().split("\n"):
                if line.strip():
                    c, x, y, w, h = line.split()
                    x, y, w, h = (float(v) * 640 for v in (x, y, w, h))
                    print(f"    {names[int(c)]:18s}       [{x - w / 2:.0f}, {y - h / 2:.0f}, {x + w / 2:.0f}, {y + h / 2:.0f}]")
    else:
        print("no reference npz; parity not checked")


if __name__ == "__main__":
    main()
