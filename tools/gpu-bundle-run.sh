#!/usr/bin/env bash
# The GPU machine's half of tools/gpu-bundle.sh: keeps each part it is given, and with
# --run unpacks the bundle, checks it and runs tools/gpu-check.sh on the bundled
# bench, ONNX Runtime and models, with the CUDA 13 libraries of the machine's own Python
# packages (nvidia-cuda-runtime, nvidia-cublas, nvidia-cudnn-cu13, ...).
#
#   tools/gpu-bundle-run.sh --stage K          # keep .gpu-bundle/K/part
#   tools/gpu-bundle-run.sh --stage N --run    # keep the last part, unpack and run
#   tools/gpu-bundle-run.sh --run --cpu-only   # unpack and read on the CPU only (a
#                                                # check of the bundle without a GPU)
#   tools/gpu-bundle-run.sh --run --prepare    # unpack and check that the CUDA
#                                                # provider finds this machine's CUDA libraries
#
# Parts are kept in $DRAWPIPE_GPU_STORE (default /var/tmp/drawpipe-gpu): a part missing
# there (the machine was given back between calls) is named, with the call to repeat.
# Other gpu-check.sh options (--runs N, --big-batch B, --device cuda:N) pass on. Where
# $OUT is set (the device tool), the results are copied there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STORE="${DRAWPIPE_GPU_STORE:-/var/tmp/drawpipe-gpu}"
STAGE_K=""
RUN=0
CPU_ONLY=0
PASS=()

say() { printf 'gpu-bundle-run: %s\n' "$*" >&2; }
die() { printf 'gpu-bundle-run: error: %s\n' "$*" >&2; exit 1; }
# parts INDEX: how many parts the bundle has. part_ok K FILE INDEX: FILE is part K.
parts() { awk '$1 == "parts" {print $2}' "$1"; }
part_ok() {
    [[ -f "$2" ]] && [[ "$(sha256sum "$2" | cut -d' ' -f1)" == "$(awk -v k="$1" '$1 == "part" && $2 == k {print $3}' "$3")" ]]
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --stage) STAGE_K="$2"; shift 2 ;;
        --run) RUN=1; shift ;;
        --cpu-only) CPU_ONLY=1; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) PASS+=("$1"); shift ;;
    esac
done
mkdir -p "$STORE"

if [[ -n "$STAGE_K" ]]; then
    src=".gpu-bundle/$STAGE_K"
    [[ -f "$src/part" && -f "$src/index" ]] || die "no $src/part here: carry .gpu-bundle/$STAGE_K with this call"
    part_ok "$STAGE_K" "$src/part" "$src/index" || die "part $STAGE_K: its sha256 is not the one its index lists"
    cp "$src/part" "$STORE/part-$STAGE_K"
    cp "$src/index" "$STORE/index"
    say "kept part $STAGE_K of $(parts "$src/index") in $STORE"
fi
[[ $RUN == 1 ]] || exit 0

# Every part present and intact, then one stream.
[[ -f "$STORE/index" ]] || die "no parts kept in $STORE yet: start with --stage 1"
N="$(parts "$STORE/index")"
missing=()
for k in $(seq 1 "$N"); do
    part_ok "$k" "$STORE/part-$k" "$STORE/index" || missing+=("$k")
done
(( ${#missing[@]} == 0 )) || die "parts missing or damaged in $STORE: ${missing[*]} (repeat --stage K for each, carrying .gpu-bundle/K, then --run)"
BUNDLE="$STORE/root"
rm -rf "$BUNDLE"
mkdir -p "$BUNDLE"
say "unpacking $N parts"
for k in $(seq 1 "$N"); do cat "$STORE/part-$k"; done | python3 -c '
import sys, tarfile
tarfile.open(fileobj=sys.stdin.buffer, mode="r|xz").extractall(sys.argv[1], filter="tar")
' "$BUNDLE"
(cd "$BUNDLE" && sha256sum --quiet -c SHA256SUMS) || die "the unpacked bundle fails its SHA256SUMS"
say "$(cat "$BUNDLE/BUNDLE")"

# The fixture drawings as PGM, decoded by this machine's OpenCV (the bundled bench
# reads PGM itself: CPU and CUDA runs read the same pixels).
PGMS=()
mkdir -p "$STORE/images"
for f in example_dwg.png Candle_holder.jpg BM_part.jpg; do
    out="$STORE/images/${f%.*}.pgm"
    python3 - "tests/fixtures/drawings/$f" "$out" <<'EOF' || die "cannot convert $f to PGM (this needs python3 with cv2 or PIL)"
import sys
src, dst = sys.argv[1], sys.argv[2]
try:
    import cv2
    img = cv2.imread(src, cv2.IMREAD_GRAYSCALE)
    ok = img is not None and cv2.imwrite(dst, img)
except ImportError:
    from PIL import Image
    Image.open(src).convert("L").save(dst)
    ok = True
sys.exit(0 if ok else 1)
EOF
    PGMS+=("$out")
done

# The bench runs through a wrapper that puts the bundled OpenCV libraries first for it
# alone: this machine's own programs (python3, nvidia-smi) keep their libraries.
export DRAWPIPE_MODELS="$BUNDLE/models"
BENCH="$STORE/drawpipe-ocr-bench"
printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' \
    "$BUNDLE/lib" "$BUNDLE/bin/drawpipe-ocr-bench" > "$BENCH"
chmod +x "$BENCH"
MISSING="$(LD_LIBRARY_PATH="$BUNDLE/lib" ldd "$BUNDLE/bin/drawpipe-ocr-bench" | awk '/not found/ {print $1}' | paste -sd' ')"
[[ -z "$MISSING" ]] || die "the bench cannot find: $MISSING"
if [[ $CPU_ONLY == 1 ]]; then
    DRAWPIPE_ORT_DYLIB="$BUNDLE/ort/libonnxruntime.so" "$BENCH" --skip-rapidocr --device cpu \
        --runs 1 "${PGMS[@]}" | tee "$STORE/cpu-only.txt"
    [[ -n "${OUT:-}" ]] && cp "$STORE/cpu-only.txt" "$OUT/" || true
    exit 0
fi

# This machine's CUDA 13 libraries: the lib folders of its Python's nvidia packages.
CUDA_LIBS="$(python3 - <<'EOF'
import glob, os
try:
    import nvidia
except ImportError:
    raise SystemExit(0)
dirs = set()
for root in nvidia.__path__:
    for d in glob.glob(os.path.join(root, "*", "lib")) + glob.glob(os.path.join(root, "*", "*", "lib")):
        if glob.glob(os.path.join(d, "*.so*")):
            dirs.add(d)
print(":".join(sorted(dirs)))
EOF
)"
[[ -n "$CUDA_LIBS" ]] || die "python3 here has no nvidia-* CUDA packages; pass --cuda-libs DIRS to tools/gpu-check.sh yourself"

IMAGES=()
for p in "${PGMS[@]}"; do IMAGES+=(--image "$p"); done
status=0
tools/gpu-check.sh --bench "$BENCH" --ort-dylib "$BUNDLE/ort/libonnxruntime.so" \
    --cuda-libs "$CUDA_LIBS" "${IMAGES[@]}" "${PASS[@]}" 2>&1 | tee "$STORE/gpu-check.txt" || status=$?
if [[ -n "${OUT:-}" ]]; then
    cp "$STORE/gpu-check.txt" "$OUT/" || true
    cp out/gpu-check/*.json "$OUT/" 2>/dev/null || true
fi
exit "$status"
