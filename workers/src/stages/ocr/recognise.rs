//! Line crops and CTC recognition: cutting a box out upright, the recogniser's input
//! tensor, greedy CTC decoding and PaddleOCR's batching by aspect ratio.

use drawpipe_core::StageError;
use opencv::core::{self, Mat, Point2f, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use super::{continuous, cv, dist, Params};

/// Whether [`crop_line`] turns the crop of this quadrilateral counter-clockwise
/// itself: its sides from the first corner down are at least 1.5 times as long as
/// those along (a tall box, text written vertically).
pub fn turns_tall(pts: &[[f32; 2]; 4]) -> bool {
    let (w, h) = crop_size(pts);
    h as f32 / w as f32 >= 1.5
}

/// The size [`crop_line`] warps a quadrilateral to, before any turn: its longer
/// side along and its longer side down, whole pixels, one at least.
fn crop_size(pts: &[[f32; 2]; 4]) -> (i32, i32) {
    let w = dist(pts[0], pts[1]).max(dist(pts[2], pts[3])) as i32;
    let h = dist(pts[0], pts[3]).max(dist(pts[1], pts[2])) as i32;
    (w.max(1), h.max(1))
}

/// Cuts the quadrilateral out of the page upright: a perspective warp to its width ×
/// height (cubic, border replicated); a crop at least 1.5 times taller than wide is
/// turned 90° counter-clockwise (vertical text in drawings reads bottom to top).
pub fn crop_line(page: &Mat, pts: &[[f32; 2]; 4]) -> Result<Mat, StageError> {
    let (w, h) = crop_size(pts);
    let src: Vector<Point2f> = pts.iter().map(|p| Point2f::new(p[0], p[1])).collect();
    let dst = Vector::<Point2f>::from_iter([
        Point2f::new(0.0, 0.0),
        Point2f::new(w as f32, 0.0),
        Point2f::new(w as f32, h as f32),
        Point2f::new(0.0, h as f32),
    ]);
    let m = imgproc::get_perspective_transform(&src, &dst, core::DECOMP_LU).map_err(cv)?;
    let mut crop = Mat::default();
    imgproc::warp_perspective(
        page,
        &mut crop,
        &m,
        Size::new(w, h),
        imgproc::INTER_CUBIC,
        core::BORDER_REPLICATE,
        Scalar::default(),
    )
    .map_err(cv)?;
    if turns_tall(pts) {
        let mut turned = Mat::default();
        core::rotate(&crop, &mut turned, core::ROTATE_90_COUNTERCLOCKWISE).map_err(cv)?;
        return Ok(turned);
    }
    Ok(crop)
}

/// Writes one line crop as a `3 × h × w` tensor into `out`: resized to height `h`
/// keeping its aspect (width capped at `w`), normalised to [-1, 1], right-padded
/// with 0.
pub(super) fn write_line_tensor(
    crop: &Mat,
    h: usize,
    w: usize,
    out: &mut [f32],
) -> Result<(), StageError> {
    let rw = ((h as f32 * aspect(crop)).ceil() as usize).clamp(1, w);
    let mut resized = Mat::default();
    imgproc::resize(
        crop,
        &mut resized,
        Size::new(rw as i32, h as i32),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .map_err(cv)?;
    let resized = continuous(&resized)?;
    let px = resized.data_bytes().map_err(cv)?;
    for c in 0..3 {
        for y in 0..h {
            let row = &mut out[c * h * w + y * w..c * h * w + y * w + rw];
            for (o, &p) in row.iter_mut().zip(&px[y * rw..(y + 1) * rw]) {
                *o = p as f32 / 127.5 - 1.0;
            }
        }
    }
    Ok(())
}

/// Greedy CTC decoding of one line: `probs` is `T × classes`, row-major. Repeats
/// merge, blanks (class 0) drop; the confidence is the mean probability of the
/// characters kept (0 when none). A run of blanks between two characters far longer
/// than the line's character pitch is a glyph the recogniser has no class for (a
/// depth or counterbore sign between two numbers: `Ø2.50 ↧5`), and becomes a space,
/// so that the numbers either side are not read as one (`2.505`). See [`unread_gaps`].
pub fn ctc_decode(probs: &[f32], classes: usize, dictionary: &[String]) -> (String, f32) {
    // (step, character) of each character kept.
    let mut kept: Vec<(usize, &str)> = Vec::new();
    let mut sum = 0f32;
    let mut prev = usize::MAX;
    for (t, step) in probs.chunks_exact(classes).enumerate() {
        let (idx, p) = argmax(step);
        if idx != 0 && idx != prev {
            kept.push((t, dictionary.get(idx).map(String::as_str).unwrap_or("")));
            sum += p;
        }
        prev = idx;
    }
    let gaps = unread_gaps(&kept);
    let mut text = String::new();
    for (i, (_, c)) in kept.iter().enumerate() {
        if gaps.contains(&i) {
            text.push(' ');
        }
        text.push_str(c);
    }
    let n = kept.len();
    (text, if n == 0 { 0.0 } else { sum / n as f32 })
}

/// Where a decoded line skipped a glyph: the indices `i` of characters that start at
/// least 3 character pitches (and 4 steps) after character `i - 1`, both not spaces.
/// The pitch is the median step between neighbouring characters that are not spaces;
/// a line of fewer than three such pairs has none. A character the recogniser dropped
/// leaves 2 pitches; a glyph it has no class for, with the spacing around it, about
/// 4–5 (9–11 steps at a pitch of 2, on PP-OCR's 48-pixel lines). The factor was set
/// on vector tune2 drawings (`tools/vector-split.tsv`), where the fixture drawings'
/// lines showed none at that factor.
fn unread_gaps(kept: &[(usize, &str)]) -> Vec<usize> {
    let word = |c: &str| !c.trim().is_empty();
    let steps: Vec<(usize, usize)> = kept
        .windows(2)
        .enumerate()
        .filter(|(_, w)| word(w[0].1) && word(w[1].1))
        .map(|(i, w)| (i + 1, w[1].0 - w[0].0))
        .collect();
    if steps.len() < 3 {
        return Vec::new();
    }
    let mut sorted: Vec<usize> = steps.iter().map(|s| s.1).collect();
    sorted.sort_unstable();
    let pitch = sorted[sorted.len() / 2];
    steps
        .into_iter()
        .filter(|&(_, d)| d >= (3 * pitch).max(pitch + 4))
        .map(|(i, _)| i)
        .collect()
}

/// One reading of a line by [`ctc_beams`]: its classes, its probability summed over
/// the alignments the search kept (a share of the line's readings, in [0, 1]) and
/// the mean probability of its characters on its best alignment (what
/// [`ctc_decode`] calls confidence, for the greedy reading).
#[derive(Debug, Clone, PartialEq)]
pub struct Beam {
    pub labels: Vec<usize>,
    pub share: f32,
    pub confidence: f32,
}

impl Beam {
    pub fn text(&self, dictionary: &[String]) -> String {
        self.labels
            .iter()
            .map(|&i| dictionary.get(i).map(String::as_str).unwrap_or(""))
            .collect()
    }
}

/// A [`Beam`] as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub text: String,
    pub share: f32,
    pub confidence: f32,
}

/// The `width` likeliest readings of one line (CTC prefix beam search), likeliest
/// first. At each step only the `per_step` likeliest classes (and blank) are
/// extended, and only those with probability ≥ 0.001. Shares are of the mass
/// of the readings kept.
pub fn ctc_beams(probs: &[f32], classes: usize, width: usize, per_step: usize) -> Vec<Beam> {
    use std::collections::HashMap;
    // prefix -> (ends in blank, ends in its last class), rescaled each step.
    let mut beams: HashMap<Vec<usize>, (f64, f64)> = HashMap::from([(vec![], (1.0, 0.0))]);
    for step in probs.chunks_exact(classes) {
        let mut top: Vec<(usize, f32)> = Vec::with_capacity(per_step + 1);
        for (c, &p) in step.iter().enumerate().skip(1) {
            if p < 0.001 {
                continue;
            }
            if top.len() < per_step {
                top.push((c, p));
            } else if let Some(min) = top.iter_mut().min_by(|a, b| a.1.total_cmp(&b.1)) {
                if p > min.1 {
                    *min = (c, p);
                }
            }
        }
        let blank = f64::from(step[0]);
        let mut next: HashMap<Vec<usize>, (f64, f64)> = HashMap::new();
        for (prefix, &(pb, pnb)) in &beams {
            next.entry(prefix.clone()).or_default().0 += (pb + pnb) * blank;
            for &(c, p) in &top {
                let p = f64::from(p);
                if prefix.last() == Some(&c) {
                    // A repeat without a blank between merges into the same class.
                    next.entry(prefix.clone()).or_default().1 += pnb * p;
                    let mut longer = prefix.clone();
                    longer.push(c);
                    next.entry(longer).or_default().1 += pb * p;
                } else {
                    let mut longer = prefix.clone();
                    longer.push(c);
                    next.entry(longer).or_default().1 += (pb + pnb) * p;
                }
            }
        }
        let mut kept: Vec<(Vec<usize>, (f64, f64))> = next.into_iter().collect();
        kept.sort_by(|a, b| {
            (b.1 .0 + b.1 .1)
                .total_cmp(&(a.1 .0 + a.1 .1))
                .then(a.0.cmp(&b.0))
        });
        kept.truncate(width.max(1));
        let scale = kept.first().map_or(1.0, |k| k.1 .0 + k.1 .1);
        if scale <= 0.0 {
            break;
        }
        beams = kept
            .into_iter()
            .map(|(k, (pb, pnb))| (k, (pb / scale, pnb / scale)))
            .collect();
    }
    let total: f64 = beams.values().map(|(pb, pnb)| pb + pnb).sum();
    let mut out: Vec<Beam> = beams
        .into_iter()
        .map(|(labels, (pb, pnb))| Beam {
            confidence: aligned_confidence(probs, classes, &labels),
            share: if total > 0.0 {
                ((pb + pnb) / total) as f32
            } else {
                0.0
            },
            labels,
        })
        .collect();
    out.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.labels.cmp(&b.labels)));
    out
}

/// The mean probability of `labels`' characters on their likeliest CTC alignment
/// (Viterbi over the blank-interleaved labels; a character's probability is that
/// of the step it starts on, as greedy decoding counts it); 0 when it cannot be
/// aligned or is empty.
pub fn aligned_confidence(probs: &[f32], classes: usize, labels: &[usize]) -> f32 {
    if labels.is_empty() {
        return 0.0;
    }
    // Extended sequence: blank, l1, blank, l2, …, blank.
    let ext: Vec<usize> = std::iter::once(0)
        .chain(labels.iter().flat_map(|&l| [l, 0]))
        .collect();
    let n = ext.len();
    const NONE: f64 = f64::NEG_INFINITY;
    // (log probability of the path, sum of its character-start probabilities)
    let mut cur = vec![(NONE, 0.0f64); n];
    for (t, step) in probs.chunks_exact(classes).enumerate() {
        let lp = |s: usize| f64::from(step[ext[s]].max(1e-30)).ln();
        let mut next = vec![(NONE, 0.0f64); n];
        for s in 0..n {
            let starts = if t == 0 {
                if s <= 1 {
                    Some((0.0, 0.0, true))
                } else {
                    None
                }
            } else {
                // Stay, step from s-1, or skip a blank between two different labels.
                let mut best: Option<(f64, f64, bool)> = None;
                let mut take = |from: usize, new_char: bool| {
                    let (l, sum) = cur[from];
                    if l > NONE && best.is_none_or(|b| l > b.0) {
                        best = Some((l, sum, new_char));
                    }
                };
                take(s, false);
                if s >= 1 {
                    take(s - 1, true);
                }
                if s >= 2 && ext[s] != 0 && ext[s] != ext[s - 2] {
                    take(s - 2, true);
                }
                best
            };
            if let Some((l, sum, new_char)) = starts {
                let emit = ext[s] != 0 && new_char;
                let add = if emit { f64::from(step[ext[s]]) } else { 0.0 };
                next[s] = (l + lp(s), sum + add);
            }
        }
        cur = next;
    }
    let end = [n - 1, n - 2]
        .into_iter()
        .map(|s| cur[s])
        .filter(|c| c.0 > NONE)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    end.map_or(0.0, |(_, sum)| (sum / labels.len() as f64) as f32)
}

/// The first index of the largest value and the value; `(0, f32::MIN)` when `v` is
/// empty or holds no number. Eight running maxima vectorise, then one scan finds the
/// index: about 4× faster than a scalar fold over the recogniser's 18 710 classes.
fn argmax(v: &[f32]) -> (usize, f32) {
    const LANES: usize = 8;
    let mut lanes = [f32::MIN; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            lanes[k] = if c[k] > lanes[k] { c[k] } else { lanes[k] };
        }
    }
    let max = lanes
        .iter()
        .chain(rest)
        .fold(f32::MIN, |m, &x| if x > m { x } else { m });
    match v.iter().position(|&x| x == max) {
        Some(i) => (i, max),
        None => (0, f32::MIN),
    }
}

pub(super) fn aspect(m: &Mat) -> f32 {
    m.cols() as f32 / m.rows().max(1) as f32
}

/// Each crop's padded recogniser width as PaddleOCR batches one page: crops sorted
/// by aspect, in chunks of [`Params::rec_batch_size`], each chunk padded to its
/// widest line at height 48 or to [`Params::rec_min_width`], whichever is wider.
pub fn paddle_widths(params: &Params, crops: &[Mat]) -> Vec<usize> {
    const H: f32 = 48.0;
    let mut widths = vec![0; crops.len()];
    for chunk in order_by_aspect(crops).chunks(params.rec_batch_size.max(1)) {
        let max_ratio = chunk
            .iter()
            .map(|&i| aspect(&crops[i]))
            .fold(params.rec_min_width as f32 / H, f32::max);
        for &i in chunk {
            widths[i] = (H * max_ratio) as usize;
        }
    }
    widths
}

/// Indices of `crops` by ascending width/height: similar widths batch with little
/// padding.
pub(super) fn order_by_aspect(crops: &[Mat]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by(|&a, &b| aspect(&crops[a]).total_cmp(&aspect(&crops[b])));
    order
}

#[cfg(test)]
mod tests {
    use super::super::tests::dict;
    use super::*;

    /// One time step putting probability `p` on `class` and the rest on blank.
    fn step(class: usize, p: f32, classes: usize) -> Vec<f32> {
        let mut v = vec![0.0; classes];
        v[class] = p;
        if class != 0 {
            v[0] = 1.0 - p;
        }
        v
    }

    /// Steps of explicit (class, probability) pairs; the rest of each step's mass
    /// on blank.
    fn steps(spec: &[&[(usize, f32)]], classes: usize) -> Vec<f32> {
        spec.iter()
            .flat_map(|pairs| {
                let mut v = vec![0.0; classes];
                for &(c, p) in *pairs {
                    v[c] += p;
                }
                v[0] += 1.0 - pairs.iter().map(|p| p.1).sum::<f32>();
                v
            })
            .collect()
    }

    #[test]
    fn beams_sum_alignments_where_greedy_takes_one_path() {
        let d = dict("0123456789x°");
        let n = d.len();
        // Greedy reads blank, blank: nothing. Summed over its three alignments
        // (1-1, 1-blank, blank-1), `0` holds 0.64 of the mass; nothing 0.36.
        let p = steps(&[&[(1, 0.4)], &[(1, 0.4)]], n);
        assert_eq!(ctc_decode(&p, n, &d).0, "");
        let beams = ctc_beams(&p, n, 8, 4);
        assert_eq!(beams[0].text(&d), "0");
        assert!((beams[0].share - 0.64).abs() < 1e-4, "{beams:?}");
        assert_eq!(beams[1].labels, Vec::<usize>::new());
        assert!((beams[1].share - 0.36).abs() < 1e-4);
    }

    #[test]
    fn beams_rank_the_readings_and_align_their_characters() {
        let d = dict("0123456789x°");
        let n = d.len();
        // `45°` with the sign unsure against `0`: the greedy reading is `450`.
        let p = steps(
            &[&[(5, 0.95)], &[], &[(6, 0.9)], &[], &[(1, 0.5), (12, 0.45)]],
            n,
        );
        assert_eq!(ctc_decode(&p, n, &d).0, "450");
        let beams = ctc_beams(&p, n, 8, 4);
        let texts: Vec<String> = beams.iter().map(|b| b.text(&d)).collect();
        assert_eq!(&texts[..2], ["450", "45°"]);
        // Shares of the readings kept (0.99 of the mass): 0.95 × 0.9 × 0.5 and × 0.45.
        assert!(
            (beams[0].share - 0.4275).abs() < 5e-3 && (beams[1].share - 0.385).abs() < 5e-3,
            "{beams:?}"
        );
        // Each reading's confidence is its own characters' mean on its path.
        assert!((beams[0].confidence - (0.95 + 0.9 + 0.5) / 3.0).abs() < 1e-4);
        assert!((beams[1].confidence - (0.95 + 0.9 + 0.45) / 3.0).abs() < 1e-4);
        // The greedy reading's aligned confidence is ctc_decode's.
        assert!(
            (aligned_confidence(&p, n, &beams[0].labels) - ctc_decode(&p, n, &d).1).abs() < 1e-4
        );
        // A reading the steps cannot produce (more characters than steps) has none.
        assert_eq!(aligned_confidence(&p, n, &[5, 6, 1, 1, 1, 1]), 0.0);
        // A doubled character needs a blank between: `44` on three steps.
        let q = steps(&[&[(5, 0.9)], &[], &[(5, 0.8)]], n);
        assert_eq!(ctc_beams(&q, n, 8, 4)[0].text(&d), "44");
        assert!((aligned_confidence(&q, n, &[5, 5]) - 0.85).abs() < 1e-4);
    }

    #[test]
    fn ctc_decodes_greedily() {
        struct Case {
            name: &'static str,
            steps: Vec<(usize, f32)>,
            want: &'static str,
            conf: f32,
        }
        let d = dict("0123456789x°");
        let n = d.len();
        let cases = [
            Case {
                name: "empty",
                steps: vec![],
                want: "",
                conf: 0.0,
            },
            Case {
                name: "all blank",
                steps: vec![(0, 1.0), (0, 1.0)],
                want: "",
                conf: 0.0,
            },
            Case {
                name: "repeats merge",
                steps: vec![(4, 0.9), (4, 0.7), (9, 0.8)],
                want: "38",
                conf: 0.85,
            },
            Case {
                name: "blank splits a double",
                steps: vec![(2, 1.0), (0, 1.0), (2, 0.6)],
                want: "11",
                conf: 0.8,
            },
            Case {
                name: "symbols and space",
                steps: vec![
                    (2, 1.0),
                    (11, 1.0),
                    (5, 1.0),
                    (6, 1.0),
                    (12, 1.0),
                    (13, 1.0),
                ],
                want: "1x45° ",
                conf: 1.0,
            },
            Case {
                // `2.50 ↧5` read by a recogniser without a depth sign: digits every 2
                // steps, then 10 blank steps where the sign stood.
                name: "a glyph with no class between numbers",
                steps: spaced(&[(3, 2), (6, 2), (1, 10), (6, 1)]),
                want: "250 5",
                conf: 1.0,
            },
            Case {
                name: "a dropped character leaves no space",
                steps: spaced(&[(3, 2), (6, 2), (1, 4), (6, 1)]),
                want: "2505",
                conf: 1.0,
            },
            Case {
                name: "too few characters for a pitch",
                steps: spaced(&[(3, 2), (6, 12), (1, 1)]),
                want: "250",
                conf: 1.0,
            },
        ];
        // Each (class, steps): the class once, then blanks up to the next character.
        fn spaced(chars: &[(usize, usize)]) -> Vec<(usize, f32)> {
            chars
                .iter()
                .flat_map(|&(k, steps)| {
                    std::iter::once((k, 1.0)).chain(std::iter::repeat_n((0, 1.0), steps - 1))
                })
                .collect()
        }
        for c in cases {
            let probs: Vec<f32> = c.steps.iter().flat_map(|&(k, p)| step(k, p, n)).collect();
            let (text, conf) = ctc_decode(&probs, n, &d);
            assert_eq!(text, c.want, "{}", c.name);
            assert!(
                (conf - c.conf).abs() < 1e-5,
                "{}: confidence {conf}",
                c.name
            );
        }
    }

    #[test]
    fn argmax_finds_the_first_largest() {
        struct Case {
            v: Vec<f32>,
            want: (usize, f32),
        }
        let mut long = vec![0.1f32; 18_710];
        long[18_709] = 0.5; // in the remainder after the 8-wide chunks
        long[9_000] = 0.5;
        let mut tail = vec![0.0f32; 13];
        tail[12] = 0.2;
        let cases = [
            Case {
                v: vec![],
                want: (0, f32::MIN),
            },
            Case {
                v: vec![0.2, 0.7, 0.1],
                want: (1, 0.7),
            },
            Case {
                v: long,
                want: (9_000, 0.5),
            },
            Case {
                v: tail,
                want: (12, 0.2),
            },
            Case {
                v: vec![f32::NAN, 0.3, f32::NAN],
                want: (1, 0.3),
            },
        ];
        for c in cases {
            let naive =
                c.v.iter()
                    .enumerate()
                    .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b });
            assert_eq!(argmax(&c.v), c.want, "{:?}", &c.v[..c.v.len().min(4)]);
            assert_eq!(argmax(&c.v), naive);
        }
    }
    #[test]
    fn crops_upright_and_turns_tall_boxes() {
        let mut page =
            Mat::new_rows_cols_with_default(100, 200, core::CV_8UC1, Scalar::all(255.0)).unwrap();
        // A dark bar near the top-left of a 60×20 box.
        imgproc::rectangle(
            &mut page,
            core::Rect::new(20, 10, 10, 5),
            Scalar::all(0.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let c = crop_line(
            &page,
            &[[20.0, 10.0], [80.0, 10.0], [80.0, 30.0], [20.0, 30.0]],
        )
        .unwrap();
        assert_eq!((c.cols(), c.rows()), (60, 20));
        assert_eq!(*c.at_2d::<u8>(1, 1).unwrap(), 0);
        // A 20×60 box is turned to 60×20; counter-clockwise puts its top-left bottom-left.
        let t = crop_line(
            &page,
            &[[20.0, 10.0], [40.0, 10.0], [40.0, 70.0], [20.0, 70.0]],
        )
        .unwrap();
        assert_eq!((t.cols(), t.rows()), (60, 20));
        assert_eq!(*t.at_2d::<u8>(18, 1).unwrap(), 0);
    }
}
