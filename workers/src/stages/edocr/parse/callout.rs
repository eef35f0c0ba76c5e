//! Callouts: a dimension followed by the words and numbers that say how many and how
//! deep (`M5x0.8 THRO'`, `M3x0.5 THRO' x 2`, `4X Ø3.4 THRU`, `M6x16mm 4-OFF`,
//! `M5 ↧15 BOTH SIDES`, `R2.00 (TYP)`, `4.00 (X2)`), and the marks a text line picks up
//! from the drawing around it (a dimension line's tick read as a dash: `-75.4`, `2.0-`).
//!
//! The head must parse as a dimension on its own ([`parse_dimension`]); every word of the
//! tail must be one a callout uses, so prose (`THIS SURFACE AGAINST 3D PRINT BED`) and
//! part numbers stay out. Numbers in the tail are accepted only after a hole or thread
//! head (a depth: `M3 4mm`, `M5 15 BOTH SIDES`) or as a count (`x 2`, `4-OFF`, `(X4)`).

use super::dimension::parse_dimension;
use super::{DimKind, Dimension, ParseError};

/// Words a callout's tail may hold, upper case, without trailing `'` or `.`.
const TAIL_WORDS: [&str; 33] = [
    "THRO", "THRU", "THROUGH", "BOTH", "SIDES", "SIDE", "FAR", "NEAR", "TYP", "TYPICAL", "DEEP",
    "DP", "TAPPED", "TAP", "CSK", "CBORE", "SPOTFACE", "SF", "ALL", "EQ", "SP", "EQS", "REF",
    "HOLES", "HOLE", "PLACES", "PLCS", "PL", "OFF", "ON", "PCD", "CHAMFER", "CHAMF",
];

/// Words after a number that make it a count (`4 HOLES`, `2 PLCS`, `4 OFF`).
const COUNT_WORDS: [&str; 6] = ["HOLES", "HOLE", "PLACES", "PLCS", "PL", "OFF"];

/// Words before an angle on a sheet-metal bend note (`UP 90°`).
const BEND_WORDS: [&str; 2] = ["UP", "DOWN"];

/// Parses a dimension with a callout tail, after dropping the dimension-line dashes a
/// line picked up. The result's `raw` is the whole text; `count` comes from the head
/// (`4X`) or the tail (`x 2`).
///
/// # Errors
/// [`ParseError::Garbage`] when no head parses or a tail word is not a callout's.
pub fn parse_callout(raw: &str, boxed: bool) -> Result<Dimension, ParseError> {
    let garbage = || ParseError::Garbage {
        text: raw.trim().to_string(),
        rest: raw.trim().to_string(),
    };
    let cleaned = without_iso_before_fit(&without_line_dashes(raw));
    let cleaned = cjk_apart(&split_thread_depth(&cleaned));
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    if words.is_empty() || cleaned.contains(':') {
        return Err(garbage());
    }
    // A sheet-metal bend note: `UP 90°`, `DOWN 90° R 0.8`; the number after the
    // direction is the bend angle even when the text lacks its degree sign.
    let words = match words.split_first() {
        Some((w, rest))
            if !rest.is_empty() && BEND_WORDS.contains(&w.to_ascii_uppercase().as_str()) =>
        {
            let angle = rest[0].trim_end_matches('°');
            let radius_ok = match &rest[1..] {
                [] => true,
                [r, v] => r.eq_ignore_ascii_case("R") && is_number(v),
                [rv] => rv.strip_prefix(['R', 'r']).is_some_and(is_number),
                _ => false,
            };
            let d = parse_dimension(&format!("{angle}°"), boxed).map_err(|_| garbage())?;
            if d.kind != DimKind::Angle || !radius_ok || d.nominal.is_none_or(|a| a > 180.0) {
                return Err(garbage());
            }
            return Ok(Dimension {
                raw: raw.trim().to_string(),
                ..d
            });
        }
        _ => words,
    };
    for k in (1..=words.len()).rev() {
        let head = words[..k].join(" ");
        let Ok(mut d) = parse_dimension(&head, boxed) else {
            continue;
        };
        if d.kind == DimKind::GeneralTolerance {
            return Err(garbage());
        }
        let hole = matches!(d.kind, DimKind::Thread | DimKind::Diameter);
        // `2 HOLES`, `4 OFF`: a count on its own, not a size.
        let first = words
            .get(k)
            .map(|w| w.trim_end_matches(['\'', '.']).to_ascii_uppercase());
        if d.kind == DimKind::Linear && first.is_some_and(|w| COUNT_WORDS.contains(&w.as_str())) {
            return Err(garbage());
        }
        let Some(count) = read_tail(&words[k..], hole, d.count.is_some()) else {
            return Err(garbage());
        };
        d.count = d.count.or(count);
        d.raw = raw.trim().to_string();
        return Ok(d);
    }
    Err(garbage())
}

/// A callout's tail written on a line of its own, under its dimension (`TYP 2 PLCS`,
/// `4 HOLES`, `BOTH SIDES`): `Some(count)` when every word is a callout's and at least
/// one is a word (a bare number is no tail), else `None`.
pub fn parse_tail_line(text: &str) -> Option<Option<u32>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words
        .iter()
        .any(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
    {
        return None;
    }
    read_tail(&words, false, false)
}

/// Reads a callout tail: `Some(count)` when every token is a callout's, else `None`.
/// `hole`: the head is a hole or thread, so a bare number or `V15` / `↧15` is a depth.
/// After a hole, a thread or a counted head (`4X ⌀5.50`), a word in CJK script is a
/// callout's word too (`贯穿` through, `完全贯穿` through all, `深` deep; or a depth
/// sign PP-OCR's Chinese dictionary read as `丁`): words in those scripts are never a
/// size, so they are passed over as `THRU` is, without a list of them.
fn read_tail(tail: &[&str], hole: bool, counted: bool) -> Option<Option<u32>> {
    let mut count = None;
    let mut i = 0;
    while i < tail.len() {
        let t = tail[i]
            .trim_end_matches(['\'', '.', ','])
            .trim_matches(['(', ')'])
            .to_ascii_uppercase();
        let next = tail.get(i + 1).map(|n| {
            n.trim_end_matches(['\'', '.', ','])
                .trim_matches(['(', ')'])
                .to_ascii_uppercase()
        });
        if t.is_empty() || TAIL_WORDS.contains(&t.as_str()) {
            i += 1;
            continue;
        }
        if (hole || counted) && t.chars().all(is_cjk) {
            i += 1;
            continue;
        }
        // `x 2`, `X2`, `2X`, `(X4)`, `4-OFF`, `4 OFF`, `2 HOLES`.
        if t == "X" {
            if let Some(n) = next.as_deref().and_then(integer) {
                count = Some(n);
                i += 2;
                continue;
            }
        }
        if let Some(n) = t
            .strip_prefix('X')
            .or_else(|| t.strip_suffix('X'))
            .or_else(|| t.strip_suffix("-OFF"))
            .and_then(integer)
        {
            count = Some(n);
            i += 1;
            continue;
        }
        if let Some(n) = integer(&t) {
            if next.as_deref().is_some_and(|w| COUNT_WORDS.contains(&w)) {
                count = Some(n);
                i += 2;
                continue;
            }
        }
        // A depth sign read as some other glyph, alone before the depth: `T`, `V`, `√`,
        // `Φ`, `↓` (OCR has no class for `↧`, and takes the look-alike it has).
        if hole
            && is_depth_sign_misread(&t)
            && next
                .as_deref()
                .is_some_and(|n| is_number(n.trim_end_matches("MM")))
        {
            i += 1;
            continue;
        }
        // A depth after a hole: `15`, `4MM`, `V15` or `T15` (the depth sign read as V
        // or T), `↧15`.
        if hole {
            let depth = t
                .trim_start_matches(['V', 'T', '↧'])
                .trim_end_matches("MM")
                .trim();
            if depth.is_empty() && t.starts_with('↧') || is_number(depth) {
                i += 1;
                continue;
            }
        }
        return None;
    }
    Some(count)
}

/// One glyph that is no digit and no letter but `T` or `V` (or a Greek one, as `Φ`):
/// what OCR makes of a depth sign `↧` standing alone.
fn is_depth_sign_misread(t: &str) -> bool {
    let mut chars = t.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return false;
    };
    matches!(c, 'T' | 'V' | '↧')
        || ('\u{0370}'..='\u{03FF}').contains(&c)
        || !(c.is_alphanumeric() || c.is_whitespace())
}

/// A character of a CJK script: ideographs, kana, hangul, and CJK punctuation.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303F}' // CJK symbols and punctuation
        | '\u{3040}'..='\u{30FF}' // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // hangul syllables
        | '\u{F900}'..='\u{FAFF}') // CJK compatibility ideographs
}

/// A space wherever CJK script meets other text (`2.50完全贯穿` → `2.50 完全贯穿`):
/// a callout's CJK words are written against the number.
fn cjk_apart(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if let Some(p) = prev {
            if !p.is_whitespace() && !c.is_whitespace() && is_cjk(p) != is_cjk(c) {
                out.push(' ');
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

fn integer(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
        .filter(|&n| n > 0)
}

fn is_number(s: &str) -> bool {
    let s = s.replace(',', ".");
    !s.is_empty() && s.bytes().any(|b| b.is_ascii_digit()) && s.parse::<f64>().is_ok()
}

/// Drops the dashes a dimension line's tick or arrow left at the ends of a text
/// (`-75.4`, `2.0-`, `-(20)`, `-48.7-`). A leading dash stays before a number under 1
/// (`-0.02` may be a deviation standing alone) and before a letter (`-M3`: a lone
/// sign means nothing there, so it goes too).
fn without_line_dashes(raw: &str) -> String {
    const DASHES: [char; 4] = ['-', '–', '—', '_'];
    let t = raw.trim().trim_end_matches(DASHES).trim_end();
    let Some(rest) = t.strip_prefix(DASHES) else {
        return t.to_string();
    };
    let rest = rest.trim_start_matches(DASHES).trim_start();
    let lead: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    let small = lead.replace(',', ".").parse::<f64>().is_ok_and(|v| v < 1.0);
    if small {
        t.to_string()
    } else {
        rest.to_string()
    }
}

/// `M4x0.7x8` → `M4x0.7 ↧8`: a third number glued to a metric thread with its pitch
/// is the thread's depth (or a screw's length). `M3 x .5` → `M3x0.5`: a pitch written
/// apart, inch style, joins its thread.
fn split_thread_depth(s: &str) -> String {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let mut glued: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        let w = parts[i];
        let is_size =
            w.len() > 1 && w.starts_with('M') && w[1..].replace(',', ".").parse::<f64>().is_ok();
        let pitch = parts.get(i + 2).map(|p| p.replace(',', "."));
        if is_size
            && parts
                .get(i + 1)
                .is_some_and(|x| x.eq_ignore_ascii_case("x"))
            && pitch
                .as_deref()
                .is_some_and(|p| p.parse::<f64>().is_ok_and(|v| v > 0.0 && v < 10.0))
        {
            let p = pitch.unwrap_or_default();
            let p = if p.starts_with('.') {
                format!("0{p}")
            } else {
                p
            };
            glued.push(format!("{w}x{p}"));
            i += 3;
        } else {
            glued.push(w.to_string());
            i += 1;
        }
    }
    let s = glued.join(" ");
    let words: Vec<String> = s
        .split_whitespace()
        .map(|w| {
            let Some(body) = w.strip_prefix('M') else {
                return w.to_string();
            };
            let parts: Vec<&str> = body.split(['x', 'X']).collect();
            let numeric = |p: &str| !p.is_empty() && p.replace(',', ".").parse::<f64>().is_ok();
            if parts.len() == 3 && parts.iter().all(|p| numeric(p)) {
                format!("M{}x{} ↧{}", parts[0], parts[1], parts[2])
            } else {
                w.to_string()
            }
        })
        .collect();
    words.join(" ")
}

/// `12 ISO h6` → `12 h6`: the standard named between a size and its ISO 286 class.
fn without_iso_before_fit(s: &str) -> String {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let fit_follows = words.get(i + 1).is_some_and(|n| {
            let letters = n.chars().take_while(|c| c.is_ascii_alphabetic()).count();
            (1..=2).contains(&letters)
                && n.len() > letters
                && n[letters..].bytes().all(|b| b.is_ascii_digit())
        });
        if w.eq_ignore_ascii_case("ISO") && i > 0 && fit_follows {
            continue;
        }
        out.push(w);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Dimension {
        parse_callout(s, false).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn threads_and_holes_with_their_notes() {
        let d = read("M5x0.8 THRO'");
        assert_eq!(d.kind, DimKind::Thread);
        assert_eq!(d.nominal, Some(5.0));
        assert_eq!(d.raw, "M5x0.8 THRO'");
        let d = read("M3x0.5 THRO' x 2");
        assert_eq!((d.kind.clone(), d.count), (DimKind::Thread, Some(2)));
        let d = read("M6x16mm 4-OFF");
        assert_eq!((d.kind.clone(), d.count), (DimKind::Thread, Some(4)));
        let d = read("M5 V15 BOTH SIDES");
        assert_eq!((d.kind.clone(), d.nominal), (DimKind::Thread, Some(5.0)));
        assert_eq!(read("M5 15 BOTH SIDES").kind, DimKind::Thread);
        assert_eq!(read("M3 4mm").kind, DimKind::Thread);
        let d = read("4X M3 x .5");
        assert_eq!((d.thread.as_deref(), d.count), (Some("M3x0.5"), Some(4)));
        assert_eq!(read("#4-40").thread.as_deref(), Some("#4-40"));
        assert_eq!(read("0.5 X 45° CHAMFER").kind, DimKind::Chamfer);
        assert_eq!(read("C1 CHAMFER").kind, DimKind::Chamfer);
        let d = read("M4x0.7x8");
        assert_eq!(
            (d.kind.clone(), d.nominal, d.raw.as_str()),
            (DimKind::Thread, Some(4.0), "M4x0.7x8")
        );
        let d = read("4X Ø3.4 THRU ALL");
        assert_eq!((d.kind.clone(), d.count), (DimKind::Diameter, Some(4)));
        let d = read("Ø6 (X4)");
        assert_eq!((d.nominal, d.count), (Some(6.0), Some(4)));
    }

    #[test]
    fn typical_and_counted_sizes() {
        let d = read("R2.00 (TYP)");
        assert_eq!((d.kind.clone(), d.nominal), (DimKind::Radius, Some(2.0)));
        let d = read("4.00 (X2)");
        assert_eq!((d.nominal, d.count), (Some(4.0), Some(2)));
        let d = read("12 ISO h6");
        assert_eq!((d.nominal, d.fit.as_deref()), (Some(12.0), Some("h6")));
        let d = read("UP 90°");
        assert_eq!((d.kind.clone(), d.nominal), (DimKind::Angle, Some(90.0)));
        for s in ["DOWN 90", "DOWN 90° R 0.8", "UP 45 R1"] {
            assert_eq!(read(s).kind, DimKind::Angle, "{s}");
        }
        assert!(parse_callout("UP 90 FOLD HERE", false).is_err());
    }

    #[test]
    fn cjk_words_after_a_hole_or_a_count() {
        let d = read("4 X M3 - 6H 完全贯穿");
        assert_eq!((d.kind.clone(), d.count), (DimKind::Thread, Some(4)));
        assert_eq!(d.raw, "4 X M3 - 6H 完全贯穿");
        let d = read("4X 5.50贯穿");
        assert_eq!((d.nominal, d.count), (Some(5.5), Some(4)));
        // The depth sign read as `丁`, then the depth.
        let d = read("4 X M3 - 6H 丁 6");
        assert_eq!((d.kind.clone(), d.count), (DimKind::Thread, Some(4)));
        assert_eq!(read("Ø2.50 深5").nominal, Some(2.5));
        // The depth sign read as another glyph standing alone, or glued as `T`.
        for s in [
            "2 X M3 - 6H T 6",
            "2 X M3 - 6H √ 6",
            "2 X M3 - 6H Φ 6",
            "M5X0.8 - 6H T6.00",
        ] {
            assert_eq!(read(s).kind, DimKind::Thread, "{s}");
        }
        // Not before anything but a depth, and not after a plain size.
        for s in ["2 X M3 - 6H T", "M3 √ A", "25 T 6"] {
            assert!(parse_callout(s, false).is_err(), "{s:?} read as a callout");
        }
        assert_eq!(cjk_apart("2.50完全贯穿"), "2.50 完全贯穿");
        // A numbered note in Chinese is no callout: its number has no hole or count.
        for s in ["1.保证孔与面的垂直度", "3 与孔垂直", "6061铝", "12 材料"] {
            assert!(parse_callout(s, false).is_err(), "{s:?} read as a callout");
        }
    }

    #[test]
    fn a_tail_on_a_line_of_its_own() {
        assert_eq!(parse_tail_line("TYP 2 PLCS"), Some(Some(2)));
        assert_eq!(parse_tail_line("4 HOLES"), Some(Some(4)));
        assert_eq!(parse_tail_line("BOTH SIDES"), Some(None));
        assert_eq!(parse_tail_line("(X4)"), Some(Some(4)));
        for s in ["2 X", "12", "THIS SURFACE UP", "2 PIECES", "TYP 15"] {
            assert_eq!(parse_tail_line(s), None, "{s}");
        }
    }

    #[test]
    fn dimension_line_dashes_go() {
        assert_eq!(read("-75.4").nominal, Some(75.4));
        assert_eq!(read("2.0-").nominal, Some(2.0));
        let d = read("-(20)");
        assert_eq!((d.nominal, d.reference), (Some(20.0), true));
        assert_eq!(read("-48.7-").nominal, Some(48.7));
        assert_eq!(without_line_dashes("-0.02"), "-0.02");
    }

    #[test]
    fn prose_and_labels_are_not_callouts() {
        for s in [
            "THIS SURFACE AGAINST 3D PRINT BED",
            "Kosma Etolou 34",
            "8 STOCK",
            "SCALE:1:3",
            "A4",
            "20MM T-SLOT PROFILE",
            "12 PIECES OF WIRE",
            "Ø6 GREEN 12",
            "25 15",
            "2 HOLES",
            "4 OFF",
        ] {
            assert!(parse_callout(s, false).is_err(), "{s:?} read as a callout");
        }
    }
}
