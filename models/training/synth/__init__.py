"""Synthetic mechanical-drawing generator with exact pixel ground truth.

Depends only on Pillow, numpy and the standard library (plus the Debian
DejaVu fonts).  See README.md.
"""

from .generator import CLASS_NAMES, LABELS, drawing_seed, render, write_drawing, yolo_lines

__all__ = ["CLASS_NAMES", "LABELS", "drawing_seed", "render", "write_drawing", "yolo_lines"]
