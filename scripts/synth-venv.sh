#!/usr/bin/env bash
# Creates .venv-synth (Pillow + numpy, pinned in models/training/requirements-synth.txt)
# for the synthetic drawing generator, unless it already has them.
set -euo pipefail
cd "$(dirname "$0")/.."
req=models/training/requirements-synth.txt
if [ -x .venv-synth/bin/python ] && .venv-synth/bin/python -m pip freeze 2>/dev/null | grep -qxF -f "$req"; then
  [ "$(.venv-synth/bin/python -m pip freeze | grep -cxF -f "$req")" -eq "$(grep -c . "$req")" ] && exit 0
fi
python3 -m venv .venv-synth
.venv-synth/bin/python -m pip install -q --disable-pip-version-check -r "$req"
