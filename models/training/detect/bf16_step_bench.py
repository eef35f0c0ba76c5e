"""Times one YOLO11n forward + backward pass on a batch of 640x640 tiles in f32 and under
torch's CPU bf16 autocast (what `train.py --bf16` switches on), alternating, after one warm-up
each. Random weights and inputs: the figure is the arithmetic's cost, not a training result.

    .venv-train/bin/python models/training/detect/bf16_step_bench.py --runs 3
"""
from __future__ import annotations

import argparse
import time

import torch
from ultralytics.nn.tasks import DetectionModel


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = DetectionModel("yolo11n.yaml", nc=14, verbose=False).train()
    x = torch.randn(args.batch, 3, 640, 640)

    def step(bf16: bool):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        parts = out.values() if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else [out]
        loss = sum(p.float().sum() for p in parts if torch.is_tensor(p))
        loss.backward()
        model.zero_grad(set_to_none=True)

    times = {False: [], True: []}
    for bf16 in times:
        step(bf16)
    for _ in range(args.runs):
        for bf16 in times:
            t = time.perf_counter()
            step(bf16)
            times[bf16].append(time.perf_counter() - t)
    f32, bf = (sorted(times[k]) for k in (False, True))
    print(f"forward+backward, batch {args.batch} at 640, {args.threads} threads, {args.runs} runs each")
    print(f"f32:  {' '.join(f'{t:.2f}' for t in times[False])} s (median {f32[len(f32) // 2]:.2f})")
    print(f"bf16: {' '.join(f'{t:.2f}' for t in times[True])} s (median {bf[len(bf) // 2]:.2f})")
    print(f"ratio f32/bf16 (medians): {f32[len(f32) // 2] / bf[len(bf) // 2]:.2f}x")


if __name__ == "__main__":
    main()
