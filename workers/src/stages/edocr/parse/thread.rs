//! Threads: metric and trapezoidal (`M8x1.25-6g`, `Tr16x4`), pipe (`G1/4A`) and unified
//! inch threads (`1/4-20 UNC-2B`).

use super::cursor::{round6, Cursor};
use super::{DimKind, Dimension};

/// `M8`, `M8x1.25`, `M10-6H`, `M10x1.5-6g`, `M12 LH`, `Tr16x4` (cursor after the prefix).
pub(super) fn metric_thread(
    c: &mut Cursor<'_>,
    mut dim: Dimension,
    prefix: &str,
) -> Result<Dimension, String> {
    let start = c.pos;
    let d = c.number().ok_or_else(|| c.rest().to_string())?;
    let mut spec = format!("{prefix}{}", &c.s[start..c.pos]);
    // `x` pitch, then optionally `x` a length or depth (`M5x0.8x4`).
    for _ in 0..2 {
        if !c.eat('x') {
            break;
        }
        let p_start = c.pos;
        c.number().ok_or_else(|| c.rest().to_string())?;
        spec.push('x');
        spec.push_str(&c.s[p_start..c.pos]);
    }
    c.skip_ws();
    if c.eat('-') {
        c.skip_ws();
        let rest = c.rest();
        let len = rest
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '/'))
            .unwrap_or(rest.len());
        let class = &rest[..len];
        let valid = !class.is_empty()
            && class.starts_with(|ch: char| ch.is_ascii_digit())
            && class.chars().any(|ch| ch.is_ascii_alphabetic());
        if !valid {
            return Err(rest.to_string());
        }
        spec.push('-');
        spec.push_str(class);
        c.pos += len;
        c.skip_ws();
    }
    if c.eat_str("LH") {
        spec.push_str(" LH");
        c.skip_ws();
    }
    if !c.at_end() {
        return Err(c.rest().to_string());
    }
    dim.kind = DimKind::Thread;
    dim.nominal = Some(d.value);
    dim.thread = Some(spec);
    Ok(dim)
}

/// Parses `1/4`, `3`, or `1 1/2` as inches.
fn fraction(c: &mut Cursor<'_>) -> Option<(f64, String)> {
    let start = c.pos;
    let whole = c.number()?;
    let save = c.pos;
    if c.eat('/') {
        if let Some(den) = c.integer().filter(|d| *d > 0) {
            return Some((whole.value / f64::from(den), c.s[start..c.pos].to_string()));
        }
        c.pos = save;
    }
    Some((whole.value, c.s[start..c.pos].to_string()))
}

/// `G1/4`, `G1/2A` pipe threads (cursor after `G`); nominal is the size designation.
pub(super) fn pipe_thread(c: &mut Cursor<'_>, mut dim: Dimension) -> Result<Dimension, String> {
    let (size, text) = fraction(c).ok_or_else(|| c.rest().to_string())?;
    let mut spec = format!("G{text}");
    if c.eat('A') {
        spec.push('A');
    } else if c.eat('B') {
        spec.push('B');
    }
    if !c.at_end() {
        return Err(c.rest().to_string());
    }
    dim.kind = DimKind::Thread;
    dim.nominal = Some(size);
    dim.unit = "in".to_string();
    dim.thread = Some(spec);
    Ok(dim)
}

/// Unified inch threads: `1/4-20 UNC`, `1/4"-20UNC-2B`, `#10-32 UNF`, `.250-28 UNF-3A`.
pub(super) fn inch_thread(body: &str, mut dim: Dimension) -> Option<Dimension> {
    let mut c = Cursor::new(body);
    let (size, size_text) = if c.eat('#') {
        let n = c.integer()?;
        // ASME B1.1 numbered sizes: major diameter = 0.060 + 0.013 × number (inches).
        (0.060 + 0.013 * f64::from(n), format!("#{n}"))
    } else {
        fraction(&mut c)?
    };
    c.eat('"');
    c.skip_ws();
    if !c.eat('-') {
        return None;
    }
    c.skip_ws();
    let tpi = c.integer()?;
    // Unified threads have 4 to 80 threads per inch (`#3-2021` is a part number).
    if !(4..=80).contains(&tpi) {
        return None;
    }
    c.skip_ws();
    let rest = c.rest();
    let series_len = rest.bytes().take_while(u8::is_ascii_uppercase).count();
    let series = &rest[..series_len];
    // The series may be left off (`#4-40`, `1/4-20`): size and pitch name the thread.
    if !matches!(
        series,
        "" | "UNC" | "UNF" | "UNEF" | "UNS" | "UN" | "UNJC" | "UNJF"
    ) {
        return None;
    }
    c.pos += series_len;
    let mut spec = if series.is_empty() {
        format!("{size_text}-{tpi}")
    } else {
        format!("{size_text}-{tpi} {series}")
    };
    c.skip_ws();
    if c.eat('-') {
        c.skip_ws();
        let rest = c.rest();
        let len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let class = &rest[..len];
        if !matches!(class, "1A" | "2A" | "3A" | "1B" | "2B" | "3B") {
            return None;
        }
        spec.push('-');
        spec.push_str(class);
        c.pos += len;
        c.skip_ws();
    }
    if c.eat_str("LH") {
        spec.push_str(" LH");
        c.skip_ws();
    }
    if !c.at_end() {
        return None;
    }
    dim.kind = DimKind::Thread;
    dim.nominal = Some(round6(size));
    dim.unit = "in".to_string();
    dim.thread = Some(spec);
    Some(dim)
}
