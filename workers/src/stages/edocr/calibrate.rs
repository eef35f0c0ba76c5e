//! A dimension's `confidence` as the probability that it is right.
//!
//! The recogniser's confidence is the mean probability of its characters: a reading
//! at 0.80 is right far more often than one time in five, one at 1.00 is not always
//! right, and a short integer (`8`, `24`, `R5`) is wrong much more often than a
//! number with a separator at the same confidence (a digit on line work, a cut
//! number, a label). A user setting a review threshold needs the probability.
//!
//! Platt scaling with one more feature: p = σ(BIAS + LOGIT·logit(c) + SHORT·short),
//! c the recogniser's confidence clamped to [0.001, 0.9999], short 1 for an integer
//! of at most two digits. Fitted by `tools/fit_calibration.py` on the pixel readings
//! of the vector *tune* and *tune2* renderings (`tools/vector-eval.sh tune` and
//! `tune2`, 725 readings, 15 wrong by the scorer's strict test, at 9e6d8ce, the
//! commit before this file); the reliability table on the check renderings is in the
//! README. Text-layer dimensions keep 1: their text is the file's own.

use super::{ocr, DimensionItem};

const BIAS: f32 = 2.3844;
const LOGIT: f32 = 0.3616;
const SHORT: f32 = -1.2325;

/// An integer of at most two digits (the same test as `tools/fit_calibration.py`).
fn is_short(raw: &str) -> bool {
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    let chars: Vec<char> = raw.chars().collect();
    let decimal = chars
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && matches!(w[1], '.' | ',') && w[2].is_ascii_digit());
    digits <= 2 && !decimal
}

/// The probability that a reading of `raw` at recogniser confidence `c` is right.
pub fn probability(c: f32, raw: &str) -> f32 {
    let c = c.clamp(0.001, 0.9999);
    let short = if is_short(raw) { 1.0 } else { 0.0 };
    let z = BIAS + LOGIT * (c / (1.0 - c)).ln() + SHORT * short;
    1.0 / (1.0 + (-z).exp())
}

/// Sets a pixel-read dimension's confidence to its probability of being right,
/// keeping the recogniser's in `read_confidence`.
pub fn apply(d: &mut DimensionItem) {
    if d.source == ocr::TextSource::TextLayer {
        return;
    }
    d.read_confidence = Some(d.confidence);
    d.confidence = probability(d.confidence, &d.dimension.raw);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_integers_are_less_likely_right_than_decimals_at_the_same_confidence() {
        assert!(is_short("8") && is_short("R5") && is_short("24") && is_short("Ø12"));
        assert!(!is_short("2.5") && !is_short("0,8") && !is_short("118") && !is_short("Ø3,99"));
        for c in [0.8, 0.9, 0.99, 1.0] {
            assert!(probability(c, "24") < probability(c, "24.5"));
        }
        // Monotone in the recogniser's confidence, and a probability.
        let ps: Vec<f32> = [0.5, 0.75, 0.9, 0.99, 1.0]
            .iter()
            .map(|&c| probability(c, "12.50"))
            .collect();
        assert!(ps.windows(2).all(|w| w[0] < w[1]));
        assert!(ps.iter().all(|p| (0.0..=1.0).contains(p)));
        // A reading at 0.80 is right far more often than 80 % of the time.
        assert!(probability(0.8, "12.50") > 0.9);
    }
}
