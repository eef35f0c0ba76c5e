//! Dimension text: the kinds told apart by their prefix (roughness, chamfer, thread,
//! spherical, diameter, radius), plain numbers (angle, chamfer or linear), trailing
//! words, and the cheap filter in front of the parser.

use super::cursor::{round6, Cursor};
use super::normalise::{normalise, split_count};
use super::thread::{inch_thread, metric_thread, pipe_thread};
use super::tolerance::{general_tolerance_note, tolerance};
use super::{DimKind, Dimension, ParseError};

/// Words that may trail a dimension without changing its value (`REF` marks a reference).
const SUFFIX_WORDS: [&str; 11] = [
    "REF", "THRU", "TYP.", "TYP", "EQS", "EQ SP", "DEEP", "MAX.", "MAX", "MIN.", "MIN",
];

/// Roughness parameters, longest first.
const ROUGHNESS: [&str; 6] = ["Rmax", "Ra", "Rz", "Rq", "Rt", "Ry"];

/// Parses one dimension text (as OCR gave it; [`normalise`] is applied first). `boxed`
/// marks a basic dimension (the layout found a lone rectangle around it).
///
/// # Errors
/// [`ParseError::Empty`] for blank text, [`ParseError::NoNumber`] when no digit is
/// present, [`ParseError::Garbage`] naming the unreadable rest, and
/// [`ParseError::ImplausibleDeviation`] when a deviation is not smaller than its nominal.
pub fn parse_dimension(raw: &str, boxed: bool) -> Result<Dimension, ParseError> {
    let text = normalise(raw);
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let shown = raw.trim().to_string();
    let garbage = |rest: &str| ParseError::Garbage {
        text: shown.clone(),
        rest: rest.to_string(),
    };
    let mut dim = Dimension {
        raw: raw.to_string(),
        kind: DimKind::Linear,
        nominal: None,
        unit: "mm".to_string(),
        upper: None,
        lower: None,
        fit: None,
        thread: None,
        count: None,
        reference: false,
        basic: boxed,
        chamfer_angle: None,
        roughness: None,
        general_tolerance: None,
    };
    if let Some(class) = general_tolerance_note(&text) {
        dim.kind = DimKind::GeneralTolerance;
        dim.general_tolerance = Some(class);
        return Ok(dim);
    }
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return Err(ParseError::NoNumber(shown.clone()));
    }

    let (count, mut body) = split_count(&text);
    dim.count = count;
    if body.len() >= 2 && body.starts_with('(') && body.ends_with(')') {
        dim.reference = true;
        body = body[1..body.len() - 1].trim();
    }
    let (body, marked_reference) = strip_suffixes(body);
    dim.reference |= marked_reference;
    let body = strip_mm(body);
    let body = body.trim_start_matches('√').trim_start();

    let mut c = Cursor::new(body);
    for p in ROUGHNESS {
        if body.starts_with(p)
            && body[p.len()..]
                .chars()
                .next()
                .is_some_and(|n| n == ' ' || n == '=' || n.is_ascii_digit() || n == '.')
        {
            c.eat_str(p);
            c.skip_ws();
            c.eat('=');
            c.skip_ws();
            let n = c.number().ok_or_else(|| garbage(c.rest()))?;
            c.skip_ws();
            let _ = c.eat_str("µm") || c.eat_str("um") || c.eat_str("μm");
            if !c.at_end() {
                return Err(garbage(c.rest()));
            }
            dim.kind = DimKind::Roughness;
            dim.roughness = Some(p.to_string());
            dim.nominal = Some(n.value);
            dim.unit = "um".to_string();
            return Ok(dim);
        }
    }
    // Unified threads: a series named, or a numbered size (`#4-40`).
    if body.contains("UN") || body.starts_with('#') {
        return inch_thread(body, dim).ok_or_else(|| garbage(body));
    }

    let kind = if c.eat_prefix("SØ") {
        DimKind::SphericalDiameter
    } else if c.eat_prefix("SR") {
        DimKind::SphericalRadius
    } else if c.eat_prefix("⌵Ø") || c.eat_prefix("⌴Ø") || c.eat_prefix("Ø") {
        // A countersink's or counterbore's sign before the diameter's.
        DimKind::Diameter
    } else if c.eat_prefix("R") {
        DimKind::Radius
    } else if c.eat_prefix("CH") || c.eat_prefix("C") {
        let n = c.number().ok_or_else(|| garbage(c.rest()))?;
        if !c.at_end() {
            return Err(garbage(c.rest()));
        }
        dim.kind = DimKind::Chamfer;
        dim.nominal = Some(n.value);
        dim.chamfer_angle = Some(45.0);
        return Ok(dim);
    } else if c.eat_prefix("M") {
        return metric_thread(&mut c, dim, "M").map_err(|rest| garbage(&rest));
    } else if c.eat_prefix("Tr") {
        return metric_thread(&mut c, dim, "Tr").map_err(|rest| garbage(&rest));
    } else if c.eat_prefix("G") {
        return pipe_thread(&mut c, dim).map_err(|rest| garbage(&rest));
    } else {
        DimKind::Linear
    };
    dim.kind = kind;
    let nominal = c.number().ok_or_else(|| garbage(c.rest()))?;
    if nominal.leading_zero {
        return Err(garbage(body));
    }
    dim.nominal = Some(nominal.value);

    if dim.kind == DimKind::Linear {
        if c.peek() == Some('°') {
            let degrees = angle_after_degrees(&mut c, nominal.value);
            if c.eat('x') {
                // `45°x1`: angle first, then the chamfer length.
                let len = c.number().ok_or_else(|| garbage(c.rest()))?;
                if !c.at_end() {
                    return Err(garbage(c.rest()));
                }
                dim.kind = DimKind::Chamfer;
                dim.nominal = Some(len.value);
                dim.chamfer_angle = Some(degrees);
                return Ok(dim);
            }
            dim.kind = DimKind::Angle;
            dim.unit = "deg".to_string();
            dim.nominal = Some(round6(degrees));
            tolerance(&mut c, &mut dim, true).map_err(|rest| garbage(&rest))?;
            return check_deviations(dim, &shown);
        }
        if c.eat('x') {
            let angle = c.number().ok_or_else(|| garbage(c.rest()))?;
            if !c.eat('°') || !c.at_end() {
                return Err(garbage(c.rest()));
            }
            dim.kind = DimKind::Chamfer;
            dim.chamfer_angle = Some(angle.value);
            return Ok(dim);
        }
    }
    // A countersink: its diameter and included angle (`⌵Ø6.4x90°`; the sign is
    // often drawn as line work, and a text layer lacks it).
    if dim.kind == DimKind::Diameter && c.peek() == Some('x') {
        let save = c.pos;
        c.eat('x');
        match c.number() {
            Some(angle) if c.eat('°') && c.at_end() && angle.value > 0.0 && angle.value < 180.0 => {
                dim.chamfer_angle = Some(angle.value);
                return Ok(dim);
            }
            _ => c.pos = save,
        }
    }
    if c.eat('"') {
        dim.unit = "in".to_string();
    }
    tolerance(&mut c, &mut dim, false).map_err(|rest| garbage(&rest))?;
    check_deviations(dim, &shown)
}

/// Rejects deviations that are not smaller than the nominal (a date `2022-08-26`, a part
/// number), which no drawing writes.
fn check_deviations(dim: Dimension, text: &str) -> Result<Dimension, ParseError> {
    if let Some(nominal) = dim.nominal {
        if dim.kind != DimKind::Angle {
            for d in [dim.upper, dim.lower].into_iter().flatten() {
                if d.abs() >= nominal {
                    return Err(ParseError::ImplausibleDeviation {
                        text: text.to_string(),
                        deviation: d,
                        nominal,
                    });
                }
            }
        }
    }
    Ok(dim)
}

/// `36.00mm`, `Ø2.50 mm`, `M6x16mm`: the millimetre unit some CAD exports print
/// after the last number (the default unit, so nothing changes but the text).
fn strip_mm(body: &str) -> &str {
    for unit in ["mm", "MM"] {
        if let Some(rest) = body.strip_suffix(unit) {
            let rest = rest.trim_end();
            if rest.ends_with(|c: char| c.is_ascii_digit()) {
                return rest;
            }
        }
    }
    body
}

/// Strips trailing words (`THRU`, `TYP`, `REF`) and depth marks (`↧5`); true when `REF`
/// was among them.
fn strip_suffixes(mut body: &str) -> (&str, bool) {
    let mut reference = false;
    if let Some(k) = body.find('↧') {
        body = body[..k].trim_end();
    }
    loop {
        let upper = body.to_ascii_uppercase();
        let Some(word) = SUFFIX_WORDS.iter().find(|w| {
            upper.ends_with(*w)
                && upper.len() > w.len()
                && upper[..upper.len() - w.len()].ends_with(' ')
        }) else {
            return (body, reference);
        };
        reference |= *word == "REF";
        body = body[..body.len() - word.len()].trim_end();
    }
}

/// Reads the minutes and seconds after `deg°` (the cursor is on `°`): decimal degrees.
pub(super) fn angle_after_degrees(c: &mut Cursor<'_>, degrees: f64) -> f64 {
    c.eat('°');
    let mut value = degrees;
    let save = c.pos;
    if let Some(m) = c.number() {
        if c.eat('\'') {
            value += m.value / 60.0;
            let save = c.pos;
            if let Some(s) = c.number() {
                if c.eat('"') {
                    value += s.value / 3600.0;
                } else {
                    c.pos = save;
                }
            }
        } else {
            c.pos = save;
        }
    }
    value
}
/// Cheap filter: could this text be a dimension? True for `38`, `1x45°`, `Ø21,5±0,1`,
/// `M8x1.25`, `(25,5)`, `R5`, `4X Ø6 H7`, `Ra 3.2`; false for words (`DRAWN`), dates
/// (`2022-08-26`), sheet sizes (`A4`), part numbers (`TMPS34/TMPT06`, `HT2022`), scales
/// (`1:2`) and section labels (`A-A`).
pub fn looks_like_dimension(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() || t.len() > 64 || !t.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    // Scales and dates carry separators no dimension uses this way.
    if t.contains(':') {
        return false;
    }
    parse_dimension(t, false).is_ok_and(|d| d.kind != DimKind::GeneralTolerance)
}
#[cfg(test)]
mod tests {
    use super::super::tests::close;
    use super::*;

    /// The fields a case asserts; everything not named keeps its default.
    #[derive(Debug, Clone)]
    struct Want {
        kind: DimKind,
        nominal: Option<f64>,
        unit: &'static str,
        upper: Option<f64>,
        lower: Option<f64>,
        fit: Option<&'static str>,
        thread: Option<&'static str>,
        count: Option<u32>,
        reference: bool,
        basic: bool,
        chamfer_angle: Option<f64>,
        roughness: Option<&'static str>,
        general_tolerance: Option<&'static str>,
    }

    impl Want {
        fn new(kind: DimKind, nominal: f64) -> Self {
            Self {
                kind,
                nominal: Some(nominal),
                unit: "mm",
                upper: None,
                lower: None,
                fit: None,
                thread: None,
                count: None,
                reference: false,
                basic: false,
                chamfer_angle: None,
                roughness: None,
                general_tolerance: None,
            }
        }
        fn tol(mut self, upper: f64, lower: f64) -> Self {
            self.upper = Some(upper);
            self.lower = Some(lower);
            self
        }
        fn unit(mut self, unit: &'static str) -> Self {
            self.unit = unit;
            self
        }
        fn fit(mut self, fit: &'static str) -> Self {
            self.fit = Some(fit);
            self
        }
        fn thread(mut self, spec: &'static str) -> Self {
            self.thread = Some(spec);
            self
        }
        fn count(mut self, n: u32) -> Self {
            self.count = Some(n);
            self
        }
        fn reference(mut self) -> Self {
            self.reference = true;
            self
        }
        fn basic(mut self) -> Self {
            self.basic = true;
            self
        }
        fn chamfer(mut self, angle: f64) -> Self {
            self.chamfer_angle = Some(angle);
            self
        }
        fn roughness(mut self, r: &'static str) -> Self {
            self.roughness = Some(r);
            self.unit = "um";
            self
        }
    }

    fn check(raw: &str, boxed: bool, want: &Want) {
        let got = parse_dimension(raw, boxed).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        let ok = got.kind == want.kind
            && close(got.nominal, want.nominal)
            && got.unit == want.unit
            && close(got.upper, want.upper)
            && close(got.lower, want.lower)
            && got.fit.as_deref() == want.fit
            && got.thread.as_deref() == want.thread
            && got.count == want.count
            && got.reference == want.reference
            && got.basic == want.basic
            && close(got.chamfer_angle, want.chamfer_angle)
            && got.roughness.as_deref() == want.roughness
            && got.general_tolerance.as_deref() == want.general_tolerance
            && got.raw == raw;
        assert!(ok, "{raw:?}:\n got {got:?}\nwant {want:?}");
    }

    #[test]
    fn parse_dimension_reads_every_notation() {
        use DimKind::*;
        let gt = |class: &'static str| Want {
            nominal: None,
            general_tolerance: Some(class),
            ..Want::new(GeneralTolerance, 0.0)
        };
        let cases: Vec<(&str, bool, Want)> = vec![
            // Linear, decimal point and comma.
            ("38", false, Want::new(Linear, 38.0)),
            ("6.144", false, Want::new(Linear, 6.144)),
            ("21,5", false, Want::new(Linear, 21.5)),
            ("0,5", false, Want::new(Linear, 0.5)),
            (".250\"", false, Want::new(Linear, 0.25).unit("in")),
            // Diameter, every spelling of the sign, and OCR's leading 0.
            ("Ø42", false, Want::new(Diameter, 42.0)),
            ("⌀42", false, Want::new(Diameter, 42.0)),
            ("∅15", false, Want::new(Diameter, 15.0)),
            ("ø 6", false, Want::new(Diameter, 6.0)),
            ("042", false, Want::new(Diameter, 42.0)),
            // Radius and spherical.
            ("R5", false, Want::new(Radius, 5.0)),
            ("R 70", false, Want::new(Radius, 70.0)),
            ("SR10", false, Want::new(SphericalRadius, 10.0)),
            ("SØ20", false, Want::new(SphericalDiameter, 20.0)),
            ("S⌀20", false, Want::new(SphericalDiameter, 20.0)),
            // Angles.
            ("45°", false, Want::new(Angle, 45.0).unit("deg")),
            ("45,0°", false, Want::new(Angle, 45.0).unit("deg")),
            ("60,0º", false, Want::new(Angle, 60.0).unit("deg")),
            ("30°15'", false, Want::new(Angle, 30.25).unit("deg")),
            ("30°15'36\"", false, Want::new(Angle, 30.26).unit("deg")),
            (
                "30° ±1°",
                false,
                Want::new(Angle, 30.0).unit("deg").tol(1.0, -1.0),
            ),
            (
                "90°±30'",
                false,
                Want::new(Angle, 90.0).unit("deg").tol(0.5, -0.5),
            ),
            // Chamfers.
            ("1x45°", false, Want::new(Chamfer, 1.0).chamfer(45.0)),
            ("1 X 45°", false, Want::new(Chamfer, 1.0).chamfer(45.0)),
            ("1,5×30°", false, Want::new(Chamfer, 1.5).chamfer(30.0)),
            ("45°x2", false, Want::new(Chamfer, 2.0).chamfer(45.0)),
            ("C2", false, Want::new(Chamfer, 2.0).chamfer(45.0)),
            // Countersinks: a diameter and its included angle.
            ("Ø6.4 X 90°", false, Want::new(Diameter, 6.4).chamfer(90.0)),
            ("⌵Ø6.40x82°", false, Want::new(Diameter, 6.4).chamfer(82.0)),
            ("⌴Ø11", false, Want::new(Diameter, 11.0)),
            ("CH5", false, Want::new(Chamfer, 5.0).chamfer(45.0)),
            // Threads.
            ("M8", false, Want::new(Thread, 8.0).thread("M8")),
            ("M8x1.25", false, Want::new(Thread, 8.0).thread("M8x1.25")),
            ("M8X1,25", false, Want::new(Thread, 8.0).thread("M8x1.25")),
            // A thread's length or depth after its pitch (`M5x0.8x4`), a fastener's
            // length (`M6x16`).
            ("M5x0.8x4", false, Want::new(Thread, 5.0).thread("M5x0.8x4")),
            (
                "M4x0.7x10",
                false,
                Want::new(Thread, 4.0).thread("M4x0.7x10"),
            ),
            // An explicit millimetre unit.
            ("36.00mm", false, Want::new(Linear, 36.0)),
            ("Ø2.50mm", false, Want::new(Diameter, 2.5)),
            ("R4 mm", false, Want::new(Radius, 4.0)),
            ("M6x16mm", false, Want::new(Thread, 6.0).thread("M6x16")),
            ("M10-6H", false, Want::new(Thread, 10.0).thread("M10-6H")),
            (
                "M10x1.5-6g",
                false,
                Want::new(Thread, 10.0).thread("M10x1.5-6g"),
            ),
            ("M12 LH", false, Want::new(Thread, 12.0).thread("M12 LH")),
            ("Tr16x4", false, Want::new(Thread, 16.0).thread("Tr16x4")),
            (
                "1/4-20 UNC",
                false,
                Want::new(Thread, 0.25).unit("in").thread("1/4-20 UNC"),
            ),
            (
                "1/4\"-20UNC-2B",
                false,
                Want::new(Thread, 0.25).unit("in").thread("1/4-20 UNC-2B"),
            ),
            (
                "#10-32 UNF",
                false,
                Want::new(Thread, 0.19).unit("in").thread("#10-32 UNF"),
            ),
            (
                "G1/2",
                false,
                Want::new(Thread, 0.5).unit("in").thread("G1/2"),
            ),
            ("4X M6", false, Want::new(Thread, 6.0).thread("M6").count(4)),
            // Counts.
            ("4X Ø6", false, Want::new(Diameter, 6.0).count(4)),
            ("4x⌀6", false, Want::new(Diameter, 6.0).count(4)),
            ("2x R5", false, Want::new(Radius, 5.0).count(2)),
            ("2 × R5", false, Want::new(Radius, 5.0).count(2)),
            ("3X 10", false, Want::new(Linear, 10.0).count(3)),
            (
                "4X Ø6 H7",
                false,
                Want::new(Diameter, 6.0).count(4).fit("H7").tol(0.012, 0.0),
            ),
            ("4X 06", false, Want::new(Diameter, 6.0).count(4)),
            // Reference and basic.
            ("(25,5)", false, Want::new(Linear, 25.5).reference()),
            ("(Ø20)", false, Want::new(Diameter, 20.0).reference()),
            ("25 REF", false, Want::new(Linear, 25.0).reference()),
            ("40", true, Want::new(Linear, 40.0).basic()),
            ("Ø12", true, Want::new(Diameter, 12.0).basic()),
            // Symmetric tolerances.
            ("Ø21,5±0,1", false, Want::new(Diameter, 21.5).tol(0.1, -0.1)),
            ("021,5±0,1", false, Want::new(Diameter, 21.5).tol(0.1, -0.1)),
            ("3±0.02", false, Want::new(Linear, 3.0).tol(0.02, -0.02)),
            ("25 +/- 0.1", false, Want::new(Linear, 25.0).tol(0.1, -0.1)),
            ("25+-0,05", false, Want::new(Linear, 25.0).tol(0.05, -0.05)),
            ("R5 ±0.2", false, Want::new(Radius, 5.0).tol(0.2, -0.2)),
            // Deviations, stacked or inline.
            (
                "50.6 +0.02 0",
                false,
                Want::new(Linear, 50.6).tol(0.02, 0.0),
            ),
            (
                "50.6\n+0.02\n0",
                false,
                Want::new(Linear, 50.6).tol(0.02, 0.0),
            ),
            (
                "70.5 0 +0.02",
                false,
                Want::new(Linear, 70.5).tol(0.02, 0.0),
            ),
            (
                "20 +0.1 -0.2",
                false,
                Want::new(Linear, 20.0).tol(0.1, -0.2),
            ),
            (
                "20 -0.2 +0.1",
                false,
                Want::new(Linear, 20.0).tol(0.1, -0.2),
            ),
            (
                "Ø10 +0.05/-0.02",
                false,
                Want::new(Diameter, 10.0).tol(0.05, -0.02),
            ),
            (
                "Ø10+0,05/-0,02",
                false,
                Want::new(Diameter, 10.0).tol(0.05, -0.02),
            ),
            ("12 0 -0.1", false, Want::new(Linear, 12.0).tol(0.0, -0.1)),
            ("12 -0.1", false, Want::new(Linear, 12.0).tol(0.0, -0.1)),
            ("12 + 0.1", false, Want::new(Linear, 12.0).tol(0.1, 0.0)),
            // Limits: the mean with a symmetric band.
            ("20.1/19.9", false, Want::new(Linear, 20.0).tol(0.1, -0.1)),
            (
                "Ø20.021/20.000",
                false,
                Want::new(Diameter, 20.0105).tol(0.0105, -0.0105),
            ),
            ("20.1\n19.9", false, Want::new(Linear, 20.0).tol(0.1, -0.1)),
            // ISO fits resolved from ISO 286.
            (
                "Ø38H12",
                false,
                Want::new(Diameter, 38.0).fit("H12").tol(0.25, 0.0),
            ),
            (
                "038H12",
                false,
                Want::new(Diameter, 38.0).fit("H12").tol(0.25, 0.0),
            ),
            (
                "Ø25 H7",
                false,
                Want::new(Diameter, 25.0).fit("H7").tol(0.021, 0.0),
            ),
            (
                "Ø25g6",
                false,
                Want::new(Diameter, 25.0).fit("g6").tol(-0.007, -0.020),
            ),
            (
                "Ø20 H7/g6",
                false,
                Want::new(Diameter, 20.0).fit("H7/g6").tol(0.021, 0.0),
            ),
            (
                "Ø20 H7 / g6",
                false,
                Want::new(Diameter, 20.0).fit("H7/g6").tol(0.021, 0.0),
            ),
            (
                "18 js6",
                false,
                Want::new(Linear, 18.0).fit("js6").tol(0.0055, -0.0055),
            ),
            (
                "Ø20H7(+0.021/0)",
                false,
                Want::new(Diameter, 20.0).fit("H7").tol(0.021, 0.0),
            ),
            (
                "Ø20 h6 (0 -0.013)",
                false,
                Want::new(Diameter, 20.0).fit("h6").tol(0.0, -0.013),
            ),
            // Roughness.
            ("Ra 3.2", false, Want::new(Roughness, 3.2).roughness("Ra")),
            ("Ra3,2", false, Want::new(Roughness, 3.2).roughness("Ra")),
            ("Rz 16", false, Want::new(Roughness, 16.0).roughness("Rz")),
            ("√Ra 0.8", false, Want::new(Roughness, 0.8).roughness("Ra")),
            // General tolerance notes.
            ("ISO 2768-m", false, gt("ISO 2768-m")),
            ("ISO 2768-mK", false, gt("ISO 2768-mK")),
            ("DIN ISO 2768-1 f", false, gt("ISO 2768-f")),
            ("General tolerances ISO 2768 - m", false, gt("ISO 2768-m")),
        ];
        for (raw, boxed, want) in &cases {
            check(raw, *boxed, want);
        }
    }

    #[test]
    fn parse_dimension_errors_name_the_text() {
        struct Case {
            raw: &'static str,
            want: ParseError,
        }
        let garbage = |text: &str, rest: &str| ParseError::Garbage {
            text: text.into(),
            rest: rest.into(),
        };
        let cases = [
            Case {
                raw: "",
                want: ParseError::Empty,
            },
            Case {
                raw: "  \n ",
                want: ParseError::Empty,
            },
            Case {
                raw: "DRAWN",
                want: ParseError::NoNumber("DRAWN".into()),
            },
            Case {
                raw: "Ø",
                want: ParseError::NoNumber("Ø".into()),
            },
            Case {
                raw: "A4",
                want: garbage("A4", "A4"),
            },
            Case {
                raw: "1:2",
                want: garbage("1:2", ":2"),
            },
            Case {
                raw: "HT2022",
                want: garbage("HT2022", "HT2022"),
            },
            Case {
                raw: "2022-08-26",
                want: garbage("2022-08-26", "-08-26"),
            },
            Case {
                raw: "Ø20 H7x",
                want: garbage("Ø20 H7x", "x"),
            },
            Case {
                raw: "5 +7",
                want: ParseError::ImplausibleDeviation {
                    text: "5 +7".into(),
                    deviation: 7.0,
                    nominal: 5.0,
                },
            },
        ];
        for case in &cases {
            assert_eq!(
                parse_dimension(case.raw, false),
                Err(case.want.clone()),
                "{:?}",
                case.raw
            );
        }
        let message = parse_dimension("A4", false).unwrap_err().to_string();
        assert_eq!(
            message,
            "cannot read \"A4\" as a dimension: unexpected \"A4\""
        );
    }

    #[test]
    fn looks_like_dimension_filters_title_block_text() {
        struct Case {
            text: &'static str,
            want: bool,
        }
        let cases = [
            Case {
                text: "38",
                want: true,
            },
            Case {
                text: "1x45°",
                want: true,
            },
            Case {
                text: "Ø21,5±0,1",
                want: true,
            },
            Case {
                text: "M8x1.25",
                want: true,
            },
            Case {
                text: "(25,5)",
                want: true,
            },
            Case {
                text: "R5",
                want: true,
            },
            Case {
                text: "4X Ø6 H7",
                want: true,
            },
            Case {
                text: "Ra 3.2",
                want: true,
            },
            Case {
                text: "⌀38H12",
                want: true,
            },
            Case {
                text: "50.6 +0.02 0",
                want: true,
            },
            Case {
                text: "DRAWN",
                want: false,
            },
            Case {
                text: "SURFACE FINISH",
                want: false,
            },
            Case {
                text: "2022-08-26",
                want: false,
            },
            Case {
                text: "26.08.2022",
                want: false,
            },
            Case {
                text: "A4",
                want: false,
            },
            Case {
                text: "TMPS34/TMPT06",
                want: false,
            },
            Case {
                text: "HT2022",
                want: false,
            },
            Case {
                text: "DWG NO.",
                want: false,
            },
            Case {
                text: "1:2",
                want: false,
            },
            Case {
                text: "A-A",
                want: false,
            },
            Case {
                text: "ISO 2768-m",
                want: false,
            },
            Case {
                text: "",
                want: false,
            },
        ];
        for case in &cases {
            assert_eq!(
                looks_like_dimension(case.text),
                case.want,
                "{:?}",
                case.text
            );
        }
    }
}
