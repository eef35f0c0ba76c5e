#!/usr/bin/env bash
# Benchmarks the `ocr` stage against the Python rapidocr package on the same images,
# the same model files and the same thread budget (issue 3, "What it must show").
#
#   tools/ocr-bench.sh                       # 3 fixture drawings, 2 threads, 3 runs
#   tools/ocr-bench.sh --threads 4 --runs 5  # any drawpipe-ocr-bench flag passes on
#   tools/ocr-bench.sh --rapidocr-mode stock # rapidocr with its own defaults
#   tools/ocr-bench.sh --precision f32       # our recogniser in f32 too (rapidocr's arithmetic)
#   tools/ocr-bench.sh --fused               # also one fused call over all images
#
# Creates .venv-bench/ (rapidocr 3.10.0 + onnxruntime 1.32.0 from PyPI) once, fetches
# the models when missing, builds drawpipe-ocr-bench in release and runs it; the bench
# prints the command, per-image times, images/s for each side, their ratio, line
# agreement and our det/cls/rec/other breakdown.
#
# Needs: python3 with venv and pip, cargo, and PyPI the first time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-bench"
PY="$VENV/bin/python"

say() { printf 'ocr-bench: %s\n' "$*" >&2; }

if ! "$PY" -c 'import rapidocr, onnxruntime, cv2' 2>/dev/null; then
    say "creating $VENV with rapidocr 3.10.0 and onnxruntime 1.32.0"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check \
        rapidocr==3.10.0 onnxruntime==1.32.0 opencv-python-headless
fi

if [[ ! -f models/ppocr/PP-OCRv6_rec_small.onnx || ! -e models/runtime/onnxruntime/libonnxruntime.so ]]; then
    say "models missing: running models/fetch.sh"
    models/fetch.sh
fi

say "building drawpipe-ocr-bench (release)"
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo build --release --quiet \
    -p drawpipe-workers --bin drawpipe-ocr-bench

exec target/release/drawpipe-ocr-bench --python "$PY" "$@"
