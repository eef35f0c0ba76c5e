//! GD&T feature-control frames: characteristic symbol, tolerance cell (zone shape and
//! modifiers) and datum references.

use serde::{Deserialize, Serialize};

use super::cursor::Cursor;
use super::normalise::{canonical_char, decimal_points};
use super::ParseError;

/// One feature-control frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GdtFrame {
    /// One of the 14 ASME Y14.5 names: `straightness` … `total_runout`.
    pub characteristic: String,
    /// The canonical Unicode symbol: `⌖`, `∥`.
    pub symbol: String,
    /// Tolerance zone size in mm.
    pub tolerance: Option<f64>,
    /// The zone is cylindrical or spherical (`⌀` / `S⌀` before the value).
    pub diameter_zone: bool,
    /// `MMC`, `LMC`, `free_state`, `projected`, `RFS`, `tangent_plane`,
    /// `unequally_disposed`, in the order written.
    pub modifiers: Vec<String>,
    /// Datum references in order: `A`, `B(M)`, `A-B`.
    pub datums: Vec<String>,
    /// The cells joined with `|`.
    pub raw: String,
}

/// The 14 characteristics: name, canonical symbol, accepted spellings (Unicode symbols,
/// ASCII/OCR stand-ins, names).
const CHARACTERISTICS: [(&str, &str, &[&str]); 14] = [
    ("straightness", "⏤", &["⏤", "—", "–", "-", "straightness"]),
    ("flatness", "⏥", &["⏥", "▱", "flatness"]),
    (
        "circularity",
        "○",
        &["○", "◯", "〇", "O", "circularity", "roundness"],
    ),
    ("cylindricity", "⌭", &["⌭", "/O/", "/○/", "cylindricity"]),
    (
        "profile_of_a_line",
        "⌒",
        &["⌒", "◠", "profile of a line", "line profile"],
    ),
    (
        "profile_of_a_surface",
        "⌓",
        &["⌓", "◓", "profile of a surface", "surface profile"],
    ),
    ("angularity", "∠", &["∠", "<", "angularity"]),
    (
        "perpendicularity",
        "⟂",
        &["⟂", "⊥", "_|_", "perpendicularity"],
    ),
    ("parallelism", "∥", &["∥", "‖", "//", "||", "parallelism"]),
    ("position", "⌖", &["⌖", "⊕", "position", "true position"]),
    (
        "concentricity",
        "◎",
        &["◎", "⊚", "(O)", "concentricity", "coaxiality"],
    ),
    ("symmetry", "⌯", &["⌯", "≡", "=", "symmetry"]),
    (
        "circular_runout",
        "↗",
        &["↗", "➚", "↑", "/", "circular runout", "runout"],
    ),
    ("total_runout", "⌰", &["⌰", "↗↗", "total runout"]),
];

/// Material and feature modifiers: circled symbol, letter inside it, name.
const MODIFIERS: [(char, char, &str); 7] = [
    ('Ⓜ', 'M', "MMC"),
    ('Ⓛ', 'L', "LMC"),
    ('Ⓕ', 'F', "free_state"),
    ('Ⓟ', 'P', "projected"),
    ('Ⓢ', 'S', "RFS"),
    ('Ⓣ', 'T', "tangent_plane"),
    ('Ⓤ', 'U', "unequally_disposed"),
];

/// Finds the characteristic a cell starts with: exact spelling first, then the longest
/// symbol prefix (OCR may glue the tolerance to the symbol). Returns the index and the rest.
fn characteristic(cell: &str) -> Option<(usize, &str)> {
    let lower = cell.to_lowercase();
    for (i, (_, _, spellings)) in CHARACTERISTICS.iter().enumerate() {
        if spellings.iter().any(|s| s.to_lowercase() == lower) {
            return Some((i, ""));
        }
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, (_, _, spellings)) in CHARACTERISTICS.iter().enumerate() {
        for s in spellings
            .iter()
            .filter(|s| !s.chars().any(char::is_alphabetic))
        {
            if cell.starts_with(s) && best.is_none_or(|(_, len)| s.len() > len) {
                best = Some((i, s.len()));
            }
        }
    }
    best.map(|(i, len)| (i, cell[len..].trim()))
}

/// Reads one modifier at the cursor: `Ⓜ`, `(M)` or a bare `M`.
fn modifier(c: &mut Cursor<'_>) -> Option<&'static str> {
    for (circled, letter, name) in MODIFIERS {
        if c.eat(circled) || c.eat_str(&format!("({letter})")) || c.eat(letter) {
            return Some(name);
        }
    }
    None
}

/// Reads the tolerance cell: `⌀0.05Ⓜ`, `0,02`, `S⌀0.1`, `0.1Ⓟ12`.
fn frame_tolerance(cell: &str) -> Option<(f64, bool, Vec<String>)> {
    let text =
        decimal_points(&cell.chars().map(canonical_char).collect::<String>()).replace(' ', "");
    let mut c = Cursor::new(&text);
    let diameter_zone = c.eat('Ø') || c.eat_str("SØ");
    let value = c.number()?.value;
    let mut modifiers = Vec::new();
    while !c.at_end() {
        let name = modifier(&mut c)?;
        if matches!(name, "projected" | "unequally_disposed") {
            // Projected height or unequal-disposition value; not kept.
            c.number();
        }
        modifiers.push(name.to_string());
    }
    Some((value, diameter_zone, modifiers))
}

/// Reads datum references from one cell: `A`, `B(M)`, `AⓂ`, `A-B`, `A B C`.
fn frame_datums(cell: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for token in cell.split_whitespace() {
        let upper: String = token.chars().map(|ch| ch.to_ascii_uppercase()).collect();
        let letters = upper
            .find(|ch: char| !(ch.is_ascii_uppercase() || ch == '-'))
            .unwrap_or(upper.len());
        let (name, rest) = upper.split_at(letters);
        let mut name = name.to_string();
        let mut c = Cursor::new(rest);
        // A bare trailing modifier letter after a datum letter (`AM`) reads as `A(M)`.
        let mut tail = String::new();
        if rest.is_empty() && name.len() == 2 && !name.contains('-') {
            let last = name.pop().unwrap_or_default();
            if MODIFIERS.iter().any(|(_, l, _)| *l == last) {
                tail = format!("({last})");
            } else {
                name.push(last);
            }
        }
        while !c.at_end() {
            let m = modifier(&mut c)?;
            let letter = MODIFIERS
                .iter()
                .find(|(_, _, n)| *n == m)
                .map(|(_, l, _)| *l)?;
            tail.push_str(&format!("({letter})"));
        }
        let valid = !name.is_empty()
            && !name.starts_with('-')
            && !name.ends_with('-')
            && name.split('-').all(|p| !p.is_empty() && p.len() <= 2);
        if !valid {
            return None;
        }
        out.push(format!("{name}{tail}"));
    }
    Some(out)
}

/// Parses a feature-control frame from its cells, left to right: characteristic symbol,
/// tolerance (with zone shape and modifiers), then datum references. Cells eDOCr2-style
/// joined with `|` in one string are split first.
///
/// # Errors
/// [`ParseError::EmptyFrame`] without cells, [`ParseError::UnknownCharacteristic`] for an
/// unknown first cell, [`ParseError::BadFrameTolerance`] / [`ParseError::BadDatum`] for
/// cells that cannot be read.
pub fn parse_gdt(cells: &[&str]) -> Result<GdtFrame, ParseError> {
    let mut parts: Vec<String> = Vec::new();
    for cell in cells {
        let cell = cell.trim();
        if cell == "||" {
            parts.push(cell.to_string());
            continue;
        }
        let cell = cell.replace("_|_", "⟂");
        parts.extend(
            cell.split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
    }
    let Some(first) = parts.first() else {
        return Err(ParseError::EmptyFrame);
    };
    let (index, glued) =
        characteristic(first).ok_or_else(|| ParseError::UnknownCharacteristic(first.clone()))?;
    let (name, symbol, _) = CHARACTERISTICS[index];
    let mut rest: Vec<String> = Vec::new();
    if !glued.is_empty() {
        rest.push(glued.to_string());
    }
    rest.extend(parts[1..].iter().cloned());
    let mut frame = GdtFrame {
        characteristic: name.to_string(),
        symbol: symbol.to_string(),
        tolerance: None,
        diameter_zone: false,
        modifiers: Vec::new(),
        datums: Vec::new(),
        raw: cells.join("|"),
    };
    let mut rest = rest.into_iter();
    if let Some(cell) = rest.next() {
        let (value, diameter_zone, modifiers) =
            frame_tolerance(&cell).ok_or_else(|| ParseError::BadFrameTolerance(cell.clone()))?;
        frame.tolerance = Some(value);
        frame.diameter_zone = diameter_zone;
        frame.modifiers = modifiers;
    }
    for cell in rest {
        let datums = frame_datums(&cell).ok_or_else(|| ParseError::BadDatum(cell.clone()))?;
        frame.datums.extend(datums);
    }
    Ok(frame)
}
#[cfg(test)]
mod tests {
    use super::super::tests::close;
    use super::*;

    #[test]
    fn parse_gdt_reads_all_fourteen_characteristics() {
        struct Case {
            cells: &'static [&'static str],
            characteristic: &'static str,
            symbol: &'static str,
            tolerance: Option<f64>,
            diameter_zone: bool,
            modifiers: &'static [&'static str],
            datums: &'static [&'static str],
        }
        let cases = [
            Case {
                cells: &["⏤", "0.02"],
                characteristic: "straightness",
                symbol: "⏤",
                tolerance: Some(0.02),
                diameter_zone: false,
                modifiers: &[],
                datums: &[],
            },
            Case {
                cells: &["⏥", "0,05"],
                characteristic: "flatness",
                symbol: "⏥",
                tolerance: Some(0.05),
                diameter_zone: false,
                modifiers: &[],
                datums: &[],
            },
            Case {
                cells: &["○", "0.01"],
                characteristic: "circularity",
                symbol: "○",
                tolerance: Some(0.01),
                diameter_zone: false,
                modifiers: &[],
                datums: &[],
            },
            Case {
                cells: &["⌭", "0.03"],
                characteristic: "cylindricity",
                symbol: "⌭",
                tolerance: Some(0.03),
                diameter_zone: false,
                modifiers: &[],
                datums: &[],
            },
            Case {
                cells: &["⌒", "0.1", "A"],
                characteristic: "profile_of_a_line",
                symbol: "⌒",
                tolerance: Some(0.1),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["⌓", "0.2Ⓤ0.1", "A", "B"],
                characteristic: "profile_of_a_surface",
                symbol: "⌓",
                tolerance: Some(0.2),
                diameter_zone: false,
                modifiers: &["unequally_disposed"],
                datums: &["A", "B"],
            },
            Case {
                cells: &["∠", "0.05", "A"],
                characteristic: "angularity",
                symbol: "∠",
                tolerance: Some(0.05),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["⟂", "⌀0.02", "A"],
                characteristic: "perpendicularity",
                symbol: "⟂",
                tolerance: Some(0.02),
                diameter_zone: true,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["_|_", "0.02", "A"],
                characteristic: "perpendicularity",
                symbol: "⟂",
                tolerance: Some(0.02),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["∥", "0.02", "A"],
                characteristic: "parallelism",
                symbol: "∥",
                tolerance: Some(0.02),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["//", "0.02", "A"],
                characteristic: "parallelism",
                symbol: "∥",
                tolerance: Some(0.02),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["⌖", "⌀0.05Ⓜ", "A", "B"],
                characteristic: "position",
                symbol: "⌖",
                tolerance: Some(0.05),
                diameter_zone: true,
                modifiers: &["MMC"],
                datums: &["A", "B"],
            },
            Case {
                cells: &["⌖", "Ø0,1(M)", "A", "B(M)", "CⓁ"],
                characteristic: "position",
                symbol: "⌖",
                tolerance: Some(0.1),
                diameter_zone: true,
                modifiers: &["MMC"],
                datums: &["A", "B(M)", "C(L)"],
            },
            Case {
                cells: &["⌖", "⌀0.2ⓂⓅ15", "A"],
                characteristic: "position",
                symbol: "⌖",
                tolerance: Some(0.2),
                diameter_zone: true,
                modifiers: &["MMC", "projected"],
                datums: &["A"],
            },
            Case {
                cells: &["◎", "⌀0.01", "A"],
                characteristic: "concentricity",
                symbol: "◎",
                tolerance: Some(0.01),
                diameter_zone: true,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["⌯", "0.1", "A"],
                characteristic: "symmetry",
                symbol: "⌯",
                tolerance: Some(0.1),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["↗", "0.03", "A-B"],
                characteristic: "circular_runout",
                symbol: "↗",
                tolerance: Some(0.03),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A-B"],
            },
            Case {
                cells: &["⌰", "0.05", "A"],
                characteristic: "total_runout",
                symbol: "⌰",
                tolerance: Some(0.05),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["⏥", "0.1Ⓕ"],
                characteristic: "flatness",
                symbol: "⏥",
                tolerance: Some(0.1),
                diameter_zone: false,
                modifiers: &["free_state"],
                datums: &[],
            },
            Case {
                cells: &["⏥", "0.1Ⓣ"],
                characteristic: "flatness",
                symbol: "⏥",
                tolerance: Some(0.1),
                diameter_zone: false,
                modifiers: &["tangent_plane"],
                datums: &[],
            },
            Case {
                cells: &["⌖", "S⌀0.1Ⓢ", "A"],
                characteristic: "position",
                symbol: "⌖",
                tolerance: Some(0.1),
                diameter_zone: true,
                modifiers: &["RFS"],
                datums: &["A"],
            },
            // eDOCr2 joins cells with `|`; OCR may glue the value to the symbol.
            Case {
                cells: &["⌖|⌀0.05Ⓜ|A|B|C"],
                characteristic: "position",
                symbol: "⌖",
                tolerance: Some(0.05),
                diameter_zone: true,
                modifiers: &["MMC"],
                datums: &["A", "B", "C"],
            },
            Case {
                cells: &["⌖⌀0.05", "A"],
                characteristic: "position",
                symbol: "⌖",
                tolerance: Some(0.05),
                diameter_zone: true,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["_|_|0.02|A"],
                characteristic: "perpendicularity",
                symbol: "⟂",
                tolerance: Some(0.02),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A"],
            },
            Case {
                cells: &["Position", "0.1", "a b c"],
                characteristic: "position",
                symbol: "⌖",
                tolerance: Some(0.1),
                diameter_zone: false,
                modifiers: &[],
                datums: &["A", "B", "C"],
            },
        ];
        for case in &cases {
            let got = parse_gdt(case.cells).unwrap_or_else(|e| panic!("{:?}: {e}", case.cells));
            assert_eq!(got.characteristic, case.characteristic, "{:?}", case.cells);
            assert_eq!(got.symbol, case.symbol, "{:?}", case.cells);
            assert!(
                close(got.tolerance, case.tolerance),
                "{:?}: {:?}",
                case.cells,
                got.tolerance
            );
            assert_eq!(got.diameter_zone, case.diameter_zone, "{:?}", case.cells);
            assert_eq!(got.modifiers, case.modifiers, "{:?}", case.cells);
            assert_eq!(got.datums, case.datums, "{:?}", case.cells);
            assert_eq!(got.raw, case.cells.join("|"));
        }
        let names: std::collections::BTreeSet<_> = cases.iter().map(|c| c.characteristic).collect();
        assert_eq!(names.len(), 14, "every characteristic is covered");
    }

    #[test]
    fn parse_gdt_errors_name_the_cell() {
        struct Case {
            cells: &'static [&'static str],
            want: ParseError,
        }
        let cases = [
            Case {
                cells: &[],
                want: ParseError::EmptyFrame,
            },
            Case {
                cells: &["", " "],
                want: ParseError::EmptyFrame,
            },
            Case {
                cells: &["XYZ", "0.1"],
                want: ParseError::UnknownCharacteristic("XYZ".into()),
            },
            Case {
                cells: &["⌖", "abc"],
                want: ParseError::BadFrameTolerance("abc".into()),
            },
            Case {
                cells: &["⌖", "0.1", "A1"],
                want: ParseError::BadDatum("A1".into()),
            },
        ];
        for case in &cases {
            assert_eq!(
                parse_gdt(case.cells),
                Err(case.want.clone()),
                "{:?}",
                case.cells
            );
        }
    }
}
