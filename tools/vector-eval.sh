#!/usr/bin/env bash
# Scores `drawpipe analyze` on CAD-exported PDFs of one split (tools/vector-split.tsv),
# each page 1 rendered to a 300-DPI grayscale PNG and read as a raster, against the
# PDFs' own text layer (../shared/tools/vector_tokens.py: value precision, value
# recall, strict precision).
#
# Usage: tools/vector-eval.sh tune|check [--limit N] [--bin PATH] [--out DIR]
#   --limit N  the first N drawings of the split (file-name order), default all
#   --bin      the drawpipe binary (default target/release/drawpipe)
#   --out      where renderings and reports go (default out/vector-<split>)
set -euo pipefail
cd "$(dirname "$0")/.."
split=${1:?usage: tools/vector-eval.sh tune|check [--limit N] [--bin PATH] [--out DIR]}
shift
limit=0
bin=target/release/drawpipe
out=""
while (($#)); do
  case $1 in
    --limit) limit=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
src=${DRAWPIPE_VECTOR_DIR:-../shared/data/drawings/vector}
scorer=${DRAWPIPE_VECTOR_SCORER:-../shared/tools/vector_tokens.py}
[ -d "$src" ] || { echo "no vector drawings at $src (set DRAWPIPE_VECTOR_DIR)" >&2; exit 1; }
out=${out:-out/vector-$split}
mkdir -p "$out/pdf" "$out/png" "$out/reports"
projects=$(awk -F'\t' -v s="$split" '!/^#/ && $2 == s {print $1}' tools/vector-split.tsv)
n=0
for f in $(ls "$src" | sort); do
  case $f in *.pdf|*.PDF) ;; *) continue ;; esac
  project=$(echo "$f" | awk -F'__' '{print $1"__"$2}')
  echo "$projects" | grep -qxF "$project" || continue
  n=$((n + 1))
  if ((limit > 0 && n > limit)); then break; fi
  name=${f%.*}
  ln -sf "$(realpath "$src/$f")" "$out/pdf/$f"
  [ -f "$out/png/$name.png" ] || pdftoppm -r 300 -gray -png -singlefile -f 1 -l 1 "$src/$f" "$out/png/$name"
done
echo "vector-eval: $split: $(ls "$out/png" | wc -l) drawings; reading with $bin" >&2
start=$(date +%s)
"$bin" analyze "$out"/png/*.png --stages edocr --out "$out/reports" 2>"$out/analyze.log" || true
echo "vector-eval: analyze took $(($(date +%s) - start)) s" >&2
python3 "$scorer" "$out/pdf" "$out/reports" | tee "$out/score.txt" | tail -1
