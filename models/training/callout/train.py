"""Trains the callout recogniser: a small CRNN (convolutions, one bidirectional LSTM,
CTC) on synthetic callout crops plus the real line crops of the *tune* vector PDFs,
with a wall-clock budget; exports ONNX (input `x` [N, 1, 32, W], output `probs`
[N, W/4, classes] softmax) to models/callout/.

    python train.py --synth /tmp/drawpipe-callout/synth-train.npz \
        --real /tmp/drawpipe-callout/real-tune --minutes 30 --out /tmp/drawpipe-callout/run
"""

import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from common import CHARSET, HEIGHT, encode, lev, to_input  # noqa: E402

CLASSES = len(CHARSET) + 1


class Crnn(nn.Module):
    def __init__(self):
        super().__init__()

        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

        self.cnn = nn.Sequential(
            *block(1, 32), nn.MaxPool2d(2, 2),             # 16 x W/2
            *block(32, 64), nn.MaxPool2d(2, 2),            # 8 x W/4
            *block(64, 128), *block(128, 128), nn.MaxPool2d((2, 1), (2, 1)),   # 4 x W/4
            *block(128, 192), *block(192, 192), nn.MaxPool2d((2, 1), (2, 1)),  # 2 x W/4
            nn.Conv2d(192, 256, (2, 1), bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True),  # 1 x W/4
        )
        self.rnn = nn.LSTM(256, 128, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(256, CLASSES)

    def forward(self, x):
        f = self.cnn(x).squeeze(2).permute(0, 2, 1)  # N, T, 256
        f, _ = self.rnn(f)
        return self.fc(f)  # logits N, T, C


class Export(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return torch.softmax(self.m(x), -1)


def load_synth(path):
    z = np.load(path, allow_pickle=True)
    px, widths, labels = z["pixels"], z["widths"], list(z["labels"])
    out, o = [], 0
    for w, l in zip(widths, labels):
        n = HEIGHT * int(w)
        out.append((px[o:o + n].reshape(HEIGHT, int(w)), l))
        o += n
    return out


def load_real(folder):
    out = []
    for line in open(os.path.join(folder, "labels.jsonl")):
        r = json.loads(line)
        img = Image.open(os.path.join(folder, "img", r["file"]))
        a = to_input(img)[0]
        u8 = np.clip((a * 0.5 + 0.5) * 255, 0, 255).astype(np.uint8)
        out.append((u8, r["text"], r))
    return out


def batches(items, bs, rng):
    """Width-bucketed batches: sort a shuffled pool by width, cut, shuffle the cuts."""
    idx = list(range(len(items)))
    rng.shuffle(idx)
    out = []
    for s in range(0, len(idx), bs * 50):
        pool = sorted(idx[s:s + bs * 50], key=lambda i: items[i][0].shape[1])
        out += [pool[k:k + bs] for k in range(0, len(pool), bs)]
    rng.shuffle(out)
    return out


def tensor(items, ids):
    W = max(items[i][0].shape[1] for i in ids)
    W = (W + 7) // 8 * 8
    x = np.full((len(ids), 1, HEIGHT, W), 1.0, np.float32)
    for k, i in enumerate(ids):
        a = items[i][0]
        x[k, 0, :, :a.shape[1]] = (a.astype(np.float32) / 255.0 - 0.5) / 0.5
    targets = [torch.tensor(encode(items[i][1]), dtype=torch.long) for i in ids]
    return torch.from_numpy(x), targets


def greedy(logits):
    best = logits.argmax(-1).numpy()
    out = []
    for row in best:
        s, prev = [], 0
        for k in row:
            if k != 0 and k != prev:
                s.append(CHARSET[k - 1])
            prev = k
        out.append("".join(s))
    return out


def evaluate(model, items, bs=1):
    """CER and exact-line rate, one crop at a time (as eval.py reads them; the
    figures while training in padded batches of 64 came out worse than those)."""
    model.eval()
    errs = chars = exact = 0
    with torch.no_grad():
        for s in range(0, len(items), bs):
            ids = list(range(s, min(len(items), s + bs)))
            x, _ = tensor(items, ids)
            for i, p in zip(ids, greedy(model(x))):
                t = items[i][1]
                errs += lev(p, t)
                chars += len(t)
                exact += p == t
    model.train()
    return errs / max(1, chars), exact / max(1, len(items))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synth", required=True)
    ap.add_argument("--val", help="held-out synthetic npz (other seed)")
    ap.add_argument("--real", help="real tune crops folder (real_crops.py --split tune)")
    ap.add_argument("--real-repeat", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--bs", type=int, default=48)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--init", help="continue from this state_dict")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    items = load_synth(a.synth)
    n_synth = len(items)
    real = load_real(a.real) if a.real else []
    items += [(u8, t) for u8, t, _ in real] * a.real_repeat
    val = load_synth(a.val)[:2000] if a.val else []
    print(f"train: {n_synth} synthetic + {len(real)} real x{a.real_repeat}; val {len(val)}", flush=True)
    model = Crnn()
    if a.init:
        model.load_state_dict(torch.load(a.init))
    print(f"parameters: {sum(p.numel() for p in model.parameters())}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    budget = a.minutes * 60
    t0 = time.time()
    step, epoch, log = 0, 0, []
    done = False
    while not done:
        epoch += 1
        for ids in batches(items, a.bs, rng):
            el = time.time() - t0
            if el > budget:
                done = True
                break
            # one-cycle-like: warm up 3 %, cosine to 2 % of the peak over the budget
            frac = el / budget
            lr = a.lr * (frac / 0.03 if frac < 0.03 else 0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * (frac - 0.03) / 0.97)))
            for g in opt.param_groups:
                g["lr"] = lr
            x, targets = tensor(items, ids)
            logits = model(x)
            lp = logits.log_softmax(-1).permute(1, 0, 2)
            T = lp.shape[0]
            loss = ctc(lp, torch.cat(targets), torch.full((len(ids),), T, dtype=torch.long),
                       torch.tensor([len(t) for t in targets], dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            if step % 200 == 0:
                msg = {"step": step, "epoch": epoch, "min": round(el / 60, 1), "loss": round(float(loss), 4), "lr": round(lr, 6)}
                if val and step % 1000 == 0:
                    cer, acc = evaluate(model, val[:500])
                    msg.update(val_cer=round(cer, 4), val_exact=round(acc, 4))
                print(json.dumps(msg), flush=True)
                log.append(msg)
    torch.save(model.state_dict(), os.path.join(a.out, "last.pt"))
    summary = {"steps": step, "epochs": epoch, "minutes": round((time.time() - t0) / 60, 1),
               "train_synthetic": n_synth, "train_real": len(real), "real_repeat": a.real_repeat,
               "batch": a.bs, "lr": a.lr, "seed": a.seed}
    if val:
        cer, acc = evaluate(model, val)
        summary.update(val_cer=cer, val_exact=acc, val_n=len(val))
    json.dump({"summary": summary, "log": log}, open(os.path.join(a.out, "train.json"), "w"), indent=1)
    model.eval()
    x = torch.from_numpy(to_input(Image.new("L", (200, 32), 255))[None])
    torch.onnx.export(Export(model), x, os.path.join(a.out, "callout-rec.onnx"), input_names=["x"],
                      output_names=["probs"], dynamic_axes={"x": {0: "n", 3: "w"}, "probs": {0: "n", 1: "t"}},
                      opset_version=17, dynamo=False)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
