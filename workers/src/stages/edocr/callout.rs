//! Symbols from the callout recogniser. PP-OCR reads digits well and drawing symbols
//! badly: `45°` comes back as `450`, `⌀68.50` as `68.50`, `2,5` as `25`. The callout
//! recogniser ([`ocr::CalloutReader`], trained on dimension callouts) reads each
//! candidate line again; its reading replaces PP-OCR's only when the two differ by
//! drawing symbols alone — a diameter sign or decimal mark inserted, or a character
//! PP-OCR confuses with a symbol replaced by it — and never in a digit or a letter.
//! The digits stay PP-OCR's.

use drawpipe_core::StageError;
use opencv::core::Mat;

use super::glyph::upright_crop;
use super::Line;
use crate::stages::ocr::CalloutReader;

/// The spellings of the diameter sign.
const DIAMETER: &[char] = &['⌀', 'Ø', 'ø', '∅'];

/// Symbols the callout recogniser may insert where PP-OCR read nothing: the
/// diameter sign (drawn before the number, easily left out) and the decimal mark.
/// A degree, plus-minus, minute or second sign it may only put in place of a
/// character PP-OCR read for it: on the tune renderings it inserted `°` after plain
/// lengths (`63.5°`), seeing one in the end of a dimension line.
const INSERTABLE: &[char] = &['⌀', ',', '.'];

/// What PP-OCR reads in a symbol's place.
fn looks_like(symbol: char, read: char) -> bool {
    match symbol {
        '⌀' => matches!(read, '0' | 'O' | 'o' | 'Φ' | 'φ' | '@'),
        '°' => matches!(read, '0' | 'o' | 'O' | '\'' | '"' | '*' | '。'),
        '±' => matches!(read, '+' | 't' | 'T' | '土' | '干'),
        '′' => read == '\'',
        '″' => read == '"',
        _ => false,
    }
}

/// Whether `ours` is `pp` with drawing symbols inserted or put in place of their
/// look-alikes, and nothing else changed (at least one such edit).
pub(super) fn adds_symbols_only(pp: &str, ours: &str) -> bool {
    const NO: u32 = 1000;
    // One diameter sign, however spelled.
    let fold = |c: char| if DIAMETER.contains(&c) { '⌀' } else { c };
    let a: Vec<char> = pp
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(fold)
        .collect();
    let b: Vec<char> = ours
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(fold)
        .collect();
    if a == b {
        return false;
    }
    // Cheapest alignment of `a` to `b` where the allowed edits cost 1, the others NO.
    let mut d = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate().skip(1) {
        row[0] = NO * i as u32;
    }
    for j in 1..=b.len() {
        d[0][j] = d[0][j - 1]
            + if INSERTABLE.contains(&b[j - 1]) {
                1
            } else {
                NO
            };
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let (x, y) = (a[i - 1], b[j - 1]);
            let sub = if x == y {
                0
            } else if looks_like(y, x) {
                1
            } else {
                NO
            };
            let ins = if INSERTABLE.contains(&y) { 1 } else { NO };
            d[i][j] = (d[i - 1][j - 1] + sub)
                .min(d[i][j - 1] + ins)
                .min(d[i - 1][j] + NO);
        }
    }
    d[a.len()][b.len()] < NO
}

/// Whether a reading with symbols is something a drawing writes: a dimension, a
/// callout, or a tolerance on its own (joined to its number later). `60°.013` for
/// `60` with `0` over `-0.013` read as one row (a stacked deviation's small `0`
/// taken for a degree sign) is none of these.
fn reads_as_callout(text: &str) -> bool {
    super::parses_as_dimension(text)
        || super::parse::parse_callout(text, false).is_ok()
        || super::merge::is_tolerance(text.trim())
}

/// Reads every pixel-read line holding a digit again with `reader` and takes its
/// reading where [`adds_symbols_only`] holds, it reads as a callout
/// ([`reads_as_callout`]) and it is at least `min_confidence` sure; the line keeps
/// PP-OCR's text in `replaced`. Returns how many changed.
pub(super) fn add_symbols(
    reader: &CalloutReader,
    img: &Mat,
    lines: &mut [Line],
    min_confidence: f32,
) -> Result<usize, StageError> {
    let idx: Vec<usize> = (0..lines.len())
        .filter(|&i| !lines[i].exact && lines[i].text.chars().any(|c| c.is_ascii_digit()))
        .collect();
    let crops = idx
        .iter()
        .map(|&i| upright_crop(img, &lines[i]))
        .collect::<Result<Vec<_>, _>>()?;
    let read = reader.read(&crops)?;
    let mut changed = 0;
    for (&i, (text, conf)) in idx.iter().zip(read) {
        let l = &mut lines[i];
        if conf >= min_confidence && adds_symbols_only(&l.text, &text) && reads_as_callout(&text) {
            // The diameter sign as the rest of the stage writes it.
            let text = text.replace('⌀', "Ø");
            l.replaced = Some(std::mem::replace(&mut l.text, text));
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::adds_symbols_only as ok;

    #[test]
    fn symbols_in_place_of_look_alikes_or_inserted() {
        assert!(ok("450", "45°"));
        assert!(ok("68.50", "⌀68.50"));
        assert!(ok("068.50", "⌀68.50"));
        assert!(ok("25 +0,2", "2,5 +0,2"));
        assert!(ok("12.5 +0.1", "12.5 ±0.1"));
        assert!(ok("4X 6.6", "4X ⌀6.6"));
    }

    #[test]
    fn never_a_digit_or_letter_changed_or_dropped() {
        assert!(!ok("45°", "45°"));
        assert!(!ok("45", "46"));
        assert!(!ok("⌀25", "25"));
        assert!(!ok("8", "0,8"));
        assert!(!ok("M8x1.25", "M8x1,25"));
        assert!(!ok("25 H7", "25 H1"));
        assert!(!ok("12.5", "12.50"));
        assert!(!ok("R5", "⌀5"));
        // A degree or plus-minus sign only where PP-OCR read something for it.
        assert!(!ok("63.5", "63.5°"));
        assert!(!ok("12.5 0.1", "12.5 ±0.1"));
        // The same sign spelled otherwise is no change.
        assert!(!ok("Ø21,5±0,1", "⌀21,5±0,1"));
        assert!(ok("Ø21,5 +0,1", "⌀21,5±0,1"));
    }
}
