//! Dimension notation as data: ISO 129 / ASME Y14.5 dimension text, GD&T feature-control
//! frames and title-block labels, read from OCR output into typed values.
//!
//! Layout: [`normalise`] first rewrites OCR spellings into one canonical form (one
//! diameter sign `Ø`, decimal points, `±`, `°`, `x`, a count prefix `4X `, single spaces);
//! [`parse_dimension`] then reads that form with a small hand-written cursor, kind by kind
//! (general-tolerance note, roughness, inch thread, prefixed kinds `SØ SR Ø R C M Tr G`,
//! then plain numbers: angle, chamfer or linear), followed by the tolerance
//! (`±`, deviations, limits, ISO fit classes resolved with [`super::iso286`]).
//! [`looks_like_dimension`] is the cheap filter in front of it; [`parse_callout`] reads a
//! dimension with a callout tail (`M5x0.8 THRO' x 2`, `R2 (TYP)`); [`parse_gdt`] reads frame
//! cells, [`title_block_key`] maps title-block labels to consistent keys.
//!
//! Conventions (each tested beside the code that reads it):
//! - Units: lengths in mm (`"mm"`), or inches (`"in"`) for unified/pipe threads and a
//!   trailing `"` mark; angles in decimal degrees (`"deg"`, `30°15'` = 30.25); roughness in
//!   µm (`"um"`). Deviations are signed and in the nominal's unit.
//! - Deviations: two given in either order become `upper = max`, `lower = min`; a single
//!   signed deviation means the other is 0 (`+0.1` → +0.1 / 0).
//! - Limits (`20.1/19.9`, or two stacked unsigned numbers within 10 % of each other) are
//!   recorded as the mean with a symmetric band: nominal 20.0, upper +0.1, lower −0.1.
//! - Fits: `H7/g6` keeps both classes in `fit`; `upper`/`lower` come from the first class
//!   (the hole in a hole/shaft pair). Deviations written next to a fit (`Ø20H7(+0.021/0)`)
//!   win over the table.
//! - Threads: `thread` holds the normalised designation (`M10x1.5-6g`, `1/4-20 UNC-2B`),
//!   `nominal` the major diameter (mm for metric, inches for unified) or, for pipe threads,
//!   the size designation; a thread tolerance class stays in `thread`, not in `fit`.
//! - Chamfers: `C2` / `CH2` is 2 mm at 45°; `1x45°` and `45°x1` are 1 mm at 45°.
//! - Computed numbers are rounded to 1e-6 to drop binary noise (20.1 − 20.0 is 0.1).
mod callout;
mod cursor;
mod dimension;
mod gdt;
mod normalise;
mod thread;
mod title_block;
mod tolerance;

use serde::{Deserialize, Serialize};

pub use callout::{parse_callout, parse_tail_line};
pub use dimension::{looks_like_dimension, parse_dimension};
pub use gdt::{parse_gdt, GdtFrame};
pub use normalise::normalise;
pub use title_block::{material_reading, title_block_key};

/// What a dimension text is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimKind {
    Linear,
    Diameter,
    Radius,
    SphericalDiameter,
    SphericalRadius,
    Angle,
    Chamfer,
    Thread,
    Roughness,
    GeneralTolerance,
}

/// One dimension read from drawing text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dimension {
    /// The text as given.
    pub raw: String,
    pub kind: DimKind,
    /// mm for lengths (in for inch threads), decimal degrees for angles, µm for roughness.
    pub nominal: Option<f64>,
    /// `"mm"`, `"deg"`, `"um"` or `"in"`.
    pub unit: String,
    /// Upper deviation, signed, in `unit` (+0.02).
    pub upper: Option<f64>,
    /// Lower deviation, signed, in `unit` (−0.1, or 0).
    pub lower: Option<f64>,
    /// ISO fit class: `"H7"`, `"g6"`, `"H7/g6"`.
    pub fit: Option<String>,
    /// Normalised thread designation: `"M8"`, `"M8x1.25"`, `"M10-6H"`, `"1/4-20 UNC"`.
    pub thread: Option<String>,
    /// Feature count from a `4X` prefix.
    pub count: Option<u32>,
    /// Reference dimension: in parentheses or marked `REF`.
    pub reference: bool,
    /// Basic (theoretically exact) dimension: the text was boxed.
    pub basic: bool,
    /// Chamfer angle in degrees, for chamfers; a countersink's included angle, for a
    /// diameter (`⌵Ø6.4x90°`).
    pub chamfer_angle: Option<f64>,
    /// Roughness parameter: `"Ra"`, `"Rz"`.
    pub roughness: Option<String>,
    /// General tolerance standard and class: `"ISO 2768-m"`, `"ISO 2768-mK"`.
    pub general_tolerance: Option<String>,
}

/// Why a text could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("empty dimension text")]
    Empty,
    #[error("no number in dimension text {0:?}")]
    NoNumber(String),
    #[error("cannot read {text:?} as a dimension: unexpected {rest:?}")]
    Garbage { text: String, rest: String },
    #[error("deviation {deviation} in {text:?} is not smaller than its nominal {nominal}")]
    ImplausibleDeviation {
        text: String,
        deviation: f64,
        nominal: f64,
    },
    #[error("empty feature control frame")]
    EmptyFrame,
    #[error(
        "unknown geometric characteristic {0:?} in a feature control frame; expected one of the 14 symbols such as ⌖ or //"
    )]
    UnknownCharacteristic(String),
    #[error("cannot read tolerance cell {0:?} of a feature control frame")]
    BadFrameTolerance(String),
    #[error("cannot read datum cell {0:?} of a feature control frame")]
    BadDatum(String),
}
#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn close(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (None, None) => true,
            _ => false,
        }
    }

    #[test]
    fn dimension_serialises_kind_in_snake_case() {
        let dim = parse_dimension("SØ20", false).unwrap();
        let json = serde_json::to_value(&dim).unwrap();
        assert_eq!(json["kind"], "spherical_diameter");
        let back: Dimension = serde_json::from_value(json).unwrap();
        assert_eq!(back, dim);
    }
}
