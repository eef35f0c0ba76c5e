//! Accuracy harness for the `edocr` stage: runs `preprocess` → `ocr` → `edocr` on
//! every image or PDF in a folder that has a ground-truth CSV beside it (`<stem>.csv`, in
//! eDOCr2's format: 8 corner coordinates, then the text; `other_info` marks text that
//! is not a dimension) and scores the predicted dimensions.
//!
//! Scoring: a prediction matches a ground-truth dimension when their axis-aligned
//! boxes overlap with IoU ≥ [`MATCH_IOU`]; pairs are taken greedily, best IoU first,
//! one to one. Precision = matched / predicted, recall = matched / ground truth, CER
//! = Σ edit distance / Σ ground-truth length over matched pairs, both texts
//! normalised first ([`normalise_for_cer`]: no spaces, every diameter sign as `Ø`,
//! decimal comma as point).
//!
//! Title blocks: where a `<stem>.json` beside the image holds a `title_block` object
//! (the synthetic drawings' metadata), its `drawing_number`, `title` and `material`
//! are compared with what `edocr` read ([`TITLE_FIELDS`], [`read_right`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::geometry;
use crate::stages::edocr;
use crate::stages::ocr::{self, OcrEngine};
use crate::stages::{decode_page, preprocess};

/// Smallest box IoU for a prediction to match a ground-truth dimension (the issue's).
pub const MATCH_IOU: f32 = 0.2;

/// One ground-truth row.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub polygon: [[f32; 2]; 4],
    pub bbox: [f32; 4],
    /// The text, or `other_info`.
    pub text: String,
}

impl Truth {
    pub fn is_dimension(&self) -> bool {
        self.text != "other_info"
    }
}

/// Scores of one drawing.
#[derive(Debug, Clone, Default)]
pub struct DrawingScore {
    pub name: String,
    pub truths: usize,
    pub predicted: usize,
    pub matched: usize,
    /// Σ edit distance over matched pairs, and Σ ground-truth length.
    pub edits: usize,
    pub truth_chars: usize,
    /// (ground truth, prediction) per matched pair.
    pub pairs: Vec<(String, String)>,
    /// Ground-truth dimensions nobody matched.
    pub missed: Vec<String>,
    /// Predictions that matched nothing.
    pub spurious: Vec<String>,
    pub ocr_ms: f64,
    pub edocr_ms: f64,
    /// Title-block fields with a truth: (field, truth, what was read).
    pub title_fields: Vec<(&'static str, String, Option<String>)>,
}

/// The title-block fields scored: those a user files drawings by.
pub const TITLE_FIELDS: [&str; 3] = ["drawing_number", "title", "material"];

/// Whether a title-block value was read right: read, and equal after lower-casing
/// and collapsing white space.
pub fn read_right(truth: &str, read: Option<&str>) -> bool {
    let norm = |s: &str| {
        s.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    read.is_some_and(|r| norm(truth) == norm(r))
}

/// The title-block truth of a drawing: [`TITLE_FIELDS`] from the `title_block`
/// object of `<stem>.json` beside it, where it has one.
pub fn title_truth(image: &Path) -> Result<Vec<(&'static str, String)>> {
    let path = image.with_extension("json");
    if !path.exists() {
        return Ok(vec![]);
    }
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("title-block truth {}", path.display()))?;
    let Some(tb) = meta.get("title_block").and_then(|t| t.as_object()) else {
        return Ok(vec![]);
    };
    Ok(TITLE_FIELDS
        .iter()
        .filter_map(|f| {
            let v = tb.get(*f)?.as_str()?.trim();
            (!v.is_empty()).then(|| (*f, v.to_string()))
        })
        .collect())
}

/// Right and all title-block fields of one kind over a report's drawings.
fn title_count(drawings: &[DrawingScore], field: &str) -> (usize, usize) {
    let fields = drawings
        .iter()
        .flat_map(|d| &d.title_fields)
        .filter(|(f, _, _)| *f == field);
    fields.fold((0, 0), |(right, all), (_, t, r)| {
        let ok = read_right(t, r.as_deref());
        (right + usize::from(ok), all + 1)
    })
}

impl DrawingScore {
    pub fn precision(&self) -> f64 {
        ratio(self.matched, self.predicted)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.matched, self.truths)
    }
    pub fn cer(&self) -> f64 {
        if self.truth_chars == 0 {
            0.0
        } else {
            self.edits as f64 / self.truth_chars as f64
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores per drawing and in total.
#[derive(Debug, Clone, Default)]
pub struct EvalReport {
    pub drawings: Vec<DrawingScore>,
}

impl EvalReport {
    /// All drawings summed (micro-averaged).
    pub fn total(&self) -> DrawingScore {
        let mut t = DrawingScore {
            name: "total".into(),
            ..DrawingScore::default()
        };
        for d in &self.drawings {
            t.truths += d.truths;
            t.predicted += d.predicted;
            t.matched += d.matched;
            t.edits += d.edits;
            t.truth_chars += d.truth_chars;
            t.ocr_ms += d.ocr_ms;
            t.edocr_ms += d.edocr_ms;
        }
        t
    }
}

/// The kinds a wrong reading falls into (issue #18's list), in the order tested:
/// - `diameter sign`: one of the two has Ø and the other not;
/// - `degree sign`: the truth has ° and the reading not (`45°` read as `450`);
/// - `decimal separator`: the same digits with a separator lost or added (`2,5` → `25`);
/// - `tolerance`: the nominal right, the tolerance or fit wrong;
/// - `stacked or part read`: the truth holds more numbers than the reading (a stacked
///   limit read as one of its values, a vertical text read in part);
/// - `other`.
pub fn failure_kind(truth: &str, read: &str) -> &'static str {
    let (t, r) = (normalise_for_cer(truth), normalise_for_cer(read));
    if t == r {
        return "right";
    }
    if t.contains('Ø') != r.contains('Ø') {
        return "diameter sign";
    }
    if t.contains('°') && !r.contains('°') {
        return "degree sign";
    }
    // Digits without leading zeros: `0,8` read as `8` lost its separator and its zero.
    let digits = |s: &str| {
        let d: String = s.chars().filter(char::is_ascii_digit).collect();
        d.trim_start_matches('0').to_string()
    };
    let separators = |s: &str| s.chars().filter(|c| *c == '.').count();
    if digits(&t) == digits(&r) && separators(&t) != separators(&r) {
        return "decimal separator";
    }
    // Numbers from the texts as written (whitespace separates stacked values).
    let numbers = |s: &str| -> Vec<String> {
        s.replace(',', ".")
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|n| n.chars().any(|c| c.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    };
    let (nt, nr) = (numbers(truth), numbers(read));
    if !nt.is_empty() && nt.first() == nr.first() {
        return "tolerance";
    }
    let (dt, dr) = (digits(&t), digits(&r));
    let part = !dr.is_empty() && dt.len() > dr.len() && dt.contains(&dr);
    if nt.len() > nr.len() || part {
        return "stacked or part read";
    }
    "other"
}

impl EvalReport {
    /// Errors by kind over every drawing: wrong readings by [`failure_kind`], then
    /// `missed` (no reading matched the truth) and spurious readings (`spurious: one
    /// character` (zone labels, arrowheads, hole marks), `spurious: longer`).
    pub fn failure_kinds(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut kinds = std::collections::BTreeMap::new();
        for d in &self.drawings {
            for (t, p) in &d.pairs {
                let k = failure_kind(t, p);
                if k != "right" {
                    *kinds.entry(k).or_default() += 1;
                }
            }
            *kinds.entry("missed").or_default() += d.missed.len();
            for s in &d.spurious {
                let one = s.chars().filter(|c| !c.is_whitespace()).count() == 1;
                let k = if one {
                    "spurious: one character"
                } else {
                    "spurious: longer"
                };
                *kinds.entry(k).or_default() += 1;
            }
        }
        kinds
    }
}

/// Sets side by side (`tune`, `check`, …): precision, recall, CER and the failure
/// kinds, one column per set.
pub fn side_by_side(sets: &[(String, EvalReport)]) -> String {
    use std::fmt::Write;
    let totals: Vec<DrawingScore> = sets.iter().map(|(_, r)| r.total()).collect();
    let kinds: Vec<_> = sets.iter().map(|(_, r)| r.failure_kinds()).collect();
    let mut names: Vec<&str> = kinds.iter().flat_map(|k| k.keys().copied()).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::new();
    let _ = write!(out, "{:<26}", "");
    for (name, _) in sets {
        let _ = write!(out, " {name:>10}");
    }
    out.push('\n');
    let mut row = |label: &str, cell: &dyn Fn(usize) -> String| {
        let _ = write!(out, "{label:<26}");
        for i in 0..sets.len() {
            let _ = write!(out, " {:>10}", cell(i));
        }
        out.push('\n');
    };
    row("drawings", &|i| sets[i].1.drawings.len().to_string());
    row("truth dimensions", &|i| totals[i].truths.to_string());
    row("precision", &|i| format!("{:.3}", totals[i].precision()));
    row("recall", &|i| format!("{:.3}", totals[i].recall()));
    row("CER", &|i| format!("{:.3}", totals[i].cer()));
    for f in TITLE_FIELDS {
        let counts: Vec<(usize, usize)> = sets
            .iter()
            .map(|(_, r)| title_count(&r.drawings, f))
            .collect();
        if counts.iter().any(|c| c.1 > 0) {
            row(&format!("title block: {f}"), &|i| {
                format!("{}/{}", counts[i].0, counts[i].1)
            });
        }
    }
    for k in names {
        row(k, &|i| kinds[i].get(k).copied().unwrap_or(0).to_string());
    }
    out
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:>5} {:>5} {:>5} {:>9} {:>7} {:>6} {:>9} {:>9}",
            "drawing", "truth", "pred", "match", "precision", "recall", "CER", "ocr ms", "edocr ms"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, d: &DrawingScore| {
            writeln!(
                f,
                "{:<22} {:>5} {:>5} {:>5} {:>9.3} {:>7.3} {:>6.3} {:>9.0} {:>9.0}",
                d.name,
                d.truths,
                d.predicted,
                d.matched,
                d.precision(),
                d.recall(),
                d.cer(),
                d.ocr_ms,
                d.edocr_ms
            )
        };
        for d in &self.drawings {
            row(f, d)?;
        }
        row(f, &self.total())?;
        let kinds = self.failure_kinds();
        let listed: Vec<String> = kinds
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(
            f,
            "errors by kind: {}",
            if listed.is_empty() {
                "none".into()
            } else {
                listed.join(", ")
            }
        )?;
        let titles: Vec<String> = TITLE_FIELDS
            .iter()
            .map(|f| (f, title_count(&self.drawings, f)))
            .filter(|(_, c)| c.1 > 0)
            .map(|(f, (right, all))| format!("{f} {right}/{all}"))
            .collect();
        if !titles.is_empty() {
            writeln!(f, "title block right: {}", titles.join(", "))?;
        }
        for d in &self.drawings {
            for (field, t, r) in &d.title_fields {
                if !read_right(t, r.as_deref()) {
                    writeln!(f, "  {}: title block {field} read {r:?} for {t:?}", d.name)?;
                }
            }
            for (t, p) in &d.pairs {
                if normalise_for_cer(t) != normalise_for_cer(p) {
                    writeln!(f, "  {}: read {p:?} for {t:?}", d.name)?;
                }
            }
            for m in &d.missed {
                writeln!(f, "  {}: missed {m:?}", d.name)?;
            }
            for s in &d.spurious {
                writeln!(f, "  {}: spurious {s:?}", d.name)?;
            }
        }
        Ok(())
    }
}

/// Parses a ground-truth CSV: `x1,y1,…,x4,y4,text` per line, the text optionally
/// in double quotes (it may hold a decimal comma).
pub fn read_truth(csv: &str) -> Result<Vec<Truth>> {
    let mut out = Vec::new();
    for (n, l) in csv.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.splitn(9, ',').collect();
        if f.len() != 9 {
            bail!(
                "line {}: expected 8 coordinates and a text, got {l:?}",
                n + 1
            );
        }
        let mut v = [0f32; 8];
        for (i, x) in f[..8].iter().enumerate() {
            v[i] = x
                .trim()
                .parse()
                .with_context(|| format!("line {}: coordinate {x:?}", n + 1))?;
        }
        let polygon = [[v[0], v[1]], [v[2], v[3]], [v[4], v[5]], [v[6], v[7]]];
        out.push(Truth {
            polygon,
            bbox: geometry::bbox_of(&polygon),
            text: unquote(f[8].trim()),
        });
    }
    Ok(out)
}

/// One ground-truth row as [`read_truth`] reads it: the 4 corners rounded to
/// pixels, then the text (quoted when it holds a comma or a quote).
pub fn truth_row(polygon: &[[f32; 2]; 4], text: &str) -> String {
    let corners: Vec<String> = polygon
        .iter()
        .flat_map(|p| p.iter().map(|v| format!("{v:.0}")))
        .collect();
    format!("{},{}", corners.join(","), crate::summary::quote(text))
}

/// A CSV field's text: quotes around it removed, `""` inside read as `"`.
fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.trim_matches('"').to_string(),
    }
}

/// Text as compared for CER: no whitespace, `⌀ ø ∅` as `Ø`, decimal comma as point.
pub fn normalise_for_cer(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '⌀' | 'ø' | '∅' => 'Ø',
            ',' => '.',
            '−' => '-',
            c => c,
        })
        .collect()
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Scores predictions (text, bbox) against ground truth (dimensions only count).
pub fn score(name: &str, truths: &[Truth], predicted: &[(String, [f32; 4])]) -> DrawingScore {
    let dims: Vec<&Truth> = truths.iter().filter(|t| t.is_dimension()).collect();
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (i, t) in dims.iter().enumerate() {
        for (j, p) in predicted.iter().enumerate() {
            let v = geometry::iou(&t.bbox, &p.1);
            if v >= MATCH_IOU {
                pairs.push((v, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut ti, mut pj) = (vec![false; dims.len()], vec![false; predicted.len()]);
    let mut s = DrawingScore {
        name: name.to_string(),
        truths: dims.len(),
        predicted: predicted.len(),
        ..DrawingScore::default()
    };
    for (_, i, j) in pairs {
        if ti[i] || pj[j] {
            continue;
        }
        ti[i] = true;
        pj[j] = true;
        s.matched += 1;
        let (t, p) = (
            normalise_for_cer(&dims[i].text),
            normalise_for_cer(&predicted[j].0),
        );
        s.edits += edit_distance(&t, &p);
        s.truth_chars += t.chars().count();
        s.pairs.push((dims[i].text.clone(), predicted[j].0.clone()));
    }
    s.missed = dims
        .iter()
        .zip(&ti)
        .filter(|(_, m)| !**m)
        .map(|(t, _)| t.text.clone())
        .collect();
    s.spurious = predicted
        .iter()
        .zip(&pj)
        .filter(|(_, m)| !**m)
        .map(|(p, _)| p.0.clone())
        .collect();
    s
}

/// Images and PDFs (rendered by `preprocess` at its DPI, to which the CSV's pixel
/// coordinates refer) in `dir` with a `<stem>.csv` beside them, sorted by name.
pub fn labelled_images(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !matches!(
            ext.as_str(),
            "png" | "jpg" | "jpeg" | "tif" | "tiff" | "bmp" | "pdf"
        ) {
            continue;
        }
        let csv = p.with_extension("csv");
        if csv.exists() {
            out.push((p, csv));
        }
    }
    out.sort();
    Ok(out)
}

/// Runs the pipeline on every labelled image in `dir` and scores it.
///
/// # Errors
/// An unreadable folder, image or CSV, or a stage failure (named).
pub fn eval_dir(
    dir: &Path,
    engine: &OcrEngine,
    ocr_params: &ocr::Params,
    params: &edocr::Params,
    text_layer: bool,
) -> Result<EvalReport> {
    let pre_params = preprocess::Params {
        text_layer,
        ..Default::default()
    };
    let mut report = EvalReport::default();
    for (img, csv) in labelled_images(dir)? {
        let name = img
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let truths = read_truth(&std::fs::read_to_string(&csv)?)
            .with_context(|| format!("ground truth {}", csv.display()))?;
        let bytes = std::fs::read(&img).with_context(|| format!("reading {}", img.display()))?;
        let pre =
            preprocess::run(&pre_params, &bytes).with_context(|| format!("preprocess {name}"))?;
        let title_truth = title_truth(&img)?;
        let mut title_read = serde_json::Map::new();
        let mut predicted = Vec::new();
        let (mut ocr_ms, mut edocr_ms) = (0.0, 0.0);
        for page in &pre.pages {
            let image = decode_page(&page.png).with_context(|| format!("page of {name}"))?;
            let t0 = Instant::now();
            // A PDF page's usable text layer stands in for OCR, as in the pipeline.
            let layer: Vec<_> = pre
                .text_layer
                .iter()
                .filter(|l| l.page == page.info.index)
                .cloned()
                .collect();
            let lines = if layer.is_empty() {
                ocr::run(
                    ocr_params,
                    engine,
                    &ocr::GrayPage {
                        index: page.info.index,
                        image: &image,
                    },
                )
                .with_context(|| format!("ocr {name}"))?
                .lines
            } else {
                ocr::layer_lines(&layer)
            };
            ocr_ms += t0.elapsed().as_secs_f64() * 1000.0;
            let t1 = Instant::now();
            let out = edocr::run_on_page(params, engine, page.info.index, &image, &lines)
                .with_context(|| format!("edocr {name}"))?;
            edocr_ms += t1.elapsed().as_secs_f64() * 1000.0;
            // The first page that states a field gives it (as the report does).
            for (k, v) in &out.title_block {
                title_read.entry(k.clone()).or_insert_with(|| v.clone());
            }
            // The truth is in the pixels of the page as submitted; a skewed scan
            // was read turned upright.
            predicted.extend(out.dimensions.into_iter().map(|d| {
                (
                    d.dimension.raw.clone(),
                    preprocess::box_as_submitted(&page.info, d.bbox),
                )
            }));
        }
        let mut s = score(&name, &truths, &predicted);
        s.ocr_ms = ocr_ms;
        s.edocr_ms = edocr_ms;
        s.title_fields = title_truth
            .into_iter()
            .map(|(f, t)| {
                let read = title_read
                    .get(f)
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                (f, t, read)
            })
            .collect();
        report.drawings.push(s);
    }
    Ok(report)
}

/// `segment` on one labelled drawing: class counts, and how many ground-truth
/// dimension boxes are covered, i.e. the components whose centre lies in the box are
/// mostly (by skeleton length) `text` or `dimension`.
#[derive(Debug, Clone, Default)]
pub struct SegmentCheck {
    pub name: String,
    pub counts: crate::stages::segment::Counts,
    pub dimension_boxes: usize,
    pub covered: usize,
}

/// Runs [`SegmentCheck`] on every labelled image of `dir`.
///
/// # Errors
/// Unreadable files; inference failures.
pub fn segment_check(
    dir: &Path,
    model: &crate::stages::segment::SegmentModel,
) -> Result<Vec<SegmentCheck>> {
    use crate::stages::segment;
    use opencv::prelude::*;
    let mut out = Vec::new();
    for (image_path, csv_path) in labelled_images(dir)? {
        let truths = read_truth(&std::fs::read_to_string(&csv_path)?)?;
        let image = opencv::imgcodecs::imread(
            &image_path.to_string_lossy(),
            opencv::imgcodecs::IMREAD_GRAYSCALE,
        )?;
        let (w, h) = (image.cols() as usize, image.rows() as usize);
        let (page, graph, classes) = segment::run_on_page(
            &segment::Params::default(),
            model,
            0,
            image.data_bytes()?,
            w,
            h,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut check = SegmentCheck {
            name: image_path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into(),
            counts: page.counts,
            ..Default::default()
        };
        for t in truths.iter().filter(|t| t.is_dimension()) {
            check.dimension_boxes += 1;
            let [bx, by, bw, bh] = t.bbox;
            let (mut textish, mut all) = (0u32, 0u32);
            for (c, &k) in graph.components.iter().zip(&classes) {
                let cx = c.bbox[0] as f32 + c.bbox[2] as f32 / 2.0;
                let cy = c.bbox[1] as f32 + c.bbox[3] as f32 / 2.0;
                if cx >= bx && cx <= bx + bw && cy >= by && cy <= by + bh {
                    all += c.length;
                    if k != 0 {
                        textish += c.length;
                    }
                }
            }
            if all > 0 && textish * 2 > all {
                check.covered += 1;
            }
        }
        out.push(check);
    }
    Ok(out)
}

/// `detect` on one labelled drawing: how many ground-truth dimension boxes a
/// dimension-class detection overlaps with IoU ≥ [`MATCH_IOU`].
#[derive(Debug, Clone, Default)]
pub struct DetectCheck {
    pub name: String,
    pub detections: usize,
    pub dimension_detections: usize,
    pub dimension_boxes: usize,
    pub overlapped: usize,
    pub ms: f64,
}

/// Runs [`DetectCheck`] on every labelled image of `dir`.
///
/// # Errors
/// Unreadable files; inference failures.
pub fn detect_check(
    dir: &Path,
    model: &crate::stages::detect::DetectModel,
    params: &crate::stages::detect::Params,
) -> Result<Vec<DetectCheck>> {
    use crate::stages::detect;
    use opencv::prelude::*;
    let mut out = Vec::new();
    for (image_path, csv_path) in labelled_images(dir)? {
        let truths = read_truth(&std::fs::read_to_string(&csv_path)?)?;
        let image = opencv::imgcodecs::imread(
            &image_path.to_string_lossy(),
            opencv::imgcodecs::IMREAD_GRAYSCALE,
        )?;
        let start = Instant::now();
        let dets = detect::run_on_page(
            params,
            model,
            0,
            image.data_bytes()?,
            image.cols() as usize,
            image.rows() as usize,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let dims: Vec<&detect::Detection> = dets
            .iter()
            .filter(|d| detect::is_dimension_class(d.class_id))
            .collect();
        let truths: Vec<&Truth> = truths.iter().filter(|t| t.is_dimension()).collect();
        let overlapped = truths
            .iter()
            .filter(|t| {
                dims.iter()
                    .any(|d| geometry::iou(&t.bbox, &d.bbox) >= MATCH_IOU)
            })
            .count();
        out.push(DetectCheck {
            name: image_path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into(),
            detections: dets.len(),
            dimension_detections: dims.len(),
            dimension_boxes: truths.len(),
            overlapped,
            ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings")
    }

    #[test]
    fn title_block_fields_are_scored_against_the_metadata_beside_the_drawing() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("00001.png");
        std::fs::write(
            dir.path().join("00001.json"),
            r#"{"title_block": {"title": "BASE  PLATE", "drawing_number": "ZN 71240.17",
                "material": "", "scale": "1:1"}}"#,
        )
        .unwrap();
        let truth = title_truth(&image).unwrap();
        // An empty field has no truth; fields other than the three are not scored.
        assert_eq!(
            truth,
            vec![
                ("drawing_number", "ZN 71240.17".to_string()),
                ("title", "BASE  PLATE".to_string())
            ]
        );
        assert!(title_truth(&dir.path().join("none.png"))
            .unwrap()
            .is_empty());
        let d = DrawingScore {
            title_fields: vec![
                (
                    "drawing_number",
                    "ZN 71240.17".into(),
                    Some("ZN 7124O.17".into()),
                ),
                ("title", "BASE  PLATE".into(), Some("base plate".into())),
                ("material", "S235JR".into(), None),
            ],
            ..DrawingScore::default()
        };
        let drawings = [d];
        assert_eq!(title_count(&drawings, "drawing_number"), (0, 1));
        assert_eq!(title_count(&drawings, "title"), (1, 1));
        assert_eq!(title_count(&drawings, "material"), (0, 1));
        let report = EvalReport {
            drawings: drawings.to_vec(),
        };
        let text = report.to_string();
        assert!(
            text.contains("title block right: drawing_number 0/1, title 1/1, material 0/1"),
            "{text}"
        );
        assert!(
            text.contains(r#"title block material read None for "S235JR""#),
            "{text}"
        );
    }

    fn engine() -> &'static OcrEngine {
        static E: OnceLock<OcrEngine> = OnceLock::new();
        E.get_or_init(|| {
            OcrEngine::load(&ocr::EngineConfig::default()).expect("models: run models/fetch.sh")
        })
    }

    #[test]
    fn reads_quoted_truth_rows() {
        let t = read_truth("1,2,11,2,11,12,1,12,\"45,0°\"\n0,0,4,0,4,4,0,4,other_info\n").unwrap();
        let inch = read_truth("0,0,4,0,4,4,0,4,\"1/2\"\" THRU\"\n").unwrap();
        assert_eq!(inch[0].text, "1/2\" THRU");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].text, "45,0°");
        assert_eq!(t[0].bbox, [1.0, 2.0, 10.0, 10.0]);
        assert!(!t[1].is_dimension());
        assert!(read_truth("1,2,3\n").is_err());
    }

    #[test]
    fn wrong_readings_fall_into_kinds() {
        let cases = [
            ("Ø68.50", "68.50", "diameter sign"),
            ("⌀550", "Ø550", "right"),
            ("45°", "450", "degree sign"),
            ("2,5 +0,2 0", "25 +0,2 0", "decimal separator"),
            ("0,8", "8", "decimal separator"),
            ("Ø21,5±0,1", "Ø21,5±0,2", "tolerance"),
            ("16.00 15.50", "16.00", "tolerance"),
            ("8.20 8.00", "20", "stacked or part read"),
            ("4.69", "69", "stacked or part read"),
            ("R11.30 11.20", "R 11.20", "stacked or part read"),
            ("48", "84", "other"),
        ];
        for (truth, read, want) in cases {
            assert_eq!(
                failure_kind(truth, read),
                want,
                "{truth:?} read as {read:?}"
            );
        }
    }

    #[test]
    fn scores_greedily_one_to_one() {
        let truths = read_truth(
            "0,0,10,0,10,10,0,10,⌀21,5\n100,0,110,0,110,10,100,10,5\n50,50,60,50,60,60,50,60,other_info\n",
        )
        .unwrap();
        let pred = vec![
            ("Ø21.5".to_string(), [0.0, 0.0, 10.0, 10.0]),
            ("Ø21".to_string(), [1.0, 0.0, 10.0, 10.0]),
            ("REF".to_string(), [50.0, 50.0, 10.0, 10.0]),
        ];
        let s = score("x", &truths, &pred);
        assert_eq!((s.truths, s.predicted, s.matched), (2, 3, 1));
        assert_eq!(s.edits, 0);
        assert_eq!(s.missed, vec!["5".to_string()]);
        assert_eq!(s.spurious.len(), 2);
        assert_eq!(edit_distance("50.6+0.020", "50.6+0.02"), 1);
        assert_eq!(normalise_for_cer("⌀21,5 ±0,1"), "Ø21.5±0.1");
    }

    /// The issue's bounds on the fixture drawings:
    /// `cargo test -p drawpipe-workers --release eval::tests::edocr_accuracy -- --nocapture`
    #[test]
    fn edocr_accuracy_on_fixture_drawings() {
        let report = eval_dir(
            &fixtures(),
            engine(),
            &ocr::Params::default(),
            &edocr::Params::default(),
            true,
        )
        .unwrap();
        eprintln!("{report}");
        let t = report.total();
        assert_eq!(report.drawings.len(), 3, "{report}");
        assert!(
            t.recall() >= 0.95,
            "recall {:.3} < 0.95\n{report}",
            t.recall()
        );
        assert!(
            t.precision() >= 0.90,
            "precision {:.3} < 0.90\n{report}",
            t.precision()
        );
        assert!(t.cer() <= 0.03, "CER {:.3} > 0.03\n{report}", t.cer());
    }

    /// Generalisation: the same code on drawings it was not tuned on
    /// (`tests/fixtures/unseen/`: two SolidWorks A4 sheets, light-gray line work,
    /// zone border, ground truth measured on the 300-DPI render). Prints the scores
    /// and bounds nothing but that both drawings are read:
    /// `cargo test -p drawpipe-workers --lib eval::tests::edocr_on_unseen -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn edocr_on_unseen_drawings() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/unseen");
        let report = eval_dir(
            &dir,
            engine(),
            &ocr::Params::default(),
            &edocr::Params::default(),
            true,
        )
        .unwrap();
        eprintln!("{report}");
        assert_eq!(report.drawings.len(), 2, "{report}");
        assert!(report.total().matched > 0, "{report}");
    }

    /// `Ø21,5±0,1` and `Ø38H12` on Candle_holder.jpg, parsed.
    #[test]
    fn candle_holder_diameters_are_parsed() {
        let bytes = std::fs::read(fixtures().join("Candle_holder.jpg")).unwrap();
        let pre = preprocess::run(&preprocess::Params::default(), &bytes).unwrap();
        let image = decode_page(&pre.pages[0].png).unwrap();
        let page = ocr::GrayPage {
            index: 0,
            image: &image,
        };
        let lines = ocr::run(&ocr::Params::default(), engine(), &page)
            .unwrap()
            .lines;
        let out =
            edocr::run_on_page(&edocr::Params::default(), engine(), 0, &image, &lines).unwrap();
        eprintln!("title block: {:?}", out.title_block);
        let find = |want: &str| {
            out.dimensions
                .iter()
                .find(|d| normalise_for_cer(&d.dimension.raw) == normalise_for_cer(want))
                .unwrap_or_else(|| {
                    panic!(
                        "{want} not found in {:?}",
                        out.dimensions
                            .iter()
                            .map(|d| &d.dimension.raw)
                            .collect::<Vec<_>>()
                    )
                })
        };
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        let d = find("Ø21,5±0,1");
        assert_eq!(d.dimension.kind, edocr::parse::DimKind::Diameter, "{d:?}");
        assert!(close(d.dimension.nominal, 21.5), "{d:?}");
        assert!(
            close(d.dimension.upper, 0.1) && close(d.dimension.lower, -0.1),
            "{d:?}"
        );
        let d = find("Ø38H12");
        assert_eq!(d.dimension.kind, edocr::parse::DimKind::Diameter, "{d:?}");
        assert!(close(d.dimension.nominal, 38.0), "{d:?}");
        assert_eq!(d.dimension.fit.as_deref(), Some("H12"), "{d:?}");
        assert!(
            close(d.dimension.upper, 0.25) && close(d.dimension.lower, 0.0),
            "{d:?}"
        );
    }

    /// Short numbers set vertically (reading upwards, as a vertical dimension's text
    /// is) whose detector box is about as wide as tall: read turned, not lying on
    /// their side. A synthetic page: each number drawn level, turned 90° and pasted
    /// beside a vertical dimension line. (`7.5`'s box is under 1.5 times as tall as
    /// wide: the `ocr` stage reads it lying down, as `2`.)
    #[test]
    fn short_vertical_numbers_are_read_turned() {
        use opencv::core::{self as cvcore, Mat, Point, Rect, Scalar, CV_8UC1};
        use opencv::imgproc;
        use opencv::prelude::*;
        let mut page =
            Mat::new_rows_cols_with_default(900, 1200, CV_8UC1, Scalar::all(255.0)).unwrap();
        let texts = ["5.8", "3.0", "(20)", "7.5"];
        for (i, t) in texts.iter().enumerate() {
            let mut level =
                Mat::new_rows_cols_with_default(50, 110, CV_8UC1, Scalar::all(255.0)).unwrap();
            imgproc::put_text(
                &mut level,
                t,
                Point::new(4, 40),
                imgproc::FONT_HERSHEY_SIMPLEX,
                1.3,
                Scalar::all(0.0),
                3,
                imgproc::LINE_AA,
                false,
            )
            .unwrap();
            let mut turned = Mat::default();
            cvcore::rotate(&level, &mut turned, cvcore::ROTATE_90_COUNTERCLOCKWISE).unwrap();
            let (x, y) = (200 + 250 * i as i32, 300);
            let mut roi = Mat::roi_mut(&mut page, Rect::new(x, y, 50, 110)).unwrap();
            turned.copy_to(&mut roi).unwrap();
            // The dimension line beside the text, with its extension lines.
            imgproc::line(
                &mut page,
                Point::new(x + 62, y - 80),
                Point::new(x + 62, y + 190),
                Scalar::all(0.0),
                2,
                imgproc::LINE_8,
                0,
            )
            .unwrap();
        }
        let lines = ocr::run(
            &ocr::Params::default(),
            engine(),
            &ocr::GrayPage {
                index: 0,
                image: &page,
            },
        )
        .unwrap()
        .lines;
        let out =
            edocr::run_on_page(&edocr::Params::default(), engine(), 0, &page, &lines).unwrap();
        let read: Vec<String> = out
            .dimensions
            .iter()
            .map(|d| normalise_for_cer(&d.dimension.raw))
            .collect();
        for want in ["5.8", "3.0", "(20)", "7.5"] {
            assert!(read.iter().any(|r| r == want), "{want} not in {read:?}");
        }
    }

    /// The segment model on the real drawings: class counts not degenerate (the
    /// replaced system labelled 788 of 804 components `text` and none `contour`), and
    /// the ground-truth dimension boxes covered by `text`/`dimension` components:
    /// `cargo test -p drawpipe-workers --release --lib eval::tests::segment_on_real -- --nocapture`
    #[test]
    fn segment_on_real_drawings() {
        use crate::stages::segment;
        let model =
            segment::SegmentModel::load(&crate::ort_env::models_dir(), crate::ort_env::Device::Cpu)
                .expect("the committed segment model");
        let checks = segment_check(&fixtures(), &model).unwrap();
        assert_eq!(checks.len(), 3);
        let (mut boxes, mut covered) = (0, 0);
        for c in &checks {
            let n = c.counts.contour + c.counts.text + c.counts.dimension;
            println!(
                "{}: {n} components: contour {} text {} dimension {}; dimension boxes covered {}/{}",
                c.name, c.counts.contour, c.counts.text, c.counts.dimension, c.covered, c.dimension_boxes
            );
            // No class takes more than 90 % of the components, and contours exist.
            for k in [c.counts.contour, c.counts.text, c.counts.dimension] {
                assert!(
                    k * 10 < n * 9,
                    "{}: degenerate counts {:?}",
                    c.name,
                    c.counts
                );
            }
            assert!(
                c.counts.contour * 20 > n,
                "{}: almost no contour {:?}",
                c.name,
                c.counts
            );
            boxes += c.dimension_boxes;
            covered += c.covered;
        }
        println!("dimension boxes covered by text/dimension components: {covered}/{boxes}");
        assert!(covered * 10 >= boxes * 7, "{covered}/{boxes}");
    }

    /// The edocr stage on drawings it was not developed on: the generator's, with its
    /// structured ground truth (`tests/fixtures/synthetic/`): detection bounds, and
    /// the parsed fields of every matched dimension against the generator's own.
    /// `cargo test -p drawpipe-workers --release --lib eval::tests::edocr_on_synthetic -- --nocapture`
    #[test]
    fn edocr_on_synthetic_drawings() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/synthetic");
        let report = eval_dir(
            &dir,
            engine(),
            &ocr::Params::default(),
            &edocr::Params::default(),
            true,
        )
        .unwrap();
        println!("{report}");
        let t = report.total();
        assert_eq!(t.truths, 36);
        assert!(
            t.precision() >= 0.85 && t.recall() >= 0.85,
            "P {} R {}",
            t.precision(),
            t.recall()
        );
        // Parsed fields: kind and nominal of each matched pair against the generator's.
        let (mut same, mut compared, mut dev_same, mut dev_compared) = (0, 0, 0, 0);
        for d in &report.drawings {
            let stem = d.name.trim_end_matches(".png");
            let truth: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{stem}.json"))).unwrap(),
            )
            .unwrap();
            for (truth_text, read) in &d.pairs {
                let Some(g) = truth["dimensions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|g| g["text"].as_str().unwrap().replace('/', " ") == *truth_text)
                else {
                    continue;
                };
                let Ok(p) = edocr::parse::parse_dimension(&edocr::parse::normalise(read), false)
                else {
                    println!("  unparsed {read:?} for {truth_text:?}");
                    compared += 1;
                    continue;
                };
                compared += 1;
                let kind = serde_json::to_value(&p.kind).unwrap();
                let close = |a: Option<f64>, b: &serde_json::Value| match (a, b.as_f64()) {
                    (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                    (None, None) => true,
                    _ => false,
                };
                if kind == g["kind"] && close(p.nominal, &g["nominal"]) {
                    same += 1;
                } else {
                    println!(
                        "  {truth_text:?} read {read:?}: {:?} {:?} vs {} {}",
                        p.kind, p.nominal, g["kind"], g["nominal"]
                    );
                }
                if !g["upper"].is_null() {
                    dev_compared += 1;
                    if close(p.upper, &g["upper"]) && close(p.lower, &g["lower"]) {
                        dev_same += 1;
                    }
                }
            }
        }
        println!("kind and nominal agree on {same}/{compared} matched dimensions; deviations on {dev_same}/{dev_compared}");
        assert!(
            compared >= 30 && same * 100 >= compared * 85,
            "{same}/{compared}"
        );
    }

    /// The detector on the three real drawings: the share of ground-truth dimension
    /// boxes overlapped (IoU ≥ 0.2) by a dimension-class detection, printed per drawing:
    /// `cargo test -p drawpipe-workers --release --lib eval::tests::detect_on_real -- --nocapture`
    /// With `DRAWPIPE_DETECT_REAL_JSON=FILE` (relative to the repository root) it also writes
    /// the figures there, in the form
    /// `models/training/detect/report.py --real-drawings` puts into the model card.
    #[test]
    fn detect_on_real_drawings() {
        use crate::stages::detect;
        let model =
            detect::DetectModel::load(&crate::ort_env::models_dir(), crate::ort_env::Device::Cpu)
                .expect("the committed detect model");
        let checks_default = detect_check(&fixtures(), &model, &detect::Params::default()).unwrap();
        assert_eq!(checks_default.len(), 3);
        let (mut boxes, mut hit) = (0, 0);
        for c in &checks_default {
            println!(
                "{}: {} detections ({} dimension-class), GT dimension boxes overlapped {}/{} ({:.0} ms)",
                c.name, c.detections, c.dimension_detections, c.overlapped, c.dimension_boxes, c.ms
            );
            boxes += c.dimension_boxes;
            hit += c.overlapped;
        }
        println!("GT dimension boxes overlapped by a dimension-class detection: {hit}/{boxes}");
        assert_eq!(boxes, 35);
        // The issue asks for 80 % (28/35): the committed model (models/detect/MODEL_CARD.md)
        // reaches 30/35 at the default confidence.
        assert!(hit >= 28, "{hit}/{boxes}");
        // For the record: the same at a lower confidence.
        let low = detect::Params {
            confidence: 0.15,
            ..detect::Params::default()
        };
        let checks = detect_check(&fixtures(), &model, &low).unwrap();
        let hit_low: usize = checks.iter().map(|c| c.overlapped).sum();
        println!("at confidence 0.15: {hit_low}/{boxes}");
        if let Some(path) = std::env::var_os("DRAWPIPE_DETECT_REAL_JSON") {
            // Relative to the repository root (cargo runs tests in the crate's directory).
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap();
            let path = root.join(path);
            let report = serde_json::json!({
                "command": "DRAWPIPE_DETECT_REAL_JSON=FILE cargo test -p drawpipe-workers --release --lib eval::tests::detect_on_real -- --nocapture",
                // f32 thresholds as the decimals they were written as (0.35, not 0.3499…)
                "confidence": format!("{}", detect::Params::default().confidence).parse::<f64>().unwrap(),
                "low_confidence": format!("{}", low.confidence).parse::<f64>().unwrap(),
                "boxes": boxes,
                "overlapped": hit,
                "overlapped_low": hit_low,
                "drawings": checks_default.iter().map(|c| serde_json::json!({
                    "name": c.name, "boxes": c.dimension_boxes, "overlapped": c.overlapped,
                })).collect::<Vec<_>>(),
            });
            std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap() + "\n")
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            println!("wrote {}", path.display());
        }
    }

    /// `detect` in bf16 (the default `auto` where this CPU has native bf16) overlaps
    /// as many truth dimension boxes as the 28 of 35 asked of f32, and finds what f32
    /// finds: at least 90 % of f32's detections on the three drawings have a bf16 one
    /// of the same class at IoU ≥ 0.5. Without native bf16, `auto` is f32.
    #[test]
    fn detect_bf16_finds_what_f32_finds() {
        use crate::stages::detect::{self, DetectModel};
        use crate::stages::ocr::Precision;
        let models = crate::ort_env::models_dir();
        let cpu = crate::ort_env::Device::Cpu;
        let auto = DetectModel::load_with(&models, cpu, Precision::Auto).unwrap();
        if crate::inference::ov_env::native_bf16().is_none() {
            assert_eq!(auto.precision(), Precision::F32);
            eprintln!("this CPU has no native bf16: the bf16 comparison did not run");
            return;
        }
        assert_eq!(auto.precision(), Precision::Bf16, "{}", auto.device_reason);
        let f32 = DetectModel::load_with(&models, cpu, Precision::F32).unwrap();
        let params = detect::Params::default();
        let hit: usize = detect_check(&fixtures(), &auto, &params)
            .unwrap()
            .iter()
            .map(|c| c.overlapped)
            .sum();
        assert!(hit >= 28, "bf16 overlapped {hit} of 35 truth boxes");
        let (mut total, mut kept) = (0, 0);
        for (image, _) in labelled_images(&fixtures()).unwrap() {
            use opencv::prelude::*;
            let img = opencv::imgcodecs::imread(
                &image.to_string_lossy(),
                opencv::imgcodecs::IMREAD_GRAYSCALE,
            )
            .unwrap();
            let (w, h) = (img.cols() as usize, img.rows() as usize);
            let run = |m: &DetectModel| {
                detect::run_on_page(&params, m, 0, img.data_bytes().unwrap(), w, h).unwrap()
            };
            let (a, b) = (run(&f32), run(&auto));
            total += a.len();
            kept += a
                .iter()
                .filter(|x| {
                    b.iter()
                        .any(|y| y.class_id == x.class_id && geometry::iou(&x.bbox, &y.bbox) >= 0.5)
                })
                .count();
        }
        eprintln!(
            "bf16: {hit}/35 truth boxes overlapped; {kept} of f32's {total} detections found again"
        );
        assert!(total >= 30, "f32 found only {total}");
        assert!(kept * 10 >= total * 9, "bf16 found {kept} of f32's {total}");
    }
}
