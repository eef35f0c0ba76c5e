//! The inspection plan, without an LLM: every toleranced or fitted dimension, thread,
//! surface requirement and GD&T frame read on the drawing becomes an inspection item
//! with its limits (ISO 286 fits already resolved by the parser), the method and gauge
//! a shop would use, and how often to measure it. Items are numbered (the balloon
//! numbers of a first-article inspection report) in reading order: dimensions first,
//! then GD&T frames.
//!
//! Method rules (tolerance width `w` = upper − lower limit):
//! - a fitted feature: plug gauge (GO/NO-GO) for a hole class (`H7`), ring or snap
//!   gauge for a shaft class (`g6`);
//! - a thread: thread plug gauge for an internal class (`6H`), ring gauge for an
//!   external one (`6g`), plug or ring by the feature when the class is not given;
//! - a length or diameter: CMM when `w` < 0.01 mm, micrometer (bore gauge inside)
//!   when `w` < 0.05 mm, calliper otherwise;
//! - an angle: bevel protractor when `w` ≥ 0.5°, else CMM (or sine bar);
//! - a surface roughness: roughness tester (stylus profilometer);
//! - GD&T: CMM for position, profile, symmetry and concentricity; dial indicator on
//!   centres for run-out; roundness tester for circularity and cylindricity; surface
//!   plate and dial indicator for flatness and straightness; CMM or height gauge for
//!   orientation (parallelism, perpendicularity, angularity).
//!
//! Sampling: every part for fits, threads, GD&T frames and `w` ≤ 0.02 mm (critical);
//! the first article and then 1 in 10 otherwise.
//!
//! Reference dimensions (`(25)`, `REF`), basic dimensions (their tolerance is the
//! frame's) and plain dimensions under the general tolerance are not items.

use serde::{Deserialize, Serialize};

use super::edocr::parse::{DimKind, Dimension, GdtFrame};

/// One inspection item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcItem {
    /// 1, 2, …: the balloon number on a first-article inspection report.
    pub balloon: u32,
    /// What is measured: `diameter`, `linear`, `angle`, `thread`, `roughness`, or the
    /// GD&T characteristic (`position`, `flatness`, …).
    pub characteristic: String,
    /// The text as read.
    pub raw: String,
    pub nominal: Option<f64>,
    pub unit: String,
    /// The tolerance as written (`±0.1`, `H12 (+0.250/0)`, `0.05 | A | B`).
    pub tolerance: String,
    /// The smallest and largest acceptable size (absolute), where the item has them.
    pub lower_limit: Option<f64>,
    pub upper_limit: Option<f64>,
    pub method: String,
    pub sampling: String,
    /// Where the item came from: `dimension N` or `gdt N` (0-based, the report's order).
    pub source: String,
}

const EVERY_PART: &str = "every part";
const FIRST_THEN_1_IN_10: &str = "first article, then 1 in 10";

/// The plan for a drawing's dimensions and GD&T frames.
pub fn plan(dimensions: &[Dimension], gdt: &[GdtFrame]) -> Vec<QcItem> {
    let mut items = Vec::new();
    for (i, d) in dimensions.iter().enumerate() {
        if let Some(item) = dimension_item(d, format!("dimension {i}")) {
            items.push(item);
        }
    }
    for (i, f) in gdt.iter().enumerate() {
        items.push(gdt_item(f, format!("gdt {i}")));
    }
    for (n, item) in items.iter_mut().enumerate() {
        item.balloon = n as u32 + 1;
    }
    items
}

fn dimension_item(d: &Dimension, source: String) -> Option<QcItem> {
    if d.reference || d.basic {
        return None;
    }
    let item = |characteristic: &str, tolerance: String, method: String, sampling: &str| {
        let (lower_limit, upper_limit) = limits(d);
        QcItem {
            balloon: 0,
            characteristic: characteristic.to_string(),
            raw: d.raw.clone(),
            nominal: d.nominal,
            unit: d.unit.clone(),
            tolerance,
            lower_limit,
            upper_limit,
            method,
            sampling: sampling.to_string(),
            source: source.clone(),
        }
    };
    if let Some(thread) = &d.thread {
        let class = thread_class(thread);
        let method = match class.as_deref().map(is_internal_class) {
            Some(true) => "thread plug gauge (GO/NO-GO)",
            Some(false) => "thread ring gauge (GO/NO-GO)",
            None => "thread plug gauge (internal) or ring gauge (external)",
        };
        let tolerance = class.unwrap_or_else(|| "thread class not given".into());
        return Some(item("thread", tolerance, method.into(), EVERY_PART));
    }
    if let Some(ra) = &d.roughness {
        return Some(item(
            "roughness",
            format!("{ra} ≤ {}", fmt(d.nominal?)),
            "roughness tester (stylus profilometer)".into(),
            FIRST_THEN_1_IN_10,
        ));
    }
    let (upper, lower) = (d.upper?, d.lower?);
    let width = upper - lower;
    let characteristic = match d.kind {
        DimKind::Diameter => "diameter",
        DimKind::Radius => "radius",
        DimKind::SphericalDiameter => "spherical diameter",
        DimKind::SphericalRadius => "spherical radius",
        DimKind::Angle => "angle",
        DimKind::Chamfer => "chamfer",
        _ => "linear",
    };
    let written = deviations(upper, lower);
    if let Some(fit) = &d.fit {
        let hole = fit.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let method = if hole {
            "plug gauge (GO/NO-GO)"
        } else {
            "ring or snap gauge (GO/NO-GO)"
        };
        return Some(item(
            characteristic,
            format!("{fit} ({written})"),
            method.into(),
            EVERY_PART,
        ));
    }
    let method = if d.kind == DimKind::Angle {
        if width >= 0.5 {
            "bevel protractor"
        } else {
            "CMM (or sine bar)"
        }
    } else if width < 0.01 {
        "CMM"
    } else if width < 0.05 {
        "micrometer (bore gauge for an inside size)"
    } else {
        "calliper"
    };
    let sampling = if d.kind != DimKind::Angle && width <= 0.02 + 1e-9 {
        EVERY_PART
    } else {
        FIRST_THEN_1_IN_10
    };
    Some(item(characteristic, written, method.into(), sampling))
}

fn gdt_item(f: &GdtFrame, source: String) -> QcItem {
    let characteristic = f.characteristic.clone();
    let method = match characteristic.as_str() {
        "position"
        | "profile_of_a_line"
        | "profile_of_a_surface"
        | "symmetry"
        | "concentricity" => "CMM",
        "circular_runout" | "total_runout" => "dial indicator on centres",
        "circularity" | "cylindricity" => "roundness tester (or CMM)",
        "flatness" | "straightness" => "surface plate and dial indicator (or CMM)",
        _ => "CMM or height gauge on a surface plate",
    };
    let mut tolerance = match f.tolerance {
        Some(t) => format!("{}{}", if f.diameter_zone { "Ø" } else { "" }, fmt(t)),
        None => "?".into(),
    };
    for datum in &f.datums {
        tolerance.push_str(&format!(" | {datum}"));
    }
    QcItem {
        balloon: 0,
        characteristic,
        raw: f.raw.clone(),
        nominal: None,
        unit: "mm".into(),
        tolerance,
        lower_limit: None,
        upper_limit: f.tolerance,
        method: method.into(),
        sampling: EVERY_PART.into(),
        source,
    }
}

/// Absolute limits: nominal + lower and nominal + upper deviation.
fn limits(d: &Dimension) -> (Option<f64>, Option<f64>) {
    match (d.nominal, d.lower, d.upper) {
        (Some(n), Some(lo), Some(hi)) => (Some(round(n + lo)), Some(round(n + hi))),
        _ => (None, None),
    }
}

/// `±0.1` for a symmetric tolerance, else `+0.250/0`.
fn deviations(upper: f64, lower: f64) -> String {
    if (upper + lower).abs() < 1e-9 {
        format!("±{}", fmt(upper))
    } else {
        let signed = |v: f64| {
            if v.abs() < 1e-12 {
                "0".to_string()
            } else if v > 0.0 {
                format!("+{}", fmt(v))
            } else {
                fmt(v)
            }
        };
        format!("{}/{}", signed(upper), signed(lower))
    }
}

/// The tolerance class of a thread designation (`M10-6H` → `6H`), if written.
fn thread_class(thread: &str) -> Option<String> {
    let (_, class) = thread.rsplit_once('-')?;
    let class = class.trim();
    (class.len() >= 2 && class.chars().next()?.is_ascii_digit() && !class.contains(' '))
        .then(|| class.to_string())
}

/// `6H` (a nut's class) is internal; `6g` (a bolt's) external.
fn is_internal_class(class: &str) -> bool {
    class.chars().any(|c| c.is_ascii_uppercase())
}

fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn fmt(v: f64) -> String {
    super::decimal(round(v), 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::edocr::parse::{parse_dimension, parse_gdt};

    fn items(texts: &[&str]) -> Vec<QcItem> {
        let dims: Vec<Dimension> = texts
            .iter()
            .map(|t| parse_dimension(t, false).unwrap())
            .collect();
        plan(&dims, &[])
    }

    #[test]
    fn toleranced_and_fitted_sizes_get_limits_and_a_gauge() {
        let got = items(&[
            "Ø42",
            "Ø38 H12",
            "(25,5)",
            "Ø21,5±0,1",
            "Ø10 g6",
            "12 +0,01 0",
        ]);
        // Ø42 (general tolerance) and (25,5) (reference) are not items.
        assert_eq!(got.len(), 4, "{got:#?}");
        assert_eq!(
            got.iter().map(|i| i.balloon).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        let h12 = &got[0];
        assert_eq!(h12.characteristic, "diameter");
        assert_eq!(
            (h12.lower_limit, h12.upper_limit),
            (Some(38.0), Some(38.25))
        );
        assert_eq!(h12.tolerance, "H12 (+0.25/0)");
        assert!(h12.method.starts_with("plug gauge"), "{}", h12.method);
        assert_eq!(h12.sampling, EVERY_PART);
        let sym = &got[1];
        assert_eq!((sym.lower_limit, sym.upper_limit), (Some(21.4), Some(21.6)));
        assert_eq!(sym.tolerance, "±0.1");
        assert_eq!(sym.method, "calliper");
        assert_eq!(sym.sampling, FIRST_THEN_1_IN_10);
        assert!(
            got[2].method.starts_with("ring or snap gauge"),
            "{}",
            got[2].method
        );
        let tight = &got[3];
        assert_eq!(tight.characteristic, "linear");
        assert!(tight.method.starts_with("micrometer"), "{}", tight.method);
        assert_eq!(tight.sampling, EVERY_PART);
        assert_eq!(tight.source, "dimension 5");
    }

    #[test]
    fn threads_roughness_and_gdt_frames() {
        let mut dims: Vec<Dimension> = ["M10-6H", "M8x1.25", "Ra 1.6"]
            .iter()
            .map(|t| parse_dimension(t, false).unwrap())
            .collect();
        dims.push(parse_dimension("0.005", false).unwrap());
        dims[3].upper = Some(0.001);
        dims[3].lower = Some(-0.001);
        let frames = [parse_gdt(&["⌖", "Ø0.1", "A", "B"]).unwrap()];
        let got = plan(&dims, &frames);
        let methods: Vec<&str> = got.iter().map(|i| i.method.as_str()).collect();
        assert!(methods[0].starts_with("thread plug gauge"), "{methods:?}");
        assert_eq!(got[0].tolerance, "6H");
        assert!(
            methods[1].contains("plug gauge (internal) or ring gauge"),
            "{methods:?}"
        );
        assert!(methods[2].starts_with("roughness tester"), "{methods:?}");
        assert_eq!(methods[3], "CMM");
        let frame = got.last().unwrap();
        assert_eq!(frame.characteristic, "position");
        assert_eq!(frame.method, "CMM");
        assert_eq!(frame.tolerance, "Ø0.1 | A | B");
        assert_eq!(frame.balloon, got.len() as u32);
    }
}
