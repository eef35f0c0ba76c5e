"""Trains the `segment` stage's GraphSAGE on page graphs and exports it to ONNX.

    # 1. drawings with per-pixel labels (models/training/synth)
    (cd models/training && ../../.venv-synth/bin/python -m synth --out /tmp/seg-data --count 120 --seed 11)
    # 2. page graphs, built by the same Rust code the stage runs
    ./target/release/drawpipe segment-graph /tmp/seg-data/*[0-9].png --out /tmp/seg-graphs
    # 3. train, evaluate on held-out drawings, export
    .venv-train/bin/python models/training/segment/train.py /tmp/seg-graphs

Writes models/segment/graphsage.onnx, manifest.json (sha256, features, classes,
metrics) and MODEL_CARD.md; prints per-class accuracy on the held-out drawings.
The model: x → (x − mean) / std → SAGEConv(19, 64, mean) → ReLU → SAGEConv(64, 3)
→ softmax; mean and std of the training features are baked into the graph so the
stage passes raw features.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import time

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import SAGEConv

CLASSES = ["contour", "text", "dimension"]
OUT = pathlib.Path(__file__).resolve().parents[2] / "segment"


class GraphSage(nn.Module):
    def __init__(self, mean, std, hidden=64):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.conv1 = SAGEConv(19, hidden, aggr="mean")
        self.conv2 = SAGEConv(hidden, len(CLASSES), aggr="mean")
        self.drop = nn.Dropout(0.1)

    def logits(self, x, edge_index):
        h = (x - self.mean) / self.std
        h = torch.relu(self.conv1(h, edge_index))
        h = self.drop(h)
        return self.conv2(h, edge_index)

    def forward(self, x, edge_index):
        return torch.softmax(self.logits(x, edge_index), dim=-1)


def load(path):
    g = json.loads(pathlib.Path(path).read_text())
    x = torch.tensor(g["x"], dtype=torch.float32).reshape(-1, 19)
    e = np.asarray(g["edges"], dtype=np.int64).reshape(-1, 2)
    ei = torch.from_numpy(np.concatenate([e.T, e[:, ::-1].T], axis=1).copy())
    y = torch.tensor(g["y"], dtype=torch.long)
    return x, ei, y


def accuracy(model, graphs):
    model.eval()
    correct = np.zeros(3)
    total = np.zeros(3)
    confusion = np.zeros((3, 3), dtype=np.int64)
    with torch.no_grad():
        for x, ei, y in graphs:
            pred = model.logits(x, ei).argmax(-1)
            m = y >= 0
            for t, p in zip(y[m].tolist(), pred[m].tolist()):
                confusion[t, p] += 1
    total = confusion.sum(1)
    correct = np.diag(confusion)
    per_class = {c: round(float(correct[i] / max(total[i], 1)), 4) for i, c in enumerate(CLASSES)}
    overall = round(float(correct.sum() / max(total.sum(), 1)), 4)
    return overall, per_class, confusion.tolist(), total.tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("graphs", help="folder of <stem>.graph.json")
    ap.add_argument("--held-out", type=float, default=0.2, help="fraction of drawings held out")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)

    files = sorted(pathlib.Path(args.graphs).glob("*.graph.json"))
    assert files, f"no *.graph.json in {args.graphs}"
    n_test = max(1, int(len(files) * args.held_out))
    test_files, train_files = files[:n_test], files[n_test:]
    train = [load(f) for f in train_files]
    test = [load(f) for f in test_files]

    xs = torch.cat([x for x, _, y in train])
    mean = xs.mean(0)
    std = xs.std(0).clamp_min(1e-3)
    ys = torch.cat([y for _, _, y in train])
    counts = torch.bincount(ys[ys >= 0], minlength=3).float()
    weights = (counts.sum() / (3 * counts.clamp_min(1))).sqrt()

    model = GraphSage(mean, std)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    loss_fn = nn.CrossEntropyLoss(weight=weights, ignore_index=-1)
    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for i in rng.permutation(len(train)):
            x, ei, y = train[i]
            opt.zero_grad()
            loss = loss_fn(model.logits(x, ei), y)
            loss.backward()
            opt.step()
            total += float(loss)
        sched.step()
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            acc, per, _, _ = accuracy(model, test)
            print(f"epoch {epoch + 1}: loss {total / len(train):.4f} held-out acc {acc} {per}", flush=True)
    train_s = time.time() - t0
    acc, per_class, confusion, support = accuracy(model, test)
    train_acc, _, _, _ = accuracy(model, train)

    # Export: dynamic node and edge counts.
    model.eval()
    OUT.mkdir(parents=True, exist_ok=True)
    onnx_path = OUT / "graphsage.onnx"
    x0, ei0, _ = test[0]
    torch.onnx.export(
        model,
        (x0, ei0),
        str(onnx_path),
        input_names=["x", "edge_index"],
        output_names=["prob"],
        dynamic_axes={"x": {0: "nodes"}, "edge_index": {1: "edges"}, "prob": {0: "nodes"}},
        opset_version=17,
        dynamo=False,
    )
    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()

    # Reference predictions on one held-out graph, for the Rust equality test.
    with torch.no_grad():
        ref = model(x0, ei0).numpy()
    check = {"graph": test_files[0].name, "nodes": int(x0.shape[0]), "edges": int(ei0.shape[1] // 2),
             "prob_first_32": ref[:32].round(6).tolist(),
             "argmax_counts": np.bincount(ref.argmax(1), minlength=3).tolist()}

    # onnxruntime agrees with torch on that graph, with and without edges.
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(str(onnx_path))
        got = sess.run(None, {"x": x0.numpy(), "edge_index": ei0.numpy()})[0]
        check["onnxruntime_max_abs_diff"] = float(np.abs(got - ref).max())
        lone = sess.run(None, {"x": x0.numpy()[:1], "edge_index": np.zeros((2, 0), np.int64)})[0]
        check["no_edge_graph_ok"] = bool(lone.shape == (1, 3))
    except ImportError:
        pass

    manifest = {
        "name": "drawpipe-segment-graphsage",
        "version": "1.0.0",
        "task": "node classification of vectorised line work: contour / text / dimension",
        "file": "graphsage.onnx",
        "sha256": sha,
        "inputs": {"x": "float32 [nodes, 19], raw features (normalised inside)",
                   "edge_index": "int64 [2, edges], both directions of each proximity edge"},
        "outputs": {"prob": "float32 [nodes, 3], softmax over classes"},
        "classes": CLASSES,
        "features": json.loads(test_files[0].read_text())["features"],
        "architecture": "x → (x − mean)/std → SAGEConv(19, 64, mean) → ReLU → SAGEConv(64, 3) → softmax",
        "training": {"drawings": len(train_files), "held_out_drawings": len(test_files),
                     "nodes": int(xs.shape[0]), "epochs": args.epochs, "seed": args.seed,
                     "class_weights": [round(float(w), 4) for w in weights],
                     "train_seconds": round(train_s, 1)},
        "metrics": {"held_out_accuracy": acc, "held_out_per_class_accuracy": per_class,
                    "held_out_confusion_rows_true_cols_pred": confusion, "held_out_support": support,
                    "train_accuracy": train_acc},
        "check": check,
        "trained_with": f"torch {torch.__version__}, torch-geometric",
        "source": "models/training/segment (train.py) on models/training/synth drawings",
        "licence": "Apache-2.0 (drawpipe); trained with PyTorch (BSD-3-Clause) and PyG (MIT)",
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({"held_out_accuracy": acc, "per_class": per_class, "support": support,
                      "confusion": confusion, "train_accuracy": train_acc,
                      "train_seconds": round(train_s, 1), "check": {k: v for k, v in check.items() if k != "prob_first_32"}},
                     indent=1))


if __name__ == "__main__":
    main()
