"""Trains the `tolerance` stage's XGBoost model on rows from capability.py.

    .venv-train/bin/python models/training/tolerance/train.py [--rows 40000] [--seed 7]

Writes models/tolerance/model.ubj, manifest.json (sha256, features, targets, R²),
check_rows.csv (held-out rows with this script's predictions, which the Rust test must
reproduce to 1e-5) and prints R² per target on held-out rows. Deterministic for a seed
(single-threaded hist training).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import pathlib
import sys
import time

import numpy as np
import xgboost as xgb

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import capability  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "tolerance"


def r2(y, p):
    return 1.0 - float(np.sum((y - p) ** 2)) / float(np.sum((y - y.mean()) ** 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=150)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    x, y = capability.sample_rows(args.rows, rng)
    n_test = args.rows // 5
    xtr, ytr, xte, yte = x[n_test:], y[n_test:], x[:n_test], y[:n_test]

    params = {
        "objective": "reg:squarederror",
        "tree_method": "hist",
        "multi_strategy": "one_output_per_tree",
        "max_depth": 5,
        "eta": 0.15,
        "subsample": 0.9,
        "min_child_weight": 2,
        "nthread": 1,
        "seed": args.seed,
    }
    dtrain = xgb.DMatrix(xtr, label=ytr, feature_names=capability.FEATURES)
    dtest = xgb.DMatrix(xte, label=yte, feature_names=capability.FEATURES)
    t0 = time.time()
    booster = xgb.train(params, dtrain, num_boost_round=args.rounds)
    train_s = time.time() - t0
    pred = booster.predict(dtest)
    scores = {t: round(r2(yte[:, i], pred[:, i]), 4) for i, t in enumerate(capability.TARGETS)}
    # R² of the noise-free capability against the noisy truth: the ceiling any model has.
    ceiling = capability.capability(xte)
    ceilings = {t: round(r2(yte[:, i], ceiling[:, i]), 4) for i, t in enumerate(capability.TARGETS)}

    OUT.mkdir(parents=True, exist_ok=True)
    model_path = OUT / "model.ubj"
    booster.save_model(model_path)
    sha = hashlib.sha256(model_path.read_bytes()).hexdigest()

    # Held-out rows with the script's own predictions, for the Rust equality test.
    with open(OUT / "check_rows.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(capability.FEATURES + ["pred_" + t for t in capability.TARGETS])
        for row, p in zip(xte[:64], pred[:64]):
            w.writerow([repr(float(v)) for v in row] + [repr(float(v)) for v in p])

    manifest = {
        "name": "drawpipe-tolerance",
        "version": "1.0.0",
        "task": "regression: achievable geometric tolerances and scores from part features",
        "file": "model.ubj",
        "sha256": sha,
        "format": "XGBoost UBJSON",
        "trained_with": f"xgboost {xgb.__version__} (xgboost-cpu wheel)",
        "features": capability.FEATURES,
        "targets": capability.TARGETS,
        "processes": [p[0] for p in capability.PROCESSES],
        "materials": {m[0]: {"hardness_hb": m[1], "youngs_modulus_gpa": m[2]} for m in capability.MATERIALS},
        "difficulty_bands": {"easy": ">= 0.7", "medium": ">= 0.4", "hard": "< 0.4"},
        "training": {"rows": args.rows - n_test, "held_out": n_test, "seed": args.seed,
                     "rounds": args.rounds, "params": params, "train_seconds": round(train_s, 1)},
        "r2_held_out": scores,
        "r2_ceiling_noise": ceilings,
        "source": "models/training/tolerance (capability.py, train.py)",
        "licence": "Apache-2.0 (drawpipe); XGBoost is Apache-2.0",
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({"r2_held_out": scores, "r2_ceiling_noise": ceilings,
                      "train_seconds": round(train_s, 1), "model_bytes": model_path.stat().st_size}, indent=2))


if __name__ == "__main__":
    main()
