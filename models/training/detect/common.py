"""Shared constants for drawpipe's `detect` training scripts."""

from __future__ import annotations

import os
import pathlib
import shutil

CLASSES = [
    "diameter_dim",
    "linear_dim",
    "radius_dim",
    "angular_dim",
    "chamfer_dim",
    "tolerance_dim",
    "reference_dim",
    "flatness",
    "cylindricity",
    "position",
    "perpendicularity",
    "parallelism",
    "surface_roughness",
    "text_block",
]

# Classes the real-drawing check relies on (dimensions); make_dataset.py biases tiles towards them.
DIMENSION_CLASSES = set(range(0, 7))

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
TRAINING = HERE.parent
OUT_DIR = REPO / "models" / "detect"
LOCAL_FONT = pathlib.Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def offline_ultralytics_env(config_dir: str = "/tmp/drawpipe-yolo-config") -> None:
    """Make Ultralytics fully offline: no weight/font downloads, no pip auto-install, no telemetry.

    Must run before `import ultralytics`. Ultralytics looks for its plotting font (Arial.ttf) in its
    config dir and downloads it when missing; we never plot (plots=False), but as a guard a local
    DejaVu Sans is placed there under that name so nothing is fetched if some path still asks.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "True")
    os.environ.setdefault("YOLO_CONFIG_DIR", config_dir)
    cfg = pathlib.Path(os.environ["YOLO_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    if LOCAL_FONT.exists():
        for name in ("Arial.ttf", "Arial.Unicode.ttf"):
            if not (cfg / name).exists():
                shutil.copyfile(LOCAL_FONT, cfg / name)
