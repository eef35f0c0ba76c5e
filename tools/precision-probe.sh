#!/usr/bin/env bash
# Measures what the `ocr` stage's precision choice rests on (model times in ONNX
# Runtime f32 / OpenVINO f32 / OpenVINO bf16, bf16 detection box shifts, OpenVINO
# memory over many widths): see tools/precision_probe.py.
#
#   tools/precision-probe.sh            # all parts
#   tools/precision-probe.sh boxes      # one part: timings, boxes or memory
#   tools/precision-probe.sh headf32    # bf16 detector body with an f32 head (adds onnx)
#   tools/precision-probe.sh f32bound   # what limits all-f32 ONNX Runtime (profile, threads, batch)
#
# Uses .venv-bench (tools/ocr-bench.sh creates it) and adds openvino 2026.4.1 to it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv-bench/bin/python"
if ! "$PY" -c 'import rapidocr, onnxruntime, cv2' 2>/dev/null; then
    echo "precision-probe: run tools/ocr-bench.sh once first (it creates .venv-bench)" >&2
    exit 1
fi
"$PY" -c 'import openvino' 2>/dev/null ||
    "$PY" -m pip install --quiet --disable-pip-version-check openvino==2026.4.1
if [[ "${1:-}" == headf32 ]]; then
    "$PY" -c 'import onnx' 2>/dev/null ||
        "$PY" -m pip install --quiet --disable-pip-version-check onnx==1.23.2
fi
[[ -f models/ppocr/PP-OCRv6_rec_small.onnx ]] || models/fetch.sh
exec "$PY" tools/precision_probe.py "$@"
