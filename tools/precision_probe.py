#!/usr/bin/env python3
"""Measures what the `ocr` stage's precision choice rests on (ocr::Precision): model
times in ONNX Runtime f32, OpenVINO f32 and OpenVINO bf16; how far bf16 detection
moves boxes; and OpenVINO's memory over many recogniser widths.

Run through tools/precision-probe.sh (it installs openvino into .venv-bench):

    tools/precision-probe.sh            # all three parts
    tools/precision-probe.sh timings    # one part: timings, boxes, memory or headf32

Same model files as the stage (models/ppocr), 2 threads everywhere.
- timings: a batch of six 48x320 lines (recogniser) and a 1536x1088 page (detector,
  example_dwg.png resized and normalised as the stage does); median and best of 7
  calls after 2 warm-ups.
- boxes: rapidocr 3.10 in the bench's matched mode, detection only, with its detector
  on ONNX Runtime f32 and on OpenVINO bf16, on the fixture drawings and the synthetic
  fixtures; for each f32 box the nearest bf16 box, by its largest edge difference.
- memory: peak resident memory of a fresh process running the recogniser in bf16 on
  widths 361..1000 px (every 16 px, 40 widths), three passes, against 120 calls at one
  width of 1000 px.
- headf32 (not in `all`): whether keeping the detector's head in f32 saves bf16 detection.
  The detector is cut at the head's input (the neck's concatenation): the body runs in
  OpenVINO bf16 and the head in ONNX Runtime f32, against the whole detector in OpenVINO
  bf16, on the three fixture drawings at the stage's detector size. Reported: pixels of the
  probability map on the other side of the 0.3 threshold from ONNX Runtime f32, the largest
  difference in probability, and the time per page. Also the whole detector with every op
  marked `disable_fp16_compression` (rt_info), OpenVINO's own keep-in-f32 mark. Needs `onnx`
  (for the cut).
- f32bound (not in `all`): what limits all-f32 inference with ONNX Runtime, the `ocr`
  stage's arithmetic on a CPU without bf16 and rapidocr's everywhere. For the recogniser
  (six 48x320 lines) and the detector (1536x1088 page): the share of kernel time per
  operator type (ONNX Runtime's profiler, 5 calls after a first left out), the
  convolutions' arithmetic rate (multiply-adds from the profiled shapes, which count the
  channels ONNX Runtime pads to blocks of 8, over their kernel time), the time with 1
  thread against 2 (what two single-threaded lanes could win at most: 2 / that ratio),
  and the recogniser's time per line in calls of 1, 6, 12 and 24 lines.
"""

import collections
import glob
import json
import os
import resource
import tempfile
import subprocess
import sys
import time

import cv2
import numpy as np
import onnxruntime as ort
import openvino as ov

MODELS = "models/ppocr"
REC = f"{MODELS}/PP-OCRv6_rec_small.onnx"
DET = f"{MODELS}/PP-OCRv6_det_small.onnx"
THREADS = 2


def det_page(path):
    """A fixture drawing as the stage feeds the detector: longer side 1536, sides rounded to 32."""
    gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    h, w = gray.shape
    s = 1536 / max(h, w)
    size = (int(round(w * s / 32) * 32), int(round(h * s / 32) * 32))
    x = cv2.resize(gray, size).astype(np.float32) / 127.5 - 1.0
    return np.repeat(x[None, None], 3, axis=1)


def det_input():
    return det_page("tests/fixtures/drawings/example_dwg.png")  # 1536x1088


def rec_input():
    x = np.random.default_rng(0).uniform(-1, 1, (6, 3, 48, 320)).astype(np.float32)
    x[..., 100:] = 0.0  # short lines padded to 320, as most are
    return x


def timed(run, n=7):
    for _ in range(2):
        run()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        run()
        ts.append((time.perf_counter() - t) * 1000)
    return np.median(ts), min(ts)


def ort_run(path, x, threads=THREADS, profile_prefix=None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    run = lambda: s.run(None, {name: x})
    if profile_prefix:
        run.end_profiling = s.end_profiling
    return run


def ov_run(path, x, precision):
    core = ov.Core()
    cm = core.compile_model(
        core.read_model(path),
        "CPU",
        {
            "INFERENCE_NUM_THREADS": THREADS,
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY",
        },
    )
    req = cm.create_infer_request()
    return lambda: req.infer({0: x})


def timings():
    print("model times, ms (median / best of 7, 2 threads)")
    print("| model | input | onnxruntime f32 | openvino f32 | openvino bf16 |")
    print("|---|---|---:|---:|---:|")
    for name, path, x in [("rec", REC, rec_input()), ("det", DET, det_input())]:
        cells = [
            timed(ort_run(path, x)),
            timed(ov_run(path, x, "f32")),
            timed(ov_run(path, x, "bf16")),
        ]
        shape = "x".join(map(str, x.shape))
        print(f"| {name} | {shape} | " + " | ".join(f"{m:.0f} / {b:.0f}" for m, b in cells) + " |")


def conv_macs(event):
    """Multiply-adds of one profiled Conv: output elements x (input channels per group x
    kernel area), from the shapes ONNX Runtime records (weight [Cout, Cin/g, kh, kw])."""
    shapes = [list(d.values())[0] for d in event["args"].get("input_type_shape", [])]
    outs = [list(d.values())[0] for d in event["args"].get("output_type_shape", [])]
    if len(shapes) < 2 or not outs or len(shapes[1]) != 4:
        return 0
    return int(np.prod(outs[0])) * int(np.prod(shapes[1][1:]))


def profile(path, x, calls=5):
    """Kernel microseconds per operator type and Conv multiply-adds, per call, over
    `calls` calls after a first one that is left out (allocations, first-run work)."""
    with tempfile.TemporaryDirectory() as tmp:
        run = ort_run(path, x, profile_prefix=os.path.join(tmp, "p"))
        for _ in range(calls + 1):
            run()
        events = json.load(open(run.end_profiling()))
    runs = sorted(
        (e["ts"], e["ts"] + e["dur"])
        for e in events
        if e.get("cat") == "Session" and e["name"] == "model_run"
    )[1:]
    per_op, macs = collections.Counter(), 0
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        if not any(start <= e["ts"] <= end for start, end in runs):
            continue
        op = e["args"]["op_name"]
        per_op[op] += e["dur"]
        if op == "Conv":
            macs += conv_macs(e)
    return {k: v / len(runs) for k, v in per_op.items()}, macs / len(runs)


def f32bound():
    for name, path, x in [("rec", REC, rec_input()), ("det", DET, det_input())]:
        shape = "x".join(map(str, x.shape))
        per_op, macs = profile(path, x)
        total = sum(per_op.values())
        top = ", ".join(
            f"{op} {100 * us / total:.0f}%" for op, us in sorted(per_op.items(), key=lambda kv: -kv[1])[:6]
        )
        conv_s = per_op.get("Conv", 0) / 1e6
        print(f"{name} {shape}: kernel time {total / 1000:.0f} ms per call: {top}")
        if conv_s > 0:
            print(
                f"{name}: convolutions {macs / 1e9:.2f} G multiply-adds per call in {conv_s * 1000:.0f} ms:"
                f" {2 * macs / conv_s / 1e9:.0f} GFLOP/s on {THREADS} threads"
            )
        one, _ = timed(ort_run(path, x, threads=1))
        two, _ = timed(ort_run(path, x, threads=2))
        print(
            f"{name}: 1 thread {one:.0f} ms, 2 threads {two:.0f} ms (median of 7): scaling {one / two:.2f},"
            f" two 1-thread lanes at most {2 * two / one:.2f}x the throughput of one 2-thread engine"
        )
    run_line = []
    for b in (1, 6, 12, 24):
        x = np.repeat(rec_input()[:1], b, axis=0)
        med, _ = timed(ort_run(REC, x))
        run_line.append(f"{b}: {med / b:.1f}")
    print("rec ms per line by lines per call (median of 7): " + ", ".join(run_line))


def boxes():
    sys.path.insert(0, "tools")
    import argparse

    import rapidocr.inference_engine.openvino.device_config as dc
    import rapidocr_bench as rb
    from rapidocr import EngineType, RapidOCR

    plain = dc.CPUConfig.get_config

    def bf16(self):
        c = plain(self)
        c["INFERENCE_PRECISION_HINT"] = "bf16"
        return c

    dc.CPUConfig.get_config = bf16
    args = argparse.Namespace(models=MODELS, threads=THREADS, mode="matched", det_limit_side_len=1536)
    p = rb.params_for(args)
    f32 = RapidOCR(params=p)
    p_bf16 = dict(p)
    p_bf16.update(
        {"Det.engine_type": EngineType.OPENVINO, "EngineConfig.openvino.inference_num_threads": THREADS}
    )
    low = RapidOCR(params=p_bf16)
    images = sorted(
        glob.glob("tests/fixtures/drawings/*.jpg")
        + glob.glob("tests/fixtures/drawings/*.png")
        + glob.glob("tests/fixtures/synthetic/*.png")
    )

    def bbox(q):
        q = np.asarray(q)
        return np.array([q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()])

    diffs, far, total = [], 0, 0
    for path in images:
        img = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2BGR)
        a = [bbox(q) for q in f32(img, use_cls=False, use_rec=False).boxes]
        b = [bbox(q) for q in low(img, use_cls=False, use_rec=False).boxes]
        for x in a:
            total += 1
            d = min((np.abs(x - y).max() for y in b), default=1e9)
            if d > 20:
                far += 1
            else:
                diffs.append(d)
        print(f"{path}: {len(a)} boxes in f32, {len(b)} in bf16")
    diffs = np.array(diffs)
    within = ", ".join(f"<= {t} px {100 * (diffs <= t).sum() / total:.1f} %" for t in (1, 2, 4, 8))
    print(f"detector bf16 vs f32: {total} boxes; largest edge difference {within}; "
          f"{far} with no bf16 box within 20 px (split or merged)")


HEAD_INPUT = "p2o.pd_op.concat.1.0"  # PP-OCRv6 det: the neck's concatenation feeding the DB head


def headf32():
    import os
    import tempfile

    from onnx.utils import extract_model

    pages = [det_page(p) for p in sorted(glob.glob("tests/fixtures/drawings/*.[jp][pn]g"))]
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    full = ort.InferenceSession(DET, so, providers=["CPUExecutionProvider"])
    name, out = full.get_inputs()[0].name, full.get_outputs()[0].name
    ref = [full.run(None, {name: x})[0] for x in pages]
    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": THREADS, "INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY"}
    whole = core.compile_model(core.read_model(DET), "CPU", cfg).create_infer_request()
    # The rt_info mark that keeps a node out of reduced precision in OpenVINO's own passes
    # (ov::disable_fp16_compression), set on every op: does the CPU plugin honour it for bf16?
    marked_model = core.read_model(DET)
    for op in marked_model.get_ordered_ops():
        op.get_rt_info()["disable_fp16_compression_0"] = ""
    marked = core.compile_model(marked_model, "CPU", cfg).create_infer_request()
    with tempfile.TemporaryDirectory() as tmp:
        body_path, head_path = os.path.join(tmp, "body.onnx"), os.path.join(tmp, "head.onnx")
        extract_model(DET, body_path, [name], [HEAD_INPUT])
        extract_model(DET, head_path, [HEAD_INPUT], [out])
        body = core.compile_model(core.read_model(body_path), "CPU", cfg).create_infer_request()
        head = ort.InferenceSession(head_path, so, providers=["CPUExecutionProvider"])

    def split(x):
        return head.run(None, {HEAD_INPUT: body.infer({0: x})[0]})[0]

    print("detector on the 3 fixture drawings, against ONNX Runtime f32 "
          f"({sum(r.size for r in ref)} probability-map pixels)")
    print("| detector | pixels across the 0.3 threshold | largest difference | ms per page (median of 5, first page) |")
    print("|---|---:|---:|---:|")
    for label, run in [("OpenVINO bf16, whole", lambda x: whole.infer({0: x})[0]),
                       ("OpenVINO bf16, every op marked disable_fp16_compression", lambda x: marked.infer({0: x})[0]),
                       ("OpenVINO bf16 body + ONNX Runtime f32 head", split)]:
        outs = [np.array(run(x)) for x in pages]
        flips = sum(int(((a > 0.3) != (b > 0.3)).sum()) for a, b in zip(outs, ref))
        diff = max(float(np.abs(a - b).max()) for a, b in zip(outs, ref))
        ms, _ = timed(lambda: run(pages[0]), n=5)
        print(f"| {label} | {flips} | {diff:.3f} | {ms:.0f} |")


def memory_child(widths):
    core = ov.Core()
    cm = core.compile_model(
        core.read_model(REC),
        "CPU",
        {"INFERENCE_NUM_THREADS": THREADS, "INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY"},
    )
    req = cm.create_infer_request()
    for w in widths:
        req.infer({0: np.zeros((6, 3, 48, w), np.float32)})
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def memory():
    runs = {
        "40 widths 361..1000 px, 3 passes (120 calls)": list(range(361, 1001, 16)) * 3,
        "one width, 1000 px (120 calls)": [1000] * 120,
    }
    for label, widths in runs.items():
        out = subprocess.run(
            [sys.executable, __file__, "memory-child", ",".join(map(str, widths))],
            check=True, capture_output=True, text=True,
        )
        print(f"openvino bf16 recogniser, {label}: peak RSS {out.stdout.strip()} MB")


def main():
    part = sys.argv[1] if len(sys.argv) > 1 else "all"
    if part == "memory-child":
        memory_child([int(w) for w in sys.argv[2].split(",")])
        return
    print(f"onnxruntime {ort.__version__}, openvino {ov.__version__}")
    for name, f in [("timings", timings), ("boxes", boxes), ("memory", memory)]:
        if part in ("all", name):
            f()
    if part == "headf32":
        headf32()
    if part == "f32bound":
        f32bound()


if __name__ == "__main__":
    main()
