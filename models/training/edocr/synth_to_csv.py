"""Turns generator drawings into eDOCr2-format ground truth, so that `drawpipe eval`
scores the `edocr` stage on synthetic drawings it has never seen:

    (cd models/training && ../../.venv-synth/bin/python -m synth --out /tmp/ed --count 10 --seed 77)
    python3 models/training/edocr/synth_to_csv.py /tmp/ed
    ./target/release/drawpipe eval /tmp/ed

Writes `<stem>.csv` beside each `<stem>.png`: one row per dimension text (its box's
4 corners, then the text as rendered, stacked deviations joined by a space) and one
`other_info` row per GD&T frame and text block (text that is not a dimension).
Needs only the standard library.
"""

import csv
import json
import pathlib
import sys


def corners(b):
    x0, y0, x1, y1 = b
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def main(folder):
    n = 0
    for meta in sorted(pathlib.Path(folder).glob("*.json")):
        d = json.loads(meta.read_text())
        rows = []
        for dim in d.get("dimensions", []):
            text = dim["text"].replace("/", " ")
            rows.append(corners(dim["bbox"]) + [text])
        for g in d.get("gdt", []):
            rows.append(corners(g["bbox"]) + ["other_info"])
        for o in d.get("objects", []):
            if o["class_name"] == "text_block":
                rows.append(corners(o["bbox"]) + ["other_info"])
        with open(meta.with_suffix(".csv"), "w", newline="") as f:
            csv.writer(f).writerows(rows)
        n += 1
    print(f"wrote {n} ground-truth CSVs in {folder}")


if __name__ == "__main__":
    main(sys.argv[1])
