#!/usr/bin/env bash
# GPU check for the `ocr` stage (issue 3): on a machine with an NVIDIA GPU, one command
# that installs the CUDA 12 runtime wheels ONNX Runtime 1.31.1 needs, unpacks the CUDA
# build of ONNX Runtime (models/fetch.sh --gpu), builds drawpipe-ocr-bench and reads
# the fixture drawings on cuda:0 and on the CPU, then prints per-image times, the
# speedup, the batched speedup (recogniser inferences of 6 lines vs --big-batch lines,
# the same readings, and the three drawings fused into one call) and GPU memory used.
#
#   scripts/gpu-check.sh                  # 3 timed runs per image, after 1 warm-up
#   scripts/gpu-check.sh --runs 5 --big-batch 64
#
# Needs: nvidia-smi and a driver for CUDA 12, python3 with venv and pip, cargo, unzip,
# sha256sum, and PyPI (about 1 GB of wheels the first time; later runs reuse
# .venv-gpu/ and models/cache/). Results land in out/gpu-check/ (JSON per run).
# Takes under 5 minutes once the wheels are cached and the release build is done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-gpu"
OUT="$ROOT/out/gpu-check"
RUNS=3
BIG_BATCH=32
DEVICE="cuda:0"

say() { printf 'gpu-check: %s\n' "$*" >&2; }
die() { printf 'gpu-check: error: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --big-batch) BIG_BATCH="$2"; shift 2 ;;
        --device) DEVICE="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (try --runs N, --big-batch B, --device cuda:N or --help)" ;;
    esac
done
GPU_INDEX="${DEVICE#cuda:}"

command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this check needs an NVIDIA GPU and its driver"
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader -i "$GPU_INDEX" \
    || die "nvidia-smi cannot see GPU $GPU_INDEX"

# 1. CUDA 12 runtime libraries as PyPI wheels: what onnxruntime-gpu 1.31.1's `cuda` and
#    `cudnn` extras pull in (cudart, nvrtc, cufft, curand; cuDNN 9, which brings cuBLAS).
#    Installed by name rather than through onnxruntime-gpu itself, whose wheel is
#    cp311-only, so that any python3 will do.
NVIDIA_WHEELS=(
    "nvidia-cuda-runtime-cu12>=12.4,<13"
    "nvidia-cuda-nvrtc-cu12>=12.4,<13"
    "nvidia-cublas-cu12>=12.4,<13"
    "nvidia-cufft-cu12>=11.2,<12"
    "nvidia-curand-cu12>=10.3,<11"
    "nvidia-cudnn-cu12>=9.1,<10"
)
if [[ ! -f "$VENV/.installed" ]]; then
    say "installing the CUDA runtime wheels into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${NVIDIA_WHEELS[@]}"
    touch "$VENV/.installed"
fi
LIBS="$(find "$VENV"/lib/python3*/site-packages/nvidia -maxdepth 2 -type d -name lib | sort | paste -sd:)"
[[ -n "$LIBS" ]] || die "no nvidia/*/lib folders in $VENV; delete it and rerun"
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 2. The CUDA build of ONNX Runtime (and the models), pinned and checksummed.
models/fetch.sh --gpu
export DRAWPIPE_ORT_DYLIB="$ROOT/models/runtime/onnxruntime-gpu/libonnxruntime.so"

# 3. The bench.
say "building drawpipe-ocr-bench (release)"
cargo build --release --quiet -p drawpipe-workers --bin drawpipe-ocr-bench
BENCH="$ROOT/target/release/drawpipe-ocr-bench"
mkdir -p "$OUT"

mem_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "$GPU_INDEX"; }

# run NAME LIMIT_S ARGS...: runs the bench for at most LIMIT_S seconds, sampling GPU
# memory every 0.2 s; the peak goes to $OUT/NAME.mem (MiB).
run() {
    local name="$1" limit="$2"; shift 2
    local peak=0 m pid
    timeout "$limit" "$BENCH" --skip-rapidocr --runs "$RUNS" --json "$OUT/$name.json" "$@" \
        > "$OUT/$name.txt" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        m="$(mem_used)"
        if (( m > peak )); then peak=$m; fi
        sleep 0.2
    done
    if ! wait "$pid"; then
        cat "$OUT/$name.txt" >&2
        die "the $name run failed or took over $limit s (output above)"
    fi
    cat "$OUT/$name.txt"
    echo "$peak" > "$OUT/$name.mem"
}

BEFORE="$(mem_used)"
say "GPU $GPU_INDEX memory used before: $BEFORE MiB"
say "reading on $DEVICE (recogniser batch 6)"
run cuda 150 --device "$DEVICE"
say "reading on $DEVICE (recogniser batch $BIG_BATCH)"
run cuda-batch 90 --device "$DEVICE" --rec-infer-batch "$BIG_BATCH" --fused
say "reading on the CPU ($(nproc) threads)"
run cpu 150 --device cpu --threads "$(nproc)"

# 4. Summary.
python3 - "$OUT" "$BEFORE" "$BIG_BATCH" <<'EOF'
import json, sys
out, before, big = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = lambda n: json.load(open(f"{out}/{n}.json"))
peak = lambda n: int(open(f"{out}/{n}.mem").read())
cuda, batch, cpu = load("cuda"), load("cuda-batch"), load("cpu")
mean = lambda v: sum(v) / len(v)
print()
print(f"device: {cuda['device']} ({cuda['device_reason']}); cpu run: {cpu['threads']} threads")
print(f"| image | cuda s (batch 6) | cuda s (batch {big}) | cpu s | cuda speedup | batched speedup |")
print("|---|---:|---:|---:|---:|---:|")
for g, b, c in zip(cuda["images"], batch["images"], cpu["images"]):
    gs, bs, cs = mean(g["ours_s"]), mean(b["ours_s"]), mean(c["ours_s"])
    print(f"| {g['image']} | {gs:.3f} | {bs:.3f} | {cs:.3f} | {cs / gs:.1f}× | {gs / bs:.2f}× |")
    t = g["timings"]
    print(f"|   cuda breakdown, ms | det {t['det_ms']:.0f} | cls {t['cls_ms']:.0f} | rec {t['rec_ms']:.0f} | other {t['other_ms']:.0f} | |")
print()
print(f"images/s: cuda {cuda['ours_images_per_s']:.2f} (batch {big}: {batch['ours_images_per_s']:.2f}), "
      f"cpu {cpu['ours_images_per_s']:.2f}, speedup {cuda['ours_images_per_s'] / cpu['ours_images_per_s']:.1f}×")
print(f"GPU memory used: {before} MiB before, peak {peak('cuda')} MiB during the batch-6 run "
      f"(+{peak('cuda') - before}), {peak('cuda-batch')} MiB with batch {big}")
same = all(g["ours_lines"] == c["ours_lines"] for g, c in zip(cuda["images"], cpu["images"]))
print(f"lines per image, cuda vs cpu: {[g['ours_lines'] for g in cuda['images']]} vs "
      f"{[c['ours_lines'] for c in cpu['images']]}{'' if same else '  (differ)'}")
EOF
