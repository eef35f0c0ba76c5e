#!/usr/bin/env bash
# Scores `drawpipe analyze` on CAD-exported PDFs of one split (tools/vector-split.tsv),
# each page 1 rendered to a grayscale PNG (300 DPI, or --dpi) and read as a raster, against the
# PDFs' own text layer (../shared/tools/vector_tokens.py: value precision, value
# recall, strict precision).
#
# Usage: tools/vector-eval.sh tune|tune2|check [--limit N] [--bin PATH] [--out DIR] [--dpi N] [--from-pdf]
#   --limit N  the first N drawings of the split (file-name order), default all
#   --bin      the drawpipe binary (default target/release/drawpipe)
#   --out      where renderings and reports go (default out/vector-<split>, and
#              out/vector-<split>-<N>dpi for another --dpi); renderings already there
#              are read again, so a folder holds one DPI's (it says which in its file dpi)
#   --dpi N    render page 1 at N DPI (default 300): the reader at other scales
#   --from-pdf read the PDFs themselves (page 1 only, so the text layer is used where
#              it is usable) instead of their renderings
set -euo pipefail
cd "$(dirname "$0")/.."
split=${1:?usage: tools/vector-eval.sh tune|tune2|check [--limit N] [--bin PATH] [--out DIR] [--dpi N] [--from-pdf]}
shift
limit=0
bin=target/release/drawpipe
out=""
from_pdf=0
dpi=300
while (($#)); do
  case $1 in
    --limit) limit=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --from-pdf) from_pdf=1; shift ;;
    --dpi) dpi=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
src=${DRAWPIPE_VECTOR_DIR:-../shared/data/drawings/vector}
scorer=${DRAWPIPE_VECTOR_SCORER:-../shared/tools/vector_tokens.py}
[ -d "$src" ] || { echo "no vector drawings at $src (set DRAWPIPE_VECTOR_DIR)" >&2; exit 1; }
if ((dpi == 300)); then out=${out:-out/vector-$split}; else out=${out:-out/vector-$split-${dpi}dpi}; fi
mkdir -p "$out/pdf" "$out/png" "$out/reports"
# Renderings are reused: a folder rendered at another DPI would be read as this one.
# A folder from before this file was written holds 300-DPI renderings.
had=300
[ -f "$out/dpi" ] && had=$(cat "$out/dpi")
if [ -n "$(ls -A "$out/png")" ] && [ "$had" != "$dpi" ]; then
  echo "$out/png holds renderings at $had DPI, not $dpi: pick another --out" >&2
  exit 2
fi
echo "$dpi" > "$out/dpi"
projects=$(awk -F'\t' -v s="$split" '!/^#/ && $2 == s {print $1}' tools/vector-split.tsv)
n=0
for f in $(ls "$src" | sort); do
  case $f in *.pdf|*.PDF) ;; *) continue ;; esac
  project=$(echo "$f" | awk -F'__' '{print $1"__"$2}')
  echo "$projects" | grep -qxF "$project" || continue
  n=$((n + 1))
  if ((limit > 0 && n > limit)); then break; fi
  name=${f%.*}
  # X.PDF beside another drawing X.pdf: its own name, so that each has its report.
  if [ "${f##*.}" = PDF ] && [ -f "$src/$name.pdf" ]; then name=$name-PDF; fi
  ln -sf "$(realpath "$src/$f")" "$out/pdf/$name.pdf"
  if ((from_pdf)); then
    mkdir -p "$out/page1"
    [ -f "$out/page1/$name.pdf" ] || pdfseparate -f 1 -l 1 "$src/$f" "$out/page1/$name.pdf" 2>/dev/null \
      || cp "$src/$f" "$out/page1/$name.pdf"
    continue
  fi
  [ -f "$out/png/$name.png" ] || pdftoppm -r "$dpi" -gray -png -singlefile -f 1 -l 1 "$src/$f" "$out/png/$name"
done
inputs=("$out"/png/*.png)
((from_pdf)) && inputs=("$out"/page1/*.pdf)
echo "vector-eval: $split: ${#inputs[@]} drawings; reading with $bin" >&2
start=$(date +%s)
"$bin" analyze "${inputs[@]}" --stages edocr --out "$out/reports" --stage-outputs 2>"$out/analyze.log" || true
echo "vector-eval: analyze took $(($(date +%s) - start)) s" >&2
python3 "$scorer" "$out/pdf" "$out/reports" | tee "$out/score.txt" | tail -1
