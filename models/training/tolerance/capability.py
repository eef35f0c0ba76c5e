"""A documented model of process capability: what tolerances a process achieves on a
part of a given size and material, and how hard the drawing's requirements are to meet.

The XGBoost model the `tolerance` stage runs is trained on rows this module generates;
it is the ground truth the model learns, so every rule is written down here and in
models/tolerance/MODEL_CARD.md.

Sources of the rules:
- ISO 286-1: the standard tolerance unit i = 0.45 * D^(1/3) + 0.001 * D (µm, D the
  geometric mean of the size step, mm) and grade multipliers IT5 = 7i … IT16 = 1000i.
- Typical IT grades per process (machining handbooks, ISO 286 application tables):
  grinding IT6, turning IT8, milling IT9, die casting IT12, additive (powder bed) IT13,
  sand casting IT15.
- ISO 2768-2 / ISO 1101 practice: form tolerances about 40-60 % of the size tolerance of
  the same feature; orientation about 60 %, location about 100 %.
- Material: harder materials cut worse (tool wear, springback); compliant materials
  (low Young's modulus) deflect under clamping and cutting forces, more so on thin,
  slender parts.

Units: lengths and tolerances in mm, hardness in HB, Young's modulus in GPa.
"""

from __future__ import annotations

import math

import numpy as np

# Feature order: the Rust stage builds the same vector (workers/src/stages/tolerance.rs).
FEATURES = [
    "largest_diameter_mm",
    "length_mm",
    "thickness_mm",
    "hardness_hb",
    "youngs_modulus_gpa",
    "process",
    "tightest_tolerance_mm",
]

# Target order: the model's outputs, in this order.
TARGETS = [
    "log10_flatness_mm",
    "log10_cylindricity_mm",
    "log10_position_mm",
    "log10_perpendicularity_mm",
    "manufacturability",
    "assemblability",
]

# Process code (the `process` feature) → (name, typical IT grade, surface factor).
PROCESSES = [
    ("grinding", 6.0),
    ("turning", 8.0),
    ("milling", 9.0),
    ("die_casting", 12.0),
    ("additive", 13.0),
    ("sand_casting", 15.0),
]

# Materials: (name, hardness HB, Young's modulus GPa), as the replaced system listed them.
MATERIALS = [
    ("steel", 200.0, 200.0),
    ("aluminum", 50.0, 70.0),
    ("plastic", 15.0, 3.0),
    ("titanium", 275.0, 110.0),
    ("brass", 100.0, 100.0),
]

# ISO 286-1 grade multipliers of i (IT5 … IT16).
_IT_MULT = {5: 7, 6: 10, 7: 16, 8: 25, 9: 40, 10: 64, 11: 100, 12: 160, 13: 250, 14: 400,
            15: 640, 16: 1000}


def tolerance_unit_um(size_mm):
    """ISO 286-1 standard tolerance unit i in µm, for sizes up to 3150 mm."""
    d = np.clip(np.asarray(size_mm, dtype=np.float64), 1.0, 3150.0)
    return 0.45 * np.cbrt(d) + 0.001 * d


def it_tolerance_mm(grade, size_mm):
    """Width of the ISO 286 tolerance of (possibly fractional) `grade` at `size_mm`, in mm.

    Fractional grades interpolate geometrically: each grade is about ×1.6 the one below.
    """
    grade = np.asarray(grade, dtype=np.float64)
    mult = 10.0 * np.power(1.6, grade - 6.0)  # IT6 = 10i, IT7 ≈ 16i, IT8 ≈ 25i, …
    return mult * tolerance_unit_um(size_mm) / 1000.0


def material_factor(hardness_hb, youngs_gpa, process_grade):
    """How much worse than nominal a material machines/forms (≥ 1 for hard or soft)."""
    hardness = np.asarray(hardness_hb, dtype=np.float64)
    youngs = np.asarray(youngs_gpa, dtype=np.float64)
    # Cutting processes (grade ≤ 10) suffer from hardness above ~150 HB.
    cutting = (np.asarray(process_grade) <= 10.0).astype(np.float64)
    hard = 1.0 + cutting * 0.35 * np.clip((hardness - 150.0) / 150.0, 0.0, None)
    # Compliant materials deflect: 3 GPa plastic ≈ ×1.5, 200 GPa steel ≈ ×1.0.
    soft = 1.0 + 0.5 * np.clip(np.log10(200.0 / youngs) / np.log10(200.0 / 3.0), 0.0, 1.0)
    return hard * soft


def slenderness_factor(length_mm, thickness_mm, youngs_gpa):
    """Thin, long parts warp and deflect: grows with (length/thickness)², eased by stiffness."""
    ratio = np.asarray(length_mm, dtype=np.float64) / np.maximum(thickness_mm, 0.5)
    return 1.0 + 0.002 * ratio**2 * (70.0 / np.asarray(youngs_gpa, dtype=np.float64)) ** 0.5


def capability(x):
    """The noise-free targets for feature rows `x` (n × 7, FEATURES order): n × 6."""
    x = np.asarray(x, dtype=np.float64)
    dia, length, thick, hardness, youngs, proc, tightest = (x[:, i] for i in range(7))
    grade = np.array([PROCESSES[int(p)][1] for p in proc])
    mat = material_factor(hardness, youngs, grade)
    slender = slenderness_factor(length, thick, youngs)
    largest = np.maximum(dia, length)

    # A drawing that asks for tighter than the process's grade gets finishing passes:
    # achieved grade improves by up to 1.5 grades towards the requirement.
    req_grade = 6.0 + np.log(np.maximum(tightest, 1e-4) / it_tolerance_mm(6.0, largest)) / np.log(1.6)
    improve = np.clip(grade - req_grade, 0.0, 1.5)
    achieved = grade - improve

    flatness = 0.45 * it_tolerance_mm(achieved, length) * mat * slender
    cylindricity = 0.5 * it_tolerance_mm(achieved, np.maximum(dia, 1.0)) * mat * np.sqrt(slender)
    position = 1.0 * it_tolerance_mm(achieved, largest) * mat
    perpendicularity = 0.6 * it_tolerance_mm(achieved, np.maximum(thick, length / 4.0)) * mat * np.sqrt(slender)

    # Manufacturability: how far the requirement sits below what the process does
    # without finishing (in grades), penalised by material and slenderness.
    gap = grade - req_grade  # > 0: tighter than the process's grade
    manufacturability = 1.0 / (1.0 + np.exp(1.2 * (gap - 1.0)))
    manufacturability = manufacturability / np.sqrt(mat) / slender**0.25

    # Assemblability: tight tolerances on large parts, hard materials (no give) and
    # warped thin parts make assembly harder; ISO 286 IT7-IT9 fits assemble readily.
    fit_grade = 6.0 + np.log(np.maximum(tightest, 1e-4) / it_tolerance_mm(6.0, np.maximum(dia, 1.0))) / np.log(1.6)
    assemblability = 1.0 / (1.0 + np.exp(-0.9 * (fit_grade - 6.5)))
    assemblability = assemblability * (1.0 - 0.15 * np.clip((hardness - 100.0) / 200.0, 0.0, 1.0))
    assemblability = assemblability / slender**0.15

    return np.stack(
        [
            np.log10(flatness),
            np.log10(cylindricity),
            np.log10(position),
            np.log10(perpendicularity),
            np.clip(manufacturability, 0.0, 1.0),
            np.clip(assemblability, 0.0, 1.0),
        ],
        axis=1,
    )


def difficulty(score):
    """The band the stage reports beside the manufacturability score."""
    return "easy" if score >= 0.7 else ("medium" if score >= 0.4 else "hard")


def sample_rows(n, rng):
    """n random plausible parts: features (n × 7) and noisy targets (n × 6).

    Noise: the four tolerances scatter log-normally (σ = 0.08 decades, shop-to-shop
    variation), the scores by ±0.03.
    """
    kind = rng.integers(0, 3, n)  # 0 shaft (turned), 1 plate, 2 flange/bush
    length = np.exp(rng.uniform(math.log(5.0), math.log(1000.0), n))
    dia = np.where(kind == 1, 0.0, length * np.exp(rng.uniform(math.log(0.05), math.log(1.5), n)))
    dia = np.clip(dia, 0.0, 800.0)
    thick = np.where(
        kind == 1,
        length * np.exp(rng.uniform(math.log(0.01), math.log(0.3), n)),
        np.maximum(dia, 1.0) * np.exp(rng.uniform(math.log(0.05), math.log(0.5), n)),
    )
    thick = np.clip(thick, 0.5, 400.0)
    mat = rng.integers(0, len(MATERIALS), n)
    hardness = np.array([MATERIALS[m][1] for m in mat]) * rng.uniform(0.85, 1.15, n)
    youngs = np.array([MATERIALS[m][2] for m in mat]) * rng.uniform(0.95, 1.05, n)
    proc = rng.integers(0, len(PROCESSES), n).astype(np.float64)
    largest = np.maximum(dia, length)
    # Requirements between IT5 and IT16 of the largest size.
    tightest = it_tolerance_mm(rng.uniform(5.0, 16.0, n), largest)
    x = np.stack([dia, length, thick, hardness, youngs, proc, tightest], axis=1)
    y = capability(x)
    y[:, :4] += rng.normal(0.0, 0.08, (n, 4))
    y[:, 4:] = np.clip(y[:, 4:] + rng.normal(0.0, 0.03, (n, 2)), 0.0, 1.0)
    return x.astype(np.float32), y.astype(np.float32)
