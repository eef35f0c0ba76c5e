"""Ground truth vs. pixels for the synthetic drawing generator.

Run: cd models/training && ../../.venv-synth/bin/python -m unittest discover -s tests -v
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from synth import CLASS_NAMES, drawing_seed, render  # noqa: E402
from synth.__main__ import main  # noqa: E402
from synth.style import fonts_available  # noqa: E402

SEED = 5
COUNT = 3


def _stems(d):
    return sorted(f[:-5] for f in os.listdir(d) if f.endswith(".json"))


def _read(d, stem):
    img = np.asarray(Image.open(os.path.join(d, stem + ".png")))
    lab = np.asarray(Image.open(os.path.join(d, stem + ".labels.png")))
    with open(os.path.join(d, stem + ".json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    with open(os.path.join(d, stem + ".yolo.txt"), encoding="utf-8") as fh:
        yolo = [l.split() for l in fh.read().splitlines() if l.strip()]
    return img, lab, meta, yolo


def _run(out, *extra):
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["--out", out, "--count", str(COUNT), "--seed", str(SEED), *extra])
    assert rc == 0


@unittest.skipUnless(fonts_available(), "DejaVu fonts not installed")
class SynthGroundTruth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="synth-test-")
        cls.clean = os.path.join(cls.tmp.name, "clean")
        cls.deg1 = os.path.join(cls.tmp.name, "deg1")
        cls.deg2 = os.path.join(cls.tmp.name, "deg2")
        _run(cls.clean, "--clean", "--jobs", "1")
        _run(cls.deg1, "--jobs", "1")
        _run(cls.deg2, "--jobs", "2")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_files_written(self):
        for d in (self.clean, self.deg1):
            stems = _stems(d)
            self.assertEqual(stems, [f"{i:05d}" for i in range(COUNT)])
            for s in stems:
                for ext in (".png", ".labels.png", ".json", ".yolo.txt"):
                    self.assertTrue(os.path.exists(os.path.join(d, s + ext)), s + ext)

    def test_clean_ink_equals_labels(self):
        for s in _stems(self.clean):
            img, lab, meta, _ = _read(self.clean, s)
            self.assertEqual(img.shape, (meta["height"], meta["width"]))
            self.assertEqual(lab.shape, img.shape)
            self.assertEqual(img.dtype, np.uint8)
            self.assertTrue(np.array_equal(img < 255, lab > 0), f"{s}: ink and labels disagree")
            self.assertLessEqual(int(lab.max()), 3)
            for k in (1, 2, 3):
                self.assertTrue((lab == k).any(), f"{s}: label {k} missing")

    def _check_boxes(self, d):
        for s in _stems(d):
            img, lab, meta, _ = _read(d, s)
            H, W = lab.shape
            self.assertTrue(meta["objects"], s)
            for o in meta["objects"]:
                x0, y0, x1, y1 = o["bbox"]
                self.assertTrue(0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H, f"{s}: {o}")
                self.assertEqual(CLASS_NAMES[o["class_id"]], o["class_name"])
                self.assertTrue((lab[y0:y1, x0:x1] > 0).any(), f"{s}: object without ink {o}")
            self.assertTrue(meta["dimensions"], s)
            for dm in meta["dimensions"]:
                x0, y0, x1, y1 = dm["bbox"]
                self.assertTrue(0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H, f"{s}: {dm}")
                sub = lab[y0:y1, x0:x1]
                ink = int((sub > 0).sum())
                text = int((sub == 2).sum())
                self.assertGreater(text, 0, f"{s}: no text pixels in {dm['text']}")
                self.assertGreaterEqual(text / ink, 0.8, f"{s}: {dm['text']} only {text}/{ink} text")
                self.assertIn(dm["kind"], ("linear", "diameter", "radius", "angle", "chamfer", "thread",
                                           "roughness"))

    def test_boxes_clean(self):
        self._check_boxes(self.clean)

    def test_boxes_degraded(self):
        self._check_boxes(self.deg1)

    def test_deterministic(self):
        for s in _stems(self.deg1):
            for ext in (".png", ".labels.png", ".json", ".yolo.txt"):
                with open(os.path.join(self.deg1, s + ext), "rb") as a, \
                        open(os.path.join(self.deg2, s + ext), "rb") as b:
                    self.assertEqual(a.read(), b.read(), f"{s}{ext} differs between runs")

    def test_yolo_matches_json(self):
        for d in (self.clean, self.deg1):
            for s in _stems(d):
                _, _, meta, yolo = _read(d, s)
                W, H = meta["width"], meta["height"]
                self.assertEqual(len(yolo), len(meta["objects"]), s)
                for row, o in zip(yolo, meta["objects"]):
                    self.assertEqual(len(row), 5)
                    self.assertEqual(int(row[0]), o["class_id"])
                    x0, y0, x1, y1 = o["bbox"]
                    want = [(x0 + x1) / 2 / W, (y0 + y1) / 2 / H, (x1 - x0) / W, (y1 - y0) / H]
                    for got, w in zip(row[1:], want):
                        self.assertAlmostEqual(float(got), w, places=5)

    def test_class_mapping(self):
        for s in _stems(self.clean):
            _, _, meta, _ = _read(self.clean, s)
            for o in meta["objects"]:
                if o["source"] != "dimension":
                    continue
                dm = meta["dimensions"][o["ref"]]
                tol = dm["upper"] is not None or dm["lower"] is not None or dm["fit"] is not None
                if tol:
                    self.assertEqual(o["class_name"], "tolerance_dim", dm["text"])
                elif dm["reference"]:
                    self.assertEqual(o["class_name"], "reference_dim", dm["text"])
                    self.assertTrue(dm["text"].startswith("("))

    def test_rotated_render_consistent(self):
        """A scan-degraded render: the label map describes the rotated,
        pre-noise image exactly, and the boxes follow the rotation."""
        for i in range(40):
            img, lab, meta, clean = render(drawing_seed(SEED, i), degrade=True)
            if "rotation_deg" in meta["degradation"]:
                break
        else:
            self.skipTest("no rotated drawing among the first 40 seeds")
        self.assertTrue(np.array_equal(clean < 255, lab > 0))
        for dm in meta["dimensions"]:
            x0, y0, x1, y1 = dm["bbox"]
            sub = lab[y0:y1, x0:x1]
            self.assertGreaterEqual((sub == 2).sum() / max(1, (sub > 0).sum()), 0.8, dm["text"])


if __name__ == "__main__":
    unittest.main()
