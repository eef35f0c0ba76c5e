#!/usr/bin/env bash
# Fuzzes the parsers that see untrusted bytes first (fuzz/README.md): each cargo-fuzz
# target in fuzz/ runs for SECONDS (default 60) with AddressSanitizer, on the nightly
# toolchain. Installs cargo-fuzz (crates.io) when missing. A crash stops the run,
# leaves its input under fuzz/artifacts/TARGET/ and exits non-zero.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz 0.13.2 from crates.io" >&2
  cargo install -q --locked cargo-fuzz --version 0.13.2
fi
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz)
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  # Seeds: the hostile corpus's small files (a header claiming 65000x65000, a polyglot, ...).
  if [ "$t" = sniff ] && [ -z "$(ls -A "fuzz/corpus/$t")" ]; then
    python3 tests/fixtures/hostile/corpus.py "fuzz/corpus/$t" >/dev/null
    find "fuzz/corpus/$t" -size +64k -delete
  fi
  echo "fuzz: $t for ${secs} s" >&2
  log=$(mktemp)
  if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz: $t failed (a crash leaves its input in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed "s/^/fuzz: $t: /" >&2
  rm -f "$log"
done
