//! ISO 286-1/-2 limits and fits: standard tolerance grades IT1..IT18 and the fundamental
//! deviations of holes (uppercase letters, `A`..`ZC`) and shafts (lowercase, `a`..`zc`),
//! so a fit class written on a drawing (`Ø38H12`, `Ø20 g6`) becomes numbers.
//!
//! Layout: the standard's tables are transcribed as they are printed (µm), not
//! recomputed from the tolerance-unit formulas, because the printed values are rounded by
//! rules the formulas do not reproduce exactly. Two size-step grids are used, as in the
//! standard: the main steps (`MAIN_STEPS`, 21 ranges up to 3150 mm) for the IT grades and
//! the intermediate steps (`FINE_STEPS`, 41 ranges) for the fundamental deviations. A size
//! exactly on a step boundary belongs to the lower range ("over 18 up to and including
//! 30"). Hole deviations `K`..`ZC` are derived from the shaft table with the standard's
//! rules (`ES = -ei + Δ`, `Δ = IT(n) − IT(n−1)`, no `Δ` at or below 3 mm and above 500 mm).
//!
//! Invariants: deviations are returned in millimetres as `(upper, lower)` with
//! `upper > lower`; anything the standard leaves undefined (an unknown letter, a grade
//! outside 1..=18, IT14..IT18 at or below 1 mm, `t` below 24 mm, the rarely used letters
//! above 500 mm) is `None`, never a guess.

/// Upper limits (mm) of the main size steps, used for the IT grades.
const MAIN_STEPS: [f64; 21] = [
    3.0, 6.0, 10.0, 18.0, 30.0, 50.0, 80.0, 120.0, 180.0, 250.0, 315.0, 400.0, 500.0, 630.0, 800.0,
    1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0,
];

/// Upper limits (mm) of the intermediate size steps, used for fundamental deviations
/// (the first 25 reach 500 mm).
const FINE_STEPS: [f64; 41] = [
    3.0, 6.0, 10.0, 14.0, 18.0, 24.0, 30.0, 40.0, 50.0, 65.0, 80.0, 100.0, 120.0, 140.0, 160.0,
    180.0, 200.0, 225.0, 250.0, 280.0, 315.0, 355.0, 400.0, 450.0, 500.0, 560.0, 630.0, 710.0,
    800.0, 900.0, 1000.0, 1120.0, 1250.0, 1400.0, 1600.0, 1800.0, 2000.0, 2240.0, 2500.0, 2800.0,
    3150.0,
];

/// Standard tolerance grades IT1..IT18 (ISO 286-1 table 1), µm, one row per grade, one
/// column per main step.
const IT: [[f64; 21]; 18] = [
    [
        0.8, 1.0, 1.0, 1.2, 1.5, 1.5, 2.0, 2.5, 3.5, 4.5, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 13.0,
        15.0, 18.0, 22.0, 26.0,
    ],
    [
        1.2, 1.5, 1.5, 2.0, 2.5, 2.5, 3.0, 4.0, 5.0, 7.0, 8.0, 9.0, 10.0, 11.0, 13.0, 15.0, 18.0,
        21.0, 25.0, 30.0, 36.0,
    ],
    [
        2.0, 2.5, 2.5, 3.0, 4.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 13.0, 15.0, 16.0, 18.0, 21.0,
        24.0, 29.0, 35.0, 41.0, 50.0,
    ],
    [
        3.0, 4.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 25.0, 28.0,
        33.0, 39.0, 46.0, 55.0, 68.0,
    ],
    [
        4.0, 5.0, 6.0, 8.0, 9.0, 11.0, 13.0, 15.0, 18.0, 20.0, 23.0, 25.0, 27.0, 32.0, 36.0, 40.0,
        47.0, 55.0, 65.0, 78.0, 96.0,
    ],
    [
        6.0, 8.0, 9.0, 11.0, 13.0, 16.0, 19.0, 22.0, 25.0, 29.0, 32.0, 36.0, 40.0, 44.0, 50.0,
        56.0, 66.0, 78.0, 92.0, 110.0, 135.0,
    ],
    [
        10.0, 12.0, 15.0, 18.0, 21.0, 25.0, 30.0, 35.0, 40.0, 46.0, 52.0, 57.0, 63.0, 70.0, 80.0,
        90.0, 105.0, 125.0, 150.0, 175.0, 210.0,
    ],
    [
        14.0, 18.0, 22.0, 27.0, 33.0, 39.0, 46.0, 54.0, 63.0, 72.0, 81.0, 89.0, 97.0, 110.0, 125.0,
        140.0, 165.0, 195.0, 230.0, 280.0, 330.0,
    ],
    [
        25.0, 30.0, 36.0, 43.0, 52.0, 62.0, 74.0, 87.0, 100.0, 115.0, 130.0, 140.0, 155.0, 175.0,
        200.0, 230.0, 260.0, 310.0, 370.0, 440.0, 540.0,
    ],
    [
        40.0, 48.0, 58.0, 70.0, 84.0, 100.0, 120.0, 140.0, 160.0, 185.0, 210.0, 230.0, 250.0,
        280.0, 320.0, 360.0, 420.0, 500.0, 600.0, 700.0, 860.0,
    ],
    [
        60.0, 75.0, 90.0, 110.0, 130.0, 160.0, 190.0, 220.0, 250.0, 290.0, 320.0, 360.0, 400.0,
        440.0, 500.0, 560.0, 660.0, 780.0, 920.0, 1100.0, 1350.0,
    ],
    [
        100.0, 120.0, 150.0, 180.0, 210.0, 250.0, 300.0, 350.0, 400.0, 460.0, 520.0, 570.0, 630.0,
        700.0, 800.0, 900.0, 1050.0, 1250.0, 1500.0, 1750.0, 2100.0,
    ],
    [
        140.0, 180.0, 220.0, 270.0, 330.0, 390.0, 460.0, 540.0, 630.0, 720.0, 810.0, 890.0, 970.0,
        1100.0, 1250.0, 1400.0, 1650.0, 1950.0, 2300.0, 2800.0, 3300.0,
    ],
    [
        250.0, 300.0, 360.0, 430.0, 520.0, 620.0, 740.0, 870.0, 1000.0, 1150.0, 1300.0, 1400.0,
        1550.0, 1750.0, 2000.0, 2300.0, 2600.0, 3100.0, 3700.0, 4400.0, 5400.0,
    ],
    [
        400.0, 480.0, 580.0, 700.0, 840.0, 1000.0, 1200.0, 1400.0, 1600.0, 1850.0, 2100.0, 2300.0,
        2500.0, 2800.0, 3200.0, 3600.0, 4200.0, 5000.0, 6000.0, 7000.0, 8600.0,
    ],
    [
        600.0, 750.0, 900.0, 1100.0, 1300.0, 1600.0, 1900.0, 2200.0, 2500.0, 2900.0, 3200.0,
        3600.0, 4000.0, 4400.0, 5000.0, 5600.0, 6600.0, 7800.0, 9200.0, 11000.0, 13500.0,
    ],
    [
        1000.0, 1200.0, 1500.0, 1800.0, 2100.0, 2500.0, 3000.0, 3500.0, 4000.0, 4600.0, 5200.0,
        5700.0, 6300.0, 7000.0, 8000.0, 9000.0, 10500.0, 12500.0, 15000.0, 17500.0, 21000.0,
    ],
    [
        1400.0, 1800.0, 2200.0, 2700.0, 3300.0, 3900.0, 4600.0, 5400.0, 6300.0, 7200.0, 8100.0,
        8900.0, 9700.0, 11000.0, 12500.0, 14000.0, 16500.0, 19500.0, 23000.0, 28000.0, 33000.0,
    ],
];

/// Marks a step the standard leaves empty for a letter.
const NA: f64 = f64::NAN;

/// Magnitudes (µm) of the upper deviation `es` of shafts `a`..`g` (negative), per
/// intermediate step; a shorter row means the letter is not defined above its last step.
const UPPER_SHAFT: [(&str, &[f64]); 10] = [
    (
        "a",
        &[
            270.0, 270.0, 280.0, 290.0, 290.0, 300.0, 300.0, 310.0, 320.0, 340.0, 360.0, 380.0,
            410.0, 460.0, 520.0, 580.0, 660.0, 740.0, 820.0, 920.0, 1050.0, 1200.0, 1350.0, 1500.0,
            1650.0,
        ],
    ),
    (
        "b",
        &[
            140.0, 140.0, 150.0, 150.0, 150.0, 160.0, 160.0, 170.0, 180.0, 190.0, 200.0, 220.0,
            240.0, 260.0, 280.0, 310.0, 340.0, 380.0, 420.0, 480.0, 540.0, 600.0, 680.0, 760.0,
            840.0,
        ],
    ),
    (
        "c",
        &[
            60.0, 70.0, 80.0, 95.0, 95.0, 110.0, 110.0, 120.0, 130.0, 140.0, 150.0, 170.0, 180.0,
            200.0, 210.0, 230.0, 240.0, 260.0, 280.0, 300.0, 330.0, 360.0, 400.0, 440.0, 480.0,
        ],
    ),
    ("cd", &[34.0, 46.0, 56.0]),
    (
        "d",
        &[
            20.0, 30.0, 40.0, 50.0, 50.0, 65.0, 65.0, 80.0, 80.0, 100.0, 100.0, 120.0, 120.0,
            145.0, 145.0, 145.0, 170.0, 170.0, 170.0, 190.0, 190.0, 210.0, 210.0, 230.0, 230.0,
            260.0, 260.0, 290.0, 290.0, 320.0, 320.0, 350.0, 350.0, 390.0, 390.0, 430.0, 430.0,
            480.0, 480.0, 520.0, 520.0,
        ],
    ),
    (
        "e",
        &[
            14.0, 20.0, 25.0, 32.0, 32.0, 40.0, 40.0, 50.0, 50.0, 60.0, 60.0, 72.0, 72.0, 85.0,
            85.0, 85.0, 100.0, 100.0, 100.0, 110.0, 110.0, 125.0, 125.0, 135.0, 135.0, 145.0,
            145.0, 160.0, 160.0, 170.0, 170.0, 195.0, 195.0, 220.0, 220.0, 240.0, 240.0, 260.0,
            260.0, 290.0, 290.0,
        ],
    ),
    ("ef", &[10.0, 14.0, 18.0]),
    (
        "f",
        &[
            6.0, 10.0, 13.0, 16.0, 16.0, 20.0, 20.0, 25.0, 25.0, 30.0, 30.0, 36.0, 36.0, 43.0,
            43.0, 43.0, 50.0, 50.0, 50.0, 56.0, 56.0, 62.0, 62.0, 68.0, 68.0, 76.0, 76.0, 80.0,
            80.0, 86.0, 86.0, 98.0, 98.0, 110.0, 110.0, 120.0, 120.0, 130.0, 130.0, 145.0, 145.0,
        ],
    ),
    ("fg", &[4.0, 6.0, 8.0]),
    (
        "g",
        &[
            2.0, 4.0, 5.0, 6.0, 6.0, 7.0, 7.0, 9.0, 9.0, 10.0, 10.0, 12.0, 12.0, 14.0, 14.0, 14.0,
            15.0, 15.0, 15.0, 17.0, 17.0, 18.0, 18.0, 20.0, 20.0, 22.0, 22.0, 24.0, 24.0, 26.0,
            26.0, 28.0, 28.0, 30.0, 30.0, 32.0, 32.0, 34.0, 34.0, 38.0, 38.0,
        ],
    ),
];

/// Lower deviation `ei` (µm, positive) of shafts `m`..`zc`, per intermediate step.
const LOWER_SHAFT: [(&str, &[f64]); 14] = [
    (
        "m",
        &[
            2.0, 4.0, 6.0, 7.0, 7.0, 8.0, 8.0, 9.0, 9.0, 11.0, 11.0, 13.0, 13.0, 15.0, 15.0, 15.0,
            17.0, 17.0, 17.0, 20.0, 20.0, 21.0, 21.0, 23.0, 23.0, 26.0, 26.0, 30.0, 30.0, 34.0,
            34.0, 40.0, 40.0, 48.0, 48.0, 58.0, 58.0, 68.0, 68.0, 76.0, 76.0,
        ],
    ),
    (
        "n",
        &[
            4.0, 8.0, 10.0, 12.0, 12.0, 15.0, 15.0, 17.0, 17.0, 20.0, 20.0, 23.0, 23.0, 27.0, 27.0,
            27.0, 31.0, 31.0, 31.0, 34.0, 34.0, 37.0, 37.0, 40.0, 40.0, 44.0, 44.0, 50.0, 50.0,
            56.0, 56.0, 66.0, 66.0, 78.0, 78.0, 92.0, 92.0, 110.0, 110.0, 135.0, 135.0,
        ],
    ),
    (
        "p",
        &[
            6.0, 12.0, 15.0, 18.0, 18.0, 22.0, 22.0, 26.0, 26.0, 32.0, 32.0, 37.0, 37.0, 43.0,
            43.0, 43.0, 50.0, 50.0, 50.0, 56.0, 56.0, 62.0, 62.0, 68.0, 68.0, 78.0, 78.0, 88.0,
            88.0, 100.0, 100.0, 120.0, 120.0, 140.0, 140.0, 170.0, 170.0, 195.0, 195.0, 240.0,
            240.0,
        ],
    ),
    (
        "r",
        &[
            10.0, 15.0, 19.0, 23.0, 23.0, 28.0, 28.0, 34.0, 34.0, 41.0, 43.0, 51.0, 54.0, 63.0,
            65.0, 68.0, 77.0, 80.0, 84.0, 94.0, 98.0, 108.0, 114.0, 126.0, 132.0, 150.0, 155.0,
            175.0, 185.0, 210.0, 220.0, 250.0, 260.0, 300.0, 330.0, 370.0, 400.0, 440.0, 460.0,
            550.0, 580.0,
        ],
    ),
    (
        "s",
        &[
            14.0, 19.0, 23.0, 28.0, 28.0, 35.0, 35.0, 43.0, 43.0, 53.0, 59.0, 71.0, 79.0, 92.0,
            100.0, 108.0, 122.0, 130.0, 140.0, 158.0, 170.0, 190.0, 208.0, 232.0, 252.0, 280.0,
            310.0, 340.0, 380.0, 430.0, 470.0, 520.0, 580.0, 640.0, 720.0, 820.0, 920.0, 1000.0,
            1100.0, 1250.0, 1400.0,
        ],
    ),
    (
        "t",
        &[
            NA, NA, NA, NA, NA, NA, 41.0, 48.0, 54.0, 66.0, 75.0, 91.0, 104.0, 122.0, 134.0, 146.0,
            166.0, 180.0, 196.0, 218.0, 240.0, 268.0, 294.0, 330.0, 360.0, 400.0, 450.0, 500.0,
            560.0, 620.0, 680.0, 780.0, 840.0, 960.0, 1050.0, 1200.0, 1350.0, 1500.0, 1650.0,
            1900.0, 2100.0,
        ],
    ),
    (
        "u",
        &[
            18.0, 23.0, 28.0, 33.0, 33.0, 41.0, 48.0, 60.0, 70.0, 87.0, 102.0, 124.0, 144.0, 170.0,
            190.0, 210.0, 236.0, 258.0, 284.0, 315.0, 350.0, 390.0, 435.0, 490.0, 540.0, 600.0,
            660.0, 740.0, 840.0, 940.0, 1050.0, 1150.0, 1300.0, 1450.0, 1600.0, 1850.0, 2000.0,
            2300.0, 2500.0, 2900.0, 3200.0,
        ],
    ),
    (
        "v",
        &[
            NA, NA, NA, NA, 39.0, 47.0, 55.0, 68.0, 81.0, 102.0, 120.0, 146.0, 172.0, 202.0, 228.0,
            252.0, 284.0, 310.0, 340.0, 385.0, 425.0, 475.0, 530.0, 595.0, 660.0,
        ],
    ),
    (
        "x",
        &[
            20.0, 28.0, 34.0, 40.0, 45.0, 54.0, 64.0, 80.0, 97.0, 122.0, 146.0, 178.0, 210.0,
            248.0, 280.0, 310.0, 350.0, 385.0, 425.0, 475.0, 525.0, 590.0, 660.0, 740.0, 820.0,
        ],
    ),
    (
        "y",
        &[
            NA, NA, NA, NA, NA, 63.0, 75.0, 94.0, 114.0, 144.0, 174.0, 214.0, 254.0, 300.0, 340.0,
            380.0, 425.0, 470.0, 520.0, 580.0, 650.0, 730.0, 820.0, 920.0, 1000.0,
        ],
    ),
    (
        "z",
        &[
            26.0, 35.0, 42.0, 50.0, 60.0, 73.0, 88.0, 112.0, 136.0, 172.0, 210.0, 258.0, 310.0,
            365.0, 415.0, 465.0, 520.0, 575.0, 640.0, 710.0, 790.0, 900.0, 1000.0, 1100.0, 1250.0,
        ],
    ),
    (
        "za",
        &[
            32.0, 42.0, 52.0, 64.0, 77.0, 98.0, 118.0, 148.0, 180.0, 226.0, 274.0, 335.0, 400.0,
            470.0, 535.0, 600.0, 670.0, 740.0, 820.0, 920.0, 1000.0, 1150.0, 1300.0, 1450.0,
            1600.0,
        ],
    ),
    (
        "zb",
        &[
            40.0, 50.0, 67.0, 90.0, 108.0, 136.0, 160.0, 200.0, 242.0, 300.0, 360.0, 445.0, 525.0,
            620.0, 700.0, 780.0, 880.0, 960.0, 1050.0, 1200.0, 1300.0, 1500.0, 1650.0, 1850.0,
            2100.0,
        ],
    ),
    (
        "zc",
        &[
            60.0, 80.0, 97.0, 130.0, 150.0, 188.0, 218.0, 274.0, 325.0, 405.0, 480.0, 585.0, 690.0,
            800.0, 900.0, 1000.0, 1150.0, 1250.0, 1350.0, 1550.0, 1700.0, 1900.0, 2100.0, 2400.0,
            2600.0,
        ],
    ),
];

/// Lower deviation `ei` (µm, positive) of shaft `k` in grades IT4..IT7, per main step up
/// to 500 mm; 0 in the other grades and above 500 mm.
const K_SHAFT: [f64; 13] = [
    0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 4.0, 5.0,
];

/// Lower deviation `ei` (µm, as signed) of shaft `j` per grade, per main step to 500 mm.
const J_SHAFT: [(u8, &[f64]); 4] = [
    (
        5,
        &[
            -2.0, -2.0, -2.0, -3.0, -4.0, -5.0, -7.0, -9.0, -11.0, -13.0, -16.0, -18.0, -20.0,
        ],
    ),
    (
        6,
        &[
            -2.0, -2.0, -2.0, -3.0, -4.0, -5.0, -7.0, -9.0, -11.0, -13.0, -16.0, -18.0, -20.0,
        ],
    ),
    (
        7,
        &[
            -4.0, -4.0, -5.0, -6.0, -8.0, -10.0, -12.0, -15.0, -18.0, -21.0, -26.0, -28.0, -32.0,
        ],
    ),
    (8, &[-6.0]),
];

/// Upper deviation `ES` (µm, signed) of hole `J` per grade, per main step to 500 mm.
const J_HOLE: [(u8, &[f64]); 3] = [
    (
        6,
        &[
            2.0, 5.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 18.0, 22.0, 25.0, 29.0, 33.0,
        ],
    ),
    (
        7,
        &[
            4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 18.0, 22.0, 26.0, 30.0, 36.0, 39.0, 43.0,
        ],
    ),
    (
        8,
        &[
            6.0, 10.0, 12.0, 15.0, 20.0, 24.0, 28.0, 34.0, 41.0, 47.0, 55.0, 60.0, 66.0,
        ],
    ),
];

/// The letters ISO 286 defines, in the standard's order (lowercase; holes use uppercase).
const LETTERS: [&str; 28] = [
    "a", "b", "c", "cd", "d", "e", "ef", "f", "fg", "g", "h", "js", "j", "k", "m", "n", "p", "r",
    "s", "t", "u", "v", "x", "y", "z", "za", "zb", "zc",
];

/// A tolerance class split into its parts: `H7` → hole, letter `"h"`, grade 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToleranceClass {
    /// True for a hole (uppercase letter), false for a shaft.
    pub hole: bool,
    /// The fundamental-deviation letter(s), lowercase: `"h"`, `"js"`, `"zc"`.
    pub letter: &'static str,
    /// The standard tolerance grade, 1..=18.
    pub grade: u8,
}

/// Splits a tolerance class like `"H7"`, `"js6"` or `"ZC11"` into its parts.
///
/// All letters must be uppercase (hole) or all lowercase (shaft); `None` for anything else,
/// including grades outside 1..=18.
pub fn parse_class(class: &str) -> Option<ToleranceClass> {
    let class = class.trim();
    let split = class.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = class.split_at(split);
    if letters.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 2 {
        return None;
    }
    let hole = if letters.bytes().all(|b| b.is_ascii_uppercase()) {
        true
    } else if letters.bytes().all(|b| b.is_ascii_lowercase()) {
        false
    } else {
        return None;
    };
    let lower = letters.to_ascii_lowercase();
    let letter = *LETTERS.iter().find(|l| **l == lower)?;
    let grade: u8 = digits.parse().ok()?;
    if !(1..=18).contains(&grade) {
        return None;
    }
    Some(ToleranceClass {
        hole,
        letter,
        grade,
    })
}

/// Index of the step containing `size` (mm): over the previous limit, up to and including
/// this one.
fn step(steps: &[f64], size: f64) -> Option<usize> {
    if size.is_nan() || size <= 0.0 {
        return None;
    }
    steps.iter().position(|&upper| size <= upper)
}

/// Standard tolerance of grade `grade` (1..=18) for a nominal size, in µm.
fn it_um(grade: u8, size: f64) -> Option<f64> {
    if !(1..=18).contains(&grade) {
        return None;
    }
    // ISO 286-1 table 1 note: IT14 to IT18 are not used at or below 1 mm.
    if grade >= 14 && size <= 1.0 {
        return None;
    }
    let i = step(&MAIN_STEPS, size)?;
    Some(IT[usize::from(grade) - 1][i])
}

/// Standard tolerance IT`grade` (1..=18) for a nominal size in mm (0 < size ≤ 3150), in mm.
///
/// `IT7` at 25 mm is 0.021; `None` outside the standard's range.
pub fn standard_tolerance(grade: u8, nominal_mm: f64) -> Option<f64> {
    it_um(grade, nominal_mm).map(|v| v / 1000.0)
}

/// `Δ` (µm) for holes K..ZC: the difference between grade `grade` and the next finer one;
/// 0 at or below 3 mm.
fn delta(grade: u8, size: f64) -> Option<f64> {
    if size <= 3.0 {
        return Some(0.0);
    }
    if grade < 2 {
        return Some(0.0);
    }
    Some(it_um(grade, size)? - it_um(grade - 1, size)?)
}

/// A value from a per-step row; `None` past its end or where the standard leaves it empty.
fn row_value(row: &[f64], index: usize) -> Option<f64> {
    row.get(index).copied().filter(|v| !v.is_nan())
}

/// Lower deviation `ei` (µm) of shafts `k`..`zc` (not `j`).
fn shaft_ei(letter: &str, grade: u8, size: f64) -> Option<f64> {
    if letter == "k" {
        if size > 500.0 || !(4..=7).contains(&grade) {
            return Some(0.0);
        }
        return Some(K_SHAFT[step(&MAIN_STEPS, size)?]);
    }
    let (_, row) = LOWER_SHAFT.iter().find(|(l, _)| *l == letter)?;
    row_value(row, step(&FINE_STEPS, size)?)
}

/// The symmetric half band of `js`/`JS` (µm).
fn js_half(grade: u8, it: f64) -> f64 {
    // ISO 286-1: for IT7..IT11 an odd tolerance in µm is rounded down to the even value
    // below, so that the half band stays a whole µm (js7 at 25 mm is ±10, not ±10.5).
    if (7..=11).contains(&grade) && it.fract() == 0.0 && (it as i64) % 2 == 1 {
        (it - 1.0) / 2.0
    } else {
        it / 2.0
    }
}

/// Limit deviations `(upper, lower)` in µm of a tolerance class for a nominal size.
fn deviations_um(class: ToleranceClass, size: f64) -> Option<(f64, f64)> {
    let grade = class.grade;
    let it = it_um(grade, size)?;
    let letter = class.letter;
    if letter == "h" {
        return Some(if class.hole { (it, 0.0) } else { (0.0, -it) });
    }
    if letter == "js" {
        let half = js_half(grade, it);
        return Some((half, -half));
    }
    if !class.hole {
        if let Some((_, row)) = UPPER_SHAFT.iter().find(|(l, _)| *l == letter) {
            let es = -row_value(row, step(&FINE_STEPS, size)?)?;
            return Some((es, es - it));
        }
        if letter == "j" {
            if size > 500.0 {
                return None;
            }
            let (_, row) = J_SHAFT.iter().find(|(g, _)| *g == grade)?;
            let ei = *row.get(step(&MAIN_STEPS, size)?)?;
            return Some((ei + it, ei));
        }
        let ei = shaft_ei(letter, grade, size)?;
        return Some((ei + it, ei));
    }
    // Holes: A..G mirror the shafts (EI = -es).
    if let Some((_, row)) = UPPER_SHAFT.iter().find(|(l, _)| *l == letter) {
        let ei = row_value(row, step(&FINE_STEPS, size)?)?;
        return Some((ei + it, ei));
    }
    if letter == "j" {
        if size > 500.0 {
            return None;
        }
        let (_, row) = J_HOLE.iter().find(|(g, _)| *g == grade)?;
        let es = *row.get(step(&MAIN_STEPS, size)?)?;
        return Some((es, es - it));
    }
    // K..ZC: ES = -ei (+ Δ in the finer grades), ISO 286-1 table 3 and its rules.
    let large = size > 500.0;
    let es = match letter {
        "k" => {
            if grade <= 8 && !large {
                -shaft_ei("k", 7, size)? + delta(grade, size)?
            } else {
                0.0
            }
        }
        "m" => {
            // ISO 286-1 special case: M6 over 250 up to 315 mm has ES = -9 µm.
            if grade == 6 && size > 250.0 && size <= 315.0 {
                -9.0
            } else if grade <= 8 && !large {
                -shaft_ei("m", grade, size)? + delta(grade, size)?
            } else {
                -shaft_ei("m", grade, size)?
            }
        }
        "n" => {
            if grade <= 8 && !large {
                -shaft_ei("n", grade, size)? + delta(grade, size)?
            } else if large {
                -shaft_ei("n", grade, size)?
            } else {
                0.0
            }
        }
        _ => {
            let base = -shaft_ei(letter, grade, size)?;
            if grade <= 7 && !large {
                base + delta(grade, size)?
            } else {
                base
            }
        }
    };
    Some((es, es - it))
}

/// Limit deviations in mm, `(upper, lower)`, of a hole (uppercase, `"H7"`) or shaft
/// (lowercase, `"g6"`) tolerance class for a nominal size in mm (0 < size ≤ 3150).
///
/// `limit_deviations("H7", 25.0)` is `Some((0.021, 0.0))`; `"g6"` at 25 mm is
/// `Some((-0.007, -0.020))`. `None` for a class that does not parse, a size out of range,
/// or a combination the standard does not define.
pub fn limit_deviations(class: &str, nominal_mm: f64) -> Option<(f64, f64)> {
    let class = parse_class(class)?;
    let (upper, lower) = deviations_um(class, nominal_mm)?;
    // Values are whole or half µm, so rounding to 0.1 µm only removes binary noise.
    let mm = |um: f64| (um * 10.0).round() / 10_000.0;
    Some((mm(upper), mm(lower)))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        class: &'static str,
        size: f64,
        want: Option<(f64, f64)>,
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn limit_deviations_match_iso_286_2_tables() {
        let cases = [
            // The spot values the issue names.
            Case {
                class: "H7",
                size: 25.0,
                want: Some((0.021, 0.0)),
            },
            Case {
                class: "g6",
                size: 25.0,
                want: Some((-0.007, -0.020)),
            },
            Case {
                class: "H12",
                size: 38.0,
                want: Some((0.25, 0.0)),
            },
            Case {
                class: "h6",
                size: 10.0,
                want: Some((0.0, -0.009)),
            },
            Case {
                class: "js6",
                size: 18.0,
                want: Some((0.0055, -0.0055)),
            },
            Case {
                class: "k6",
                size: 50.0,
                want: Some((0.018, 0.002)),
            },
            Case {
                class: "p6",
                size: 30.0,
                want: Some((0.035, 0.022)),
            },
            Case {
                class: "F7",
                size: 40.0,
                want: Some((0.050, 0.025)),
            },
            Case {
                class: "N7",
                size: 12.0,
                want: Some((-0.005, -0.023)),
            },
            Case {
                class: "M7",
                size: 100.0,
                want: Some((0.0, -0.035)),
            },
            // More ISO 286-2 table values.
            Case {
                class: "H7",
                size: 3.0,
                want: Some((0.010, 0.0)),
            },
            Case {
                class: "H7",
                size: 3.1,
                want: Some((0.012, 0.0)),
            },
            Case {
                class: "H8",
                size: 50.0,
                want: Some((0.039, 0.0)),
            },
            Case {
                class: "H11",
                size: 100.0,
                want: Some((0.220, 0.0)),
            },
            Case {
                class: "h9",
                size: 60.0,
                want: Some((0.0, -0.074)),
            },
            Case {
                class: "f7",
                size: 20.0,
                want: Some((-0.020, -0.041)),
            },
            Case {
                class: "e8",
                size: 40.0,
                want: Some((-0.050, -0.089)),
            },
            Case {
                class: "d9",
                size: 40.0,
                want: Some((-0.080, -0.142)),
            },
            Case {
                class: "c11",
                size: 10.0,
                want: Some((-0.080, -0.170)),
            },
            Case {
                class: "G7",
                size: 8.0,
                want: Some((0.020, 0.005)),
            },
            Case {
                class: "E9",
                size: 16.0,
                want: Some((0.075, 0.032)),
            },
            Case {
                class: "D10",
                size: 30.0,
                want: Some((0.149, 0.065)),
            },
            Case {
                class: "K7",
                size: 25.0,
                want: Some((0.006, -0.015)),
            },
            Case {
                class: "K7",
                size: 2.0,
                want: Some((0.0, -0.010)),
            },
            Case {
                class: "K6",
                size: 50.0,
                want: Some((0.003, -0.013)),
            },
            Case {
                class: "M7",
                size: 2.0,
                want: Some((-0.002, -0.012)),
            },
            Case {
                class: "M6",
                size: 300.0,
                want: Some((-0.009, -0.041)),
            },
            Case {
                class: "N9",
                size: 20.0,
                want: Some((0.0, -0.052)),
            },
            Case {
                class: "P7",
                size: 25.0,
                want: Some((-0.014, -0.035)),
            },
            Case {
                class: "P9",
                size: 20.0,
                want: Some((-0.022, -0.074)),
            },
            Case {
                class: "S7",
                size: 50.0,
                want: Some((-0.034, -0.059)),
            },
            Case {
                class: "U7",
                size: 40.0,
                want: Some((-0.051, -0.076)),
            },
            Case {
                class: "JS7",
                size: 25.0,
                want: Some((0.010, -0.010)),
            },
            Case {
                class: "js7",
                size: 50.0,
                want: Some((0.012, -0.012)),
            },
            Case {
                class: "JS9",
                size: 20.0,
                want: Some((0.026, -0.026)),
            },
            Case {
                class: "J7",
                size: 25.0,
                want: Some((0.012, -0.009)),
            },
            Case {
                class: "j6",
                size: 25.0,
                want: Some((0.009, -0.004)),
            },
            Case {
                class: "k6",
                size: 25.0,
                want: Some((0.015, 0.002)),
            },
            Case {
                class: "k8",
                size: 25.0,
                want: Some((0.033, 0.0)),
            },
            Case {
                class: "m6",
                size: 25.0,
                want: Some((0.021, 0.008)),
            },
            Case {
                class: "n6",
                size: 25.0,
                want: Some((0.028, 0.015)),
            },
            Case {
                class: "r6",
                size: 70.0,
                want: Some((0.062, 0.043)),
            },
            Case {
                class: "s6",
                size: 50.0,
                want: Some((0.059, 0.043)),
            },
            Case {
                class: "t6",
                size: 40.0,
                want: Some((0.064, 0.048)),
            },
            Case {
                class: "u6",
                size: 25.0,
                want: Some((0.061, 0.048)),
            },
            Case {
                class: "x7",
                size: 10.0,
                want: Some((0.049, 0.034)),
            },
            Case {
                class: "a11",
                size: 100.0,
                want: Some((-0.380, -0.600)),
            },
            Case {
                class: "b11",
                size: 20.0,
                want: Some((-0.160, -0.290)),
            },
            Case {
                class: "h7",
                size: 600.0,
                want: Some((0.0, -0.070)),
            },
            Case {
                class: "H7",
                size: 3150.0,
                want: Some((0.210, 0.0)),
            },
            Case {
                class: "f7",
                size: 600.0,
                want: Some((-0.076, -0.146)),
            },
            // Undefined in the standard, or not a class at all.
            Case {
                class: "t6",
                size: 20.0,
                want: None,
            },
            Case {
                class: "H7",
                size: 0.0,
                want: None,
            },
            Case {
                class: "H7",
                size: 3151.0,
                want: None,
            },
            Case {
                class: "H19",
                size: 10.0,
                want: None,
            },
            Case {
                class: "H0",
                size: 10.0,
                want: None,
            },
            Case {
                class: "h14",
                size: 0.5,
                want: None,
            },
            Case {
                class: "Hh7",
                size: 10.0,
                want: None,
            },
            Case {
                class: "W7",
                size: 10.0,
                want: None,
            },
            Case {
                class: "x7",
                size: 600.0,
                want: None,
            },
            Case {
                class: "7",
                size: 10.0,
                want: None,
            },
            Case {
                class: "",
                size: 10.0,
                want: None,
            },
        ];
        for case in &cases {
            let got = limit_deviations(case.class, case.size);
            match (got, case.want) {
                (Some((gu, gl)), Some((wu, wl))) => assert!(
                    close(gu, wu) && close(gl, wl),
                    "{} @ {} mm: got ({gu}, {gl}), want ({wu}, {wl})",
                    case.class,
                    case.size
                ),
                (None, None) => {}
                (got, want) => panic!(
                    "{} @ {} mm: got {got:?}, want {want:?}",
                    case.class, case.size
                ),
            }
        }
    }

    #[test]
    fn standard_tolerance_grades() {
        struct Grade {
            grade: u8,
            size: f64,
            want: Option<f64>,
        }
        let cases = [
            Grade {
                grade: 1,
                size: 1.0,
                want: Some(0.0008),
            },
            Grade {
                grade: 6,
                size: 18.0,
                want: Some(0.011),
            },
            Grade {
                grade: 12,
                size: 38.0,
                want: Some(0.25),
            },
            Grade {
                grade: 18,
                size: 500.0,
                want: Some(9.7),
            },
            Grade {
                grade: 16,
                size: 2000.0,
                want: Some(9.2),
            },
            Grade {
                grade: 19,
                size: 10.0,
                want: None,
            },
        ];
        for case in &cases {
            let got = standard_tolerance(case.grade, case.size);
            match (got, case.want) {
                (Some(g), Some(w)) => {
                    assert!(close(g, w), "IT{} @ {}: {g} != {w}", case.grade, case.size)
                }
                (g, w) => assert_eq!(g, w, "IT{} @ {}", case.grade, case.size),
            }
        }
    }

    #[test]
    fn delta_is_the_step_to_the_finer_grade_as_tabulated() {
        // ISO 286-1 table 3 Δ for 400..500 mm, IT3..IT8: 5 5 7 13 23 34.
        let got: Vec<f64> = (3..=8).map(|g| delta(g, 450.0).unwrap()).collect();
        assert_eq!(got, vec![5.0, 5.0, 7.0, 13.0, 23.0, 34.0]);
        // 3..6 mm: 1 1.5 1 3 4 6.
        let got: Vec<f64> = (3..=8).map(|g| delta(g, 5.0).unwrap()).collect();
        assert_eq!(got, vec![1.0, 1.5, 1.0, 3.0, 4.0, 6.0]);
    }

    #[test]
    fn parse_class_splits_letters_and_grade() {
        assert_eq!(
            parse_class("JS7"),
            Some(ToleranceClass {
                hole: true,
                letter: "js",
                grade: 7
            })
        );
        assert_eq!(
            parse_class("zc11"),
            Some(ToleranceClass {
                hole: false,
                letter: "zc",
                grade: 11
            })
        );
        assert_eq!(parse_class("Js7"), None);
        assert_eq!(parse_class("H7x"), None);
    }
}
