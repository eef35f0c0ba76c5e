#!/usr/bin/env bash
# Packs what tools/gpu-check.sh needs on a GPU machine that has no network, no cargo
# and no OpenCV (the project's lent GPU machine, reached through the session's device
# tool, which carries at most 64 MiB a call with the working tree): the bench built
# without imgcodecs, the OpenCV libraries it links, the CUDA build of ONNX Runtime with
# only one architecture's GPU code (tools/prune_fatbin.py) and the PP-OCR models.
# The CUDA 13 libraries themselves come from the GPU machine's own Python packages.
#
#   tools/gpu-bundle.sh             # sm_90 (H100, H200): parts in .gpu-bundle/1..N
#   tools/gpu-bundle.sh --sm 80     # another architecture; --sm all keeps every one
#
# Then, on the GPU machine, one call per part, in order and back to back (the machine
# keeps what earlier calls left only while it stays warm), each carrying its part:
#   tools/gpu-bundle-run.sh --stage K            (carry .gpu-bundle/K), K = 1..N-1
#   tools/gpu-bundle-run.sh --stage N --run      (carry .gpu-bundle/N)
# The last call unpacks, checks every file's sha256 and runs tools/gpu-check.sh.
# This script prints the exact calls at the end.
#
# Needs: what the build needs (scripts/setup.sh), python3, xz, split, sha256sum, and
# PyPI for models/fetch.sh --gpu the first time. The build goes to target/gpu-bundle/
# (its own feature set, so target/release stays as it is): about 8 minutes the first
# time on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SM=90
OUTDIR="$ROOT/.gpu-bundle"
LIMIT=$((64 * 1024 * 1024)) # the device tool's limit per call, working tree included
MARGIN=$((3 * 1024 * 1024))

say() { printf 'gpu-bundle: %s\n' "$*" >&2; }
die() { printf 'gpu-bundle: error: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --sm) SM="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (try --sm N or --help)" ;;
    esac
done
[[ "$SM" == all || "$SM" =~ ^[0-9]+$ ]] || die "--sm takes a number such as 90, or all"
for tool in python3 xz split sha256sum strip ldd; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
STAGE="$TMP/root"
mkdir -p "$STAGE"/{bin,lib,ort,models/ppocr}

# 1. ONNX Runtime's CUDA build and the models, pinned and checksummed.
models/fetch.sh --gpu >&2
GPU_DIR=models/runtime/onnxruntime-gpu

# 2. The bench, without imgcodecs (it reads PGM; the GPU machine's Python converts the
#    fixture drawings), stripped.
say "building drawpipe-ocr-bench without imgcodecs into target/gpu-bundle (release)"
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --release --quiet \
    -p drawpipe-workers --bin drawpipe-ocr-bench --no-default-features \
    --target-dir target/gpu-bundle
BENCH=target/gpu-bundle/release/drawpipe-ocr-bench
strip -o "$STAGE/bin/drawpipe-ocr-bench" "$BENCH"
if readelf -d "$BENCH" | grep -q imgcodecs; then
    die "$BENCH still links libopencv_imgcodecs"
fi

# 3. The shared libraries it links, but the C library's own and the C++ runtime, which
#    the GPU machine has in newer versions.
LINKED="$(ldd "$BENCH")"
MISSING="$(awk '/not found/ {print $1}' <<<"$LINKED" | paste -sd' ')"
[[ -z "$MISSING" ]] || die "$BENCH has unresolved libraries here: $MISSING"
awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<<"$LINKED" | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so.*|libm.so.*|libdl.so.*|librt.so.*|libpthread.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
        *) cp -L "$lib" "$STAGE/lib/" ;;
    esac
done

# 4. ONNX Runtime's CUDA build; its CUDA provider keeps only sm_$SM's GPU code.
cp "$GPU_DIR/libonnxruntime.so.1.31.1" "$GPU_DIR/libonnxruntime_providers_shared.so" "$STAGE/ort/"
ln -s libonnxruntime.so.1.31.1 "$STAGE/ort/libonnxruntime.so"
if [[ "$SM" == all ]]; then
    cp "$GPU_DIR/libonnxruntime_providers_cuda.so" "$STAGE/ort/"
else
    python3 tools/prune_fatbin.py "$GPU_DIR/libonnxruntime_providers_cuda.so" \
        "$STAGE/ort/libonnxruntime_providers_cuda.so" --sm "$SM" >&2
fi

# 5. The PP-OCR models with their manifest.
cp models/ppocr/manifest.json models/ppocr/*.onnx "$STAGE/models/ppocr/"

# 6. A list of every file's sha256, then one xz stream cut into parts that fit a call.
(cd "$STAGE" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
cat > "$STAGE/BUNDLE" <<EOF
drawpipe gpu bundle: sm $SM, from commit $(git rev-parse --short HEAD) on $(date -u +%F)
EOF
say "compressing ($(du -sh "$STAGE" | cut -f1) unpacked)"
TREE=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
PART=$(( (LIMIT - TREE - MARGIN) / 1048576 ))
(( PART >= 8 )) || die "the working tree ($TREE bytes) leaves too little room in a 64 MiB call"
rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
# The index (part count, each part's sha256) goes with every part.
tar -C "$STAGE" -cf - . | xz -9 -T2 | split -b "${PART}M" -d -a 2 - "$TMP/part-"
PARTS=("$TMP"/part-*)
N=${#PARTS[@]}
echo "parts $N" > "$TMP/index"
k=1
for p in "${PARTS[@]}"; do
    echo "part $k $(sha256sum "$p" | cut -d' ' -f1)" >> "$TMP/index"
    mkdir -p "$OUTDIR/$k"
    mv "$p" "$OUTDIR/$k/part"
    k=$((k + 1))
done
for k in $(seq 1 "$N"); do cp "$TMP/index" "$OUTDIR/$k/index"; done

say "$N parts of at most $PART MiB in $OUTDIR (working tree $((TREE / 1048576)) MiB travels with each)"
echo "On the GPU machine, back to back, each call carrying its part (timeout_s as shown):"
for k in $(seq 1 "$N"); do
    if (( k < N )); then
        echo "  run command='tools/gpu-bundle-run.sh --stage $k' carry=['.gpu-bundle/$k'] timeout_s=120"
    else
        echo "  run command='tools/gpu-bundle-run.sh --stage $k --run' carry=['.gpu-bundle/$k'] timeout_s=540"
    fi
done
