#!/usr/bin/env bash
# Writes what a behaviour-preserving change must leave alone: `drawpipe eval` on the
# labelled fixture drawings (tests/fixtures/drawings, tests/fixtures/unseen) and the
# `drawpipe analyze` report of every fixture drawing, into OUT_DIR. Compare two runs
# with tools/compare_reports.py.
#
# Usage: tools/fixture-reports.sh DRAWPIPE_BIN OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: tools/fixture-reports.sh DRAWPIPE_BIN OUT_DIR}
out=${2:?usage: tools/fixture-reports.sh DRAWPIPE_BIN OUT_DIR}
mkdir -p "$out/reports"
"$bin" eval tests/fixtures/drawings >"$out/eval-drawings.txt"
"$bin" eval tests/fixtures/unseen >"$out/eval-unseen.txt"
d=tests/fixtures/drawings
"$bin" analyze "$d"/*.jpg "$d"/*.png "$d"/*.PDF "$d"/two_pages.pdf --out "$out/reports"
