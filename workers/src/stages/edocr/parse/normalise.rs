//! Normalisation: OCR and typographic spellings rewritten into the one canonical form
//! the parsers read.

/// Single-character OCR and typographic variants, mapped to the canonical character.
pub(super) fn canonical_char(ch: char) -> char {
    match ch {
        '⌀' | '∅' | 'Ø' | 'ø' | 'φ' | 'Φ' | '⊘' => 'Ø',
        'º' | '˚' | '⁰' => '°',
        '×' => 'x',
        '−' | '–' | '—' | '‐' | '‑' => '-',
        '′' | '’' | '´' => '\'',
        '″' | '“' | '”' => '"',
        '，' => ',',
        c if c.is_whitespace() => ' ',
        c => c,
    }
}

/// Normalises OCR spellings before parsing: one diameter sign (`⌀ ∅ ø φ` → `Ø`, and a
/// leading `0` that can only be a diameter sign: `038H12` → `Ø38H12`, while `0,5` stays a
/// number), decimal comma → point between digits, `×`/`X` between numbers → `x`, a count
/// prefix → `4X `, `±` for `+-` / `+/-`, `°` for `º`/`˚`, `"` for `''`, and whitespace
/// (newlines of stacked tolerances included) collapsed to single spaces, with the spaces
/// inside a token (`Ø 21`, `± 0,1`, `1 x 45°`, `H7 / g6`) removed.
pub fn normalise(raw: &str) -> String {
    let mapped: String = raw.chars().map(canonical_char).collect();
    let mapped = mapped
        .replace("+/-", "±")
        .replace("+-", "±")
        .replace("''", "\"");
    let collapsed = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    let decimal = decimal_points(&collapsed);
    let (count, rest) = split_count(&decimal);
    // Again after the spaces are gone: a decimal comma cut from its digits (`-0, 02`).
    let rest = decimal_points(&tighten(rest));
    let rest = leading_zero_diameter(&rest);
    let rest = x_between_numbers(&rest);
    match count {
        Some(n) if rest.is_empty() => format!("{n}X"),
        Some(n) => format!("{n}X {rest}"),
        None => rest,
    }
}

/// `21,5` → `21.5`: a comma between two digits is a decimal comma; one between a
/// digit and a letter (`12.00,k6`) is read for a space.
pub(super) fn decimal_points(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        // `12.00,k6`: a comma read between a number and its fit class is a space.
        let before_fit = c == ','
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic());
        out.push(if c == ',' && between_digits {
            '.'
        } else if before_fit {
            ' '
        } else {
            c
        });
    }
    out
}

/// Splits a leading count (`4X Ø6`, `2 x R5`, `4xØ6`) from the rest. A digit-x-number
/// that ends in `°` is a chamfer (`1x45°`), not a count.
pub(super) fn split_count(s: &str) -> (Option<u32>, &str) {
    let digits = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 4 {
        return (None, s);
    }
    let after_digits = s[digits..].trim_start_matches(' ');
    let Some(after_x) = after_digits
        .strip_prefix('x')
        .or_else(|| after_digits.strip_prefix('X'))
    else {
        return (None, s);
    };
    let rest = after_x.trim_start_matches(' ');
    let Some(first) = rest.chars().next() else {
        return (None, s);
    };
    let is_count = if first.is_ascii_digit() || first == '.' {
        // A number follows: a count unless it is a chamfer angle.
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        !rest[num_len..].starts_with('°')
    } else {
        matches!(first, 'Ø' | 'R' | 'S' | 'M' | 'C' | 'G' | 'T' | '(' | '#')
    };
    if !is_count {
        return (None, s);
    }
    match s[..digits].parse() {
        Ok(n) => (Some(n), rest),
        Err(_) => (None, s),
    }
}

/// Prefixes that glue to the number after them (`R 5` → `R5`).
const GLUED_PREFIXES: [&str; 8] = ["Ø", "SØ", "R", "SR", "M", "C", "CH", "Tr"];

/// Removes the spaces OCR leaves inside one notation token.
fn tighten(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if c != ' ' {
            out.push(c);
            continue;
        }
        let prev = out.chars().last();
        let prev2 = out.chars().rev().nth(1);
        let next = chars.get(i + 1).copied();
        let next_after = chars.get(i + 2).copied();
        let (Some(p), Some(n)) = (prev, next) else {
            continue;
        };
        let digit = |c: char| c.is_ascii_digit();
        let token_start = out.rfind(' ').map_or(0, |k| k + 1);
        let token = &out[token_start..];
        let drop = p == '±'
            || n == '±'
            || p == '/'
            || n == '/'
            || p == '('
            || n == ')'
            || (digit(p) && matches!(n, '°' | '\'' | '"'))
            || (p == '°' && digit(n))
            || (p == '\'' && digit(n))
            || (digit(p)
                && matches!(n, 'x' | 'X')
                && next_after.is_some_and(|a| digit(a) || a == ' '))
            || (matches!(p, 'x' | 'X') && prev2.is_some_and(digit) && digit(n))
            || (matches!(p, '+' | '-') && digit(n) && (prev2.is_none() || prev2 == Some(' ')))
            || (digit(n) && GLUED_PREFIXES.contains(&token))
            || (digit(n) && is_cut_deviation(token));
        if !drop {
            out.push(' ');
        }
    }
    out
}

/// A signed deviation cut at its decimal separator (`+0.` of `+0. 1`): a deviation
/// never ends in a separator, so the digits after the space are its own.
fn is_cut_deviation(token: &str) -> bool {
    let Some(body) = token.strip_prefix(['+', '-']) else {
        return false;
    };
    let Some(int) = body.strip_suffix(['.', ',']) else {
        return false;
    };
    !int.is_empty() && int.chars().all(|c| c.is_ascii_digit())
}

/// `038H12` → `Ø38H12`: OCR reads the diameter sign as `0`; a number never starts with `0`
/// followed by another digit, so that `0` can only be the sign.
fn leading_zero_diameter(s: &str) -> String {
    let (open, body) = match s.strip_prefix('(') {
        Some(b) => ("(", b),
        None => ("", s),
    };
    let (sphere, body) = match body.strip_prefix('S') {
        Some(b) if b.starts_with('0') => ("S", b),
        _ => ("", body),
    };
    let mut it = body.chars();
    if it.next() == Some('0') && it.next().is_some_and(|c| c.is_ascii_digit()) {
        format!("{open}{sphere}Ø{}", &body[1..])
    } else {
        s.to_string()
    }
}

/// `M8X1.25` / `1X45°` → `M8x1.25` / `1x45°`.
fn x_between_numbers(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let between = i > 0
                && chars[i - 1].is_ascii_digit()
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_digit() || *n == '.');
            if c == 'X' && between {
                'x'
            } else {
                c
            }
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::super::{parse_dimension, Dimension};
    use super::*;

    #[test]
    fn normalise_rewrites_ocr_spellings() {
        struct Case {
            raw: &'static str,
            want: &'static str,
        }
        let cases = [
            Case {
                raw: "038H12",
                want: "Ø38H12",
            },
            Case {
                raw: "021,5±0,1",
                want: "Ø21.5±0.1",
            },
            Case {
                raw: "0,5",
                want: "0.5",
            },
            Case {
                raw: "0",
                want: "0",
            },
            Case {
                raw: "⌀ 21,5 ± 0,1",
                want: "Ø21.5±0.1",
            },
            Case {
                raw: "∅15",
                want: "Ø15",
            },
            Case {
                raw: "25 +/- 0,1",
                want: "25±0.1",
            },
            Case {
                raw: "25+-0.1",
                want: "25±0.1",
            },
            Case {
                raw: "45,0º",
                want: "45.0°",
            },
            Case {
                raw: "30˚ 15'",
                want: "30°15'",
            },
            Case {
                raw: "1 × 45°",
                want: "1x45°",
            },
            Case {
                raw: "1X45°",
                want: "1x45°",
            },
            Case {
                raw: "M8 X 1,25",
                want: "M8x1.25",
            },
            Case {
                raw: "4 x ⌀6",
                want: "4X Ø6",
            },
            Case {
                raw: "4x06",
                want: "4X Ø6",
            },
            Case {
                raw: "2× R 5",
                want: "2X R5",
            },
            Case {
                raw: "50.6\n+0.02\n0",
                want: "50.6 +0.02 0",
            },
            Case {
                raw: "H7 / g6",
                want: "H7/g6",
            },
            Case {
                raw: "Ø20 H7 / g6",
                want: "Ø20 H7/g6",
            },
            Case {
                raw: "(25,5)",
                want: "(25.5)",
            },
            Case {
                raw: "( 038 )",
                want: "(Ø38)",
            },
            Case {
                raw: "S038",
                want: "SØ38",
            },
            Case {
                raw: "Ra 3,2",
                want: "Ra 3.2",
            },
            Case {
                raw: "  DRAWN  BY ",
                want: "DRAWN BY",
            },
            // A deviation cut at its separator (a narrow `1` read after a gap).
            Case {
                raw: "40 +0. 1 -0.05",
                want: "40 +0.1 -0.05",
            },
            Case {
                raw: "8 -0, 02",
                want: "8 -0.02",
            },
            // Not a deviation: a list number and its text stay apart.
            Case {
                raw: "12. 5",
                want: "12. 5",
            },
        ];
        for case in &cases {
            assert_eq!(normalise(case.raw), case.want, "{:?}", case.raw);
        }
    }

    #[test]
    fn normalise_is_idempotent_and_ground_truth_texts_parse() {
        // Every dimension text in the eDOCr2 ground truth of ../shared/data/drawings, plus
        // the spellings above: normalising twice changes nothing, and each one parses (the
        // stage normalises before it parses).
        let texts = [
            "(25,5)",
            "100",
            "16",
            "1x45°",
            "3±0.02",
            "45,0°",
            "50.6 +0.02 0",
            "60,0°",
            "6.144",
            "70.5 +0.02 0",
            "80.5",
            "CH5",
            "R70",
            "⌀140",
            "⌀21,5±0,1",
            "⌀38H12",
            "038H12",
            "4 x ⌀6",
            "4x06",
            "M8 X 1,25",
            "1 × 45°",
            "Ø20 H7 / g6",
            "( 038 )",
            "30˚ 15'",
            "25 +/- 0,1",
            "1/4\"-20UNC-2B",
            "Ra 3,2",
        ];
        for raw in texts {
            let once = normalise(raw);
            assert_eq!(normalise(&once), once, "{raw:?}");
            let direct = parse_dimension(raw, false).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            let again = parse_dimension(&once, false).unwrap_or_else(|e| panic!("{once:?}: {e}"));
            assert_eq!(
                Dimension {
                    raw: String::new(),
                    ..direct
                },
                Dimension {
                    raw: String::new(),
                    ..again
                },
                "{raw:?}"
            );
        }
    }
}
