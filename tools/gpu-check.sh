#!/usr/bin/env bash
# GPU check for the `ocr` stage (issue 3): on a machine with an NVIDIA GPU, one command
# that installs the CUDA 13 runtime wheels ONNX Runtime 1.31.1 needs, unpacks the CUDA
# build of ONNX Runtime (models/fetch.sh --gpu), builds drawpipe-ocr-bench and reads
# the fixture drawings on cuda:0 and on the CPU, then prints per-image times, the
# speedup, the batched speedup (recogniser inferences of 6 lines vs --big-batch lines,
# the same readings, and the three drawings fused into one call) and GPU memory used.
#
#   tools/gpu-check.sh                  # 3 timed runs per image, after 1 warm-up
#   tools/gpu-check.sh --runs 5 --big-batch 64
#   tools/gpu-check.sh --prepare        # no GPU needed: install, fetch, build, and check
#                                         # that the CUDA provider's libraries all resolve
#
# On a machine with no network or no cargo (the project's lent GPU machine), bring the
# parts instead (tools/gpu-bundle.sh packs them; tools/gpu-bundle-run.sh unpacks
# them there and calls this script with these):
#   --bench PATH        a built drawpipe-ocr-bench (skips the build)
#   --ort-dylib PATH    the CUDA build's libonnxruntime.so (skips models/fetch.sh --gpu)
#   --cuda-libs DIRS    colon-separated folders holding the CUDA 13 libraries (skips
#                       the wheels)
#   --image PATH        an image to read (repeatable; default the three fixtures)
#
# Needs: nvidia-smi and a driver for CUDA 13 (580 or newer), python3 with venv and pip,
# cargo, unzip, sha256sum, and PyPI (about 2 GB of wheels the first time; later runs
# reuse .venv-gpu/ and models/cache/). Results land in out/gpu-check/ (JSON per run).
# Takes under 5 minutes once the wheels are cached and the release build is done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-gpu"
OUT="$ROOT/out/gpu-check"
RUNS=3
BIG_BATCH=32
DEVICE="cuda:0"
PREPARE=0
BENCH=""
ORT_DYLIB=""
CUDA_LIBS=""
IMAGES=()

say() { printf 'gpu-check: %s\n' "$*" >&2; }
die() { printf 'gpu-check: error: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --big-batch) BIG_BATCH="$2"; shift 2 ;;
        --device) DEVICE="$2"; shift 2 ;;
        --prepare) PREPARE=1; shift ;;
        --bench) BENCH="$(realpath "$2")"; shift 2 ;;
        --ort-dylib) ORT_DYLIB="$(realpath "$2")"; shift 2 ;;
        --cuda-libs) CUDA_LIBS="$2"; shift 2 ;;
        --image) IMAGES+=("$(realpath "$2")"); shift 2 ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
done
GPU_INDEX="${DEVICE#cuda:}"

if [[ $PREPARE == 0 ]]; then
    command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this check needs an NVIDIA GPU and its driver (--prepare sets up without one)"
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader -i "$GPU_INDEX" \
        || die "nvidia-smi cannot see GPU $GPU_INDEX"
fi

# 1. CUDA 13 runtime libraries as PyPI wheels: what onnxruntime-gpu 1.31.1's `cuda` and
#    `cudnn` extras pull in (its METADATA: nvidia-cuda-runtime~=13.0,
#    nvidia-cuda-nvrtc~=13.0, nvidia-cufft~=12.0, nvidia-curand~=10.0,
#    nvidia-cudnn-cu13~=9.0), and cuBLAS 13, which its CUDA provider links.
#    Installed by name rather than through onnxruntime-gpu itself, whose wheel is
#    per-Python, so that any python3 will do.
NVIDIA_WHEELS=(
    "nvidia-cuda-runtime~=13.0"
    "nvidia-cuda-nvrtc~=13.0"
    "nvidia-cublas~=13.0"
    "nvidia-cufft~=12.0"
    "nvidia-curand~=10.0"
    "nvidia-cudnn-cu13~=9.0"
)
if [[ -z "$CUDA_LIBS" ]]; then
    if [[ ! -f "$VENV/.installed-cu13" ]]; then
        say "installing the CUDA 13 runtime wheels into $VENV"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${NVIDIA_WHEELS[@]}"
        touch "$VENV/.installed-cu13"
    fi
    CUDA_LIBS="$(find "$VENV"/lib/python3*/site-packages/nvidia -maxdepth 2 -type d -name lib | sort | paste -sd:)"
    [[ -n "$CUDA_LIBS" ]] || die "no nvidia/*/lib folders in $VENV; delete it and rerun"
fi
export LD_LIBRARY_PATH="$CUDA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 2. The CUDA build of ONNX Runtime (and the models), pinned and checksummed.
if [[ -z "$ORT_DYLIB" ]]; then
    models/fetch.sh --gpu
    ORT_DYLIB="$ROOT/models/runtime/onnxruntime-gpu/libonnxruntime.so"
fi
export DRAWPIPE_ORT_DYLIB="$ORT_DYLIB"

# 3. The bench.
if [[ -z "$BENCH" ]]; then
    say "building drawpipe-ocr-bench (release)"
    cargo build --release --quiet -p drawpipe-workers --bin drawpipe-ocr-bench
    BENCH="$ROOT/target/release/drawpipe-ocr-bench"
fi

# Every library the CUDA provider links must resolve; only the driver's libcuda.so.1
# may be missing on a machine without a GPU.
PROVIDER="$(dirname "$ORT_DYLIB")/libonnxruntime_providers_cuda.so"
[[ -f "$PROVIDER" ]] || die "no $PROVIDER beside $ORT_DYLIB"
MISSING="$(ldd "$PROVIDER" | awk '/not found/ {print $1}' | paste -sd' ')"
if [[ $PREPARE == 1 ]]; then
    [[ -z "${MISSING/libcuda.so.1/}" ]] || die "the CUDA provider cannot find: $MISSING (CUDA libraries: $CUDA_LIBS)"
    say "ready: the CUDA provider's libraries resolve${MISSING:+ (all but $MISSING, which the NVIDIA driver brings)}; the bench is $BENCH"
    exit 0
fi
[[ -z "$MISSING" ]] || die "the CUDA provider cannot find: $MISSING (CUDA libraries: $CUDA_LIBS; libcuda.so.1 comes with the driver)"
mkdir -p "$OUT"

mem_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "$GPU_INDEX"; }

# run NAME LIMIT_S ARGS...: runs the bench for at most LIMIT_S seconds, sampling GPU
# memory every 0.2 s; the peak goes to $OUT/NAME.mem (MiB).
run() {
    local name="$1" limit="$2"; shift 2
    local peak=0 m pid
    timeout "$limit" "$BENCH" --skip-rapidocr --runs "$RUNS" --json "$OUT/$name.json" "$@" "${IMAGES[@]}" \
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
