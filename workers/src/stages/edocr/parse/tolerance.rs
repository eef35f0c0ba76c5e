//! What follows a nominal: `±` tolerances, deviations, ISO 286 fit classes (resolved
//! with [`super::super::iso286`]) and limits; and ISO 2768 general-tolerance notes.

use super::super::iso286;
use super::cursor::{round6, Cursor, Num};
use super::dimension::angle_after_degrees;
use super::Dimension;

/// A tolerance value; in angle mode with an optional unit (`1°`, `30'`, `0°30'`).
fn tol_value(c: &mut Cursor<'_>, angle: bool) -> Option<Num> {
    let n = c.number()?;
    if !angle {
        return Some(n);
    }
    let value = if c.peek() == Some('°') {
        angle_after_degrees(c, n.value)
    } else if c.eat('\'') {
        n.value / 60.0
    } else if c.eat('"') {
        n.value / 3600.0
    } else {
        n.value
    };
    Some(Num { value, ..n })
}

/// A deviation: `+0.02`, `-0.1`, or an unsigned `0`. Returns the value and whether it was
/// signed.
fn deviation(c: &mut Cursor<'_>, angle: bool) -> Option<(f64, bool)> {
    let save = c.pos;
    let sign = if c.eat('+') {
        Some(1.0)
    } else if c.eat('-') {
        Some(-1.0)
    } else {
        None
    };
    let Some(n) = tol_value(c, angle) else {
        c.pos = save;
        return None;
    };
    if n.leading_zero || (sign.is_none() && n.value != 0.0) {
        c.pos = save;
        return None;
    }
    Some((sign.unwrap_or(1.0) * n.value, sign.is_some()))
}

/// Up to two deviations separated by spaces or `/`: `+0.02 0`, `+0.05/-0.02`, `0 -0.1`.
/// `None` (cursor unmoved) unless at least one is signed.
fn deviations(c: &mut Cursor<'_>, angle: bool) -> Option<(f64, f64)> {
    let save = c.pos;
    let mut values = Vec::new();
    let mut signed = false;
    while values.len() < 2 {
        let before = c.pos;
        if !values.is_empty() {
            c.skip_ws();
            c.eat('/');
            c.skip_ws();
        }
        match deviation(c, angle) {
            Some((v, s)) => {
                values.push(v);
                signed |= s;
            }
            None => {
                c.pos = before;
                break;
            }
        }
    }
    if !signed {
        c.pos = save;
        return None;
    }
    let pair = match values[..] {
        [v] if v >= 0.0 => (v, 0.0),
        [v] => (0.0, v),
        [a, b] => (a.max(b), a.min(b)),
        _ => unreachable!("one or two deviations"),
    };
    Some(pair)
}

/// A fit: one ISO 286 class or a hole/shaft pair (`H7`, `g6`, `H7/g6`).
fn fit_class(c: &mut Cursor<'_>) -> Option<String> {
    fn one(c: &mut Cursor<'_>) -> Option<String> {
        let rest = c.rest();
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let digits = rest[letters..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if letters == 0 || letters > 2 || digits == 0 || digits > 2 {
            return None;
        }
        let class = &rest[..letters + digits];
        iso286::parse_class(class)?;
        c.pos += class.len();
        Some(class.to_string())
    }
    let first = one(c)?;
    let save = c.pos;
    if c.eat('/') {
        if let Some(second) = one(c) {
            return Some(format!("{first}/{second}"));
        }
        c.pos = save;
    }
    Some(first)
}

/// Reads what follows a nominal: `±t`, deviations, a fit (with optional explicit
/// deviations), or limits. On failure returns the unread rest.
pub(super) fn tolerance(
    c: &mut Cursor<'_>,
    dim: &mut Dimension,
    angle: bool,
) -> Result<(), String> {
    let nominal = dim.nominal.unwrap_or_default();
    c.skip_ws();
    if c.at_end() {
        return Ok(());
    }
    if c.eat('±') {
        let t = tol_value(c, angle).ok_or_else(|| c.rest().to_string())?;
        dim.upper = Some(round6(t.value));
        dim.lower = Some(round6(-t.value));
    } else if let Some((u, l)) = deviations(c, angle) {
        dim.upper = Some(round6(u));
        dim.lower = Some(round6(l));
    } else if let Some(fit) = (!angle).then(|| fit_class(c)).flatten() {
        let class = fit.split('/').next().unwrap_or(&fit);
        if let Some((u, l)) = iso286::limit_deviations(class, nominal) {
            dim.upper = Some(round6(u));
            dim.lower = Some(round6(l));
        }
        dim.fit = Some(fit);
        // Deviations written beside the class win over the table: `H7(+0.021/0)`.
        c.skip_ws();
        let open = c.eat('(');
        c.skip_ws();
        if let Some((u, l)) = deviations(c, angle) {
            c.skip_ws();
            if open && !c.eat(')') {
                return Err(c.rest().to_string());
            }
            dim.upper = Some(round6(u));
            dim.lower = Some(round6(l));
        } else if open {
            return Err(c.rest().to_string());
        }
    } else {
        let save = c.pos;
        let slash = c.eat('/');
        c.skip_ws();
        let other = c.number().filter(|n| !n.leading_zero);
        let limits = other.filter(|n| {
            n.value != nominal && (slash || (n.value - nominal).abs() <= 0.1 * n.value.max(nominal))
        });
        let Some(other) = limits else {
            c.pos = save;
            return Err(c.rest().to_string());
        };
        let mean = (nominal + other.value) / 2.0;
        let half = (nominal - other.value).abs() / 2.0;
        dim.nominal = Some(round6(mean));
        dim.upper = Some(round6(half));
        dim.lower = Some(round6(-half));
    }
    c.skip_ws();
    if c.at_end() {
        Ok(())
    } else {
        Err(c.rest().to_string())
    }
}
/// `ISO 2768-m`, `DIN ISO 2768-1 mK`, `ISO 2768 - fH`: the normalised note, or `None` when
/// the text does not cite ISO 2768.
pub(super) fn general_tolerance_note(text: &str) -> Option<String> {
    let at = text.find("2768")?;
    let mut c = Cursor::new(&text[at + 4..]);
    // Part number `-1` / `-2` of the standard.
    let save = c.pos;
    let part =
        c.eat('-') && (c.eat('1') || c.eat('2')) && !c.peek().is_some_and(|ch| ch.is_ascii_digit());
    if !part {
        c.pos = save;
    }
    while c.eat(' ') || c.eat('-') || c.eat(':') {}
    let mut class = String::new();
    if let Some(ch) = c.peek().filter(|ch| "fmcvFMCV".contains(*ch)) {
        let next = c.rest()[1..].chars().next();
        if next.is_none_or(|n| !n.is_ascii_alphabetic() || "hklHKL".contains(n)) {
            class.push(ch.to_ascii_lowercase());
            c.eat(ch);
            if let Some(g) = c.peek().filter(|g| "hklHKL".contains(*g)) {
                class.push(g.to_ascii_uppercase());
            }
        }
    }
    Some(if class.is_empty() {
        "ISO 2768".to_string()
    } else {
        format!("ISO 2768-{class}")
    })
}
