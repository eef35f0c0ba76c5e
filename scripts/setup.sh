#!/usr/bin/env bash
# Installs what drawpipe needs on a Debian machine, if missing: build packages
# (clang, libclang-dev, libopencv-dev, pkg-config), poppler-utils (PDF pages) and
# unzip (models/fetch.sh), python3-venv and the DejaVu fonts (the synthetic drawing
# generator, models/training/synth), chromium and chromium-driver (the web viewer's
# browser test).
# As root it runs apt-get; otherwise it prints the apt-get line and stops.
set -euo pipefail

pkgs=(clang libclang-dev libopencv-dev pkg-config poppler-utils unzip python3-venv fonts-dejavu-core fonts-dejavu-extra chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install a Rust toolchain (https://rustup.rs) and retry" >&2
  exit 1
fi
