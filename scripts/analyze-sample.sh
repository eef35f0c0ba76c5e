#!/usr/bin/env bash
# README command 1: set up what is missing, build, and analyse the sample drawing
# with the embedded default (no broker, no database), printing a summary of what was
# read (pass --json after the file for the full report).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./models/fetch.sh >&2
cargo build -q -p drawpipe-workers --bin drawpipe
exec ./target/debug/drawpipe analyze "${1:-tests/fixtures/drawings/Candle_holder.jpg}" "${@:2}"
