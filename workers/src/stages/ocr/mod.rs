//! `ocr`: full-page text OCR with PaddleOCR's PP-OCR models through ONNX Runtime:
//! DB text detection, optional 0/180° angle classification, CTC recognition.
//!
//! Pipeline for one 8-bit grayscale page, mirroring rapidocr 3.10 (the Python
//! package the models come from) step by step, so its outputs can be compared:
//! 1. detection input: the page (or each tile of a large page, see [`Params::tile`])
//!    resized by [`det_resize_dims`] to multiples of 32, normalised to [-1, 1],
//!    the gray channel copied into all three;
//! 2. probability map → binary map (`> thresh`, 2×2 dilation) → contours →
//!    minimum-area rectangles → mean probability inside (`box_thresh`) → unclip →
//!    scaled back to page pixels ([`boxes_from_prob_map`]);
//! 3. boxes in reading order ([`sort_reading_order`]); each is cut out of the
//!    full-resolution page by a perspective warp and turned upright when tall
//!    ([`crop_line`]);
//! 4. angle classifier (batches of [`Params::cls_batch_size`]) flips lines it reads
//!    as upside down;
//! 5. recogniser on crops sorted by aspect ratio, batched, height 48, padded to the
//!    batch's widest; greedy CTC decoding with the dictionary stored in the
//!    recognition model's metadata ([`ctc_decode`]).
//!
//! Invariants: every polygon and bbox is in pixels of the page as given, clipped to
//! it; the model files are checked against `models/ppocr/manifest.json` before any is
//! loaded. Pre- and post-processing are free functions tested without a model; the
//! models sit behind the small [`Model`] trait.

mod callout;
mod detect_post;
mod engine;
mod recognise;
mod stage;
mod tile;

use std::path::Path;
use std::time::Instant;

use drawpipe_core::StageError;
use opencv::core::{self, Mat};
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ort_env::Device;

pub use crate::geometry::{bbox_of, iou};
pub use crate::inference::{Model, OrtModel};
pub use callout::CalloutReader;
pub use detect_post::{
    boxes_from_prob_map, clipper_offset_round, det_resize_dims, normalise_gray_chw,
    order_clockwise, sort_reading_order, unclip, DetBox,
};
pub(crate) use engine::Bf16Env;
pub use engine::{dictionary_from_metadata, verified_model_files, OcrEngine};
pub use recognise::{crop_line, ctc_decode, paddle_widths, turns_tall};
pub use stage::{layer_lines, read_jobs, Ocr, OcrInput, StageOutput};
pub use tile::{merge_tiled_boxes, tile_rects};

/// How the detector's input side limit applies (PaddleOCR's `limit_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitType {
    /// Shrink so that the longer side is at most `det_limit_side_len`.
    Max,
    /// Enlarge so that the shorter side is at least `det_limit_side_len`.
    Min,
    /// Native resolution (only rounded to multiples of 32).
    None,
}

/// Overlapping tiles for large pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TileParams {
    /// Tile when the page's longer side is at least this, pixels; 0 (the default)
    /// disables tiling. 3000 tiles A3 scans at 300 DPI.
    pub min_long_side: u32,
    /// ...and its shorter side at least this (default 2000).
    pub min_short_side: u32,
    /// Tile side, pixels (default 1280); each tile is read at native resolution.
    pub size: u32,
    /// Overlap between neighbouring tiles, pixels (default 128).
    pub overlap: u32,
}

impl Default for TileParams {
    fn default() -> Self {
        // Off by default: see the measurement on `Params::default`.
        TileParams {
            min_long_side: 0,
            min_short_side: 2000,
            size: 1280,
            overlap: 128,
        }
    }
}

/// The arithmetic the CPU runs a model in ([`Params::precision`] for the recogniser
/// and the classifier, [`Params::det_precision`] for the detector), chosen when the
/// engine loads.
///
/// ONNX Runtime's x86 CPU kernels compute in f32 only. On a CPU with native bf16
/// (AVX-512 BF16 or AMX) OpenVINO's CPU plugin runs the same `.onnx` files in bf16
/// about twice as fast: PP-OCRv6 rec, a batch of six 48×320 lines, 72–79 ms in f32 and
/// 42 ms in bf16 (2 threads, AMD EPYC with avx512_bf16, 2026-11-28;
/// `tools/precision-probe.sh` measures these and the box shifts below). The recogniser
/// is two thirds of the stage's time. bf16 keeps 8 bits of mantissa: about 1 line in
/// 100 reads differently (`tools/ocr-bench.sh` prints the agreement), so the
/// reference path stays available as `f32`. The detector stays f32 unless asked: in
/// bf16 it is 1.5–1.8× faster (330 → 180–220 ms on a 1536×1088 page), but of 364
/// boxes on six drawings only 78 % kept every edge within 1 px and 98 % within 4 px,
/// 3 split or merged, and Candle_holder's `38` grew by 10 px. CUDA always runs f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// bf16 when the engine runs on a CPU with native bf16 and OpenVINO is fetched,
    /// else f32; the choice and its reason are logged.
    #[default]
    Auto,
    /// f32 through ONNX Runtime: rapidocr's arithmetic.
    F32,
    /// bf16 through OpenVINO on the CPU; an error where the CPU has no native bf16
    /// or the runtime is missing.
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auto" => Ok(Precision::Auto),
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(format!(
                "unknown ocr precision '{other}'; expected auto, f32 or bf16"
            )),
        }
    }
}

/// Load-time settings of the OCR engine, one per worker (`drawpipe worker
/// --ocr-precision`, …): where and in what arithmetic its models run. Not per job.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// `auto`, `cpu` or `cuda:N` (default auto).
    pub device: Device,
    /// The recogniser's and the classifier's arithmetic: `auto`, `f32` or `bf16`
    /// (default auto).
    pub precision: Precision,
    /// The detector's: `auto`, `f32` or `bf16` (default f32: see [`Precision`]).
    pub det_precision: Precision,
    /// The detector's in `edocr`'s native-resolution sweep for text the page pass
    /// missed ([`OcrEngine::detect_sweep`]): `auto`, `f32` or `bf16` (default auto).
    /// The sweep reads 4–7 tiles of 1280² where the page pass reads one 1536-px
    /// image, and what it finds is only added (a box no page line covers), so a box
    /// edge a few pixels off matters less there; where it differs from
    /// `det_precision` a second detector is loaded for it.
    pub sweep_precision: Precision,
    /// Intra-op threads per model; 0 lets ONNX Runtime use one per physical core.
    pub threads: usize,
    /// Single-threaded recogniser sessions run side by side on the CPU: 0 one per
    /// thread, 1 (the default) a single session with all the threads. Off by default:
    /// on the 2 shared cores here its gain could not be told from the noise
    /// (`drawpipe-ocr-bench --rec-lanes 0` against `--rec-lanes 1`).
    pub rec_lanes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            device: Device::Auto,
            precision: Precision::Auto,
            det_precision: Precision::F32,
            sweep_precision: Precision::Auto,
            threads: 0,
            rec_lanes: 1,
        }
    }
}

/// Tunables, overridable per job under `options.ocr`. Defaults are rapidocr 3.10's
/// unless stated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Detector input side limit, pixels (default 1536 with [`LimitType::Max`]; see
    /// the measurement on [`Params::default`]).
    pub det_limit_side_len: u32,
    pub det_limit_type: LimitType,
    /// Probability above which a pixel is text (default 0.3).
    pub thresh: f32,
    /// Mean probability a box needs to be kept (default 0.5).
    pub box_thresh: f32,
    /// Outward offset of each box: area × ratio / perimeter (default 1.6).
    pub unclip_ratio: f32,
    /// Boxes with a shorter side below this, in detector pixels, are dropped (default 3).
    pub min_box_size: f32,
    /// Most contours examined per detector input (default 1000).
    pub max_candidates: usize,
    /// Run the 0/180° classifier (default true).
    pub use_angle_cls: bool,
    /// Classifier probability needed to flip a line (default 0.9).
    pub cls_thresh: f32,
    pub cls_batch_size: usize,
    /// Lines per recogniser call (default 6).
    pub rec_batch_size: usize,
    /// Lines per recogniser inference (default 0: `rec_batch_size`). `rec_batch_size`
    /// sets how lines are padded, as PaddleOCR batches them; this sets how many lines
    /// of one padded width run together, and changes no reading. On a GPU larger
    /// batches use the device better (`tools/gpu-check.sh --big-batch`).
    pub rec_infer_batch: usize,
    /// Narrowest recogniser input, pixels at height 48: a batch is padded to its
    /// widest line or to this, whichever is wider. PaddleOCR pads to 320; see
    /// [`Params::default`] for why the default is lower.
    pub rec_min_width: u32,
    /// Lines read with a lower confidence are dropped (default 0.5).
    pub text_score: f32,
    pub tile: TileParams,
}

impl Default for Params {
    /// Whole page with the longer side at 1536 px, no tiles: measured on the three
    /// fixture drawings (1653×2339 and two 3308×2339; 35 dimension texts, 47 boxes)
    /// by the `measure_detection_modes` test, release build, 2 cores shared with
    /// other builds (times are indicative only), 2026-11-28:
    ///
    /// | detector input          | texts read | boxes found | time, 3 images |
    /// |-------------------------|-----------:|------------:|---------------:|
    /// | longer side 960         | 27 | 46 |  4.5 s |
    /// | longer side 1536        | 28 | 45 |  7.1 s |
    /// | longer side 2048        | 24 | 46 | 10.0 s |
    /// | native                  | 25 | 44 | 36.6 s |
    /// | tiles 1280, 128 overlap | 27 | 47 | 44.8 s |
    /// | tiles 960, 128 overlap  | 27 | 45 | 38.9 s |
    ///
    /// On the two large drawings alone, 1536 and 1280-px tiles both read 16 of 23
    /// texts (tiles find 34 of 34 boxes, 1536 finds 32) at a fraction of the time.
    /// Larger detector inputs make DB split rotated and spaced dimension text
    /// (`38` → `3`, `8`), which costs more than the resolution gains.
    fn default() -> Self {
        Params {
            det_limit_side_len: 1536,
            det_limit_type: LimitType::Max,
            thresh: 0.3,
            box_thresh: 0.5,
            unclip_ratio: 1.6,
            min_box_size: 3.0,
            max_candidates: 1000,
            use_angle_cls: true,
            cls_thresh: 0.9,
            cls_batch_size: 6,
            rec_batch_size: 6,
            rec_infer_batch: 0,
            rec_min_width: 320,
            text_score: 0.5,
            tile: TileParams::default(),
        }
    }
}

impl Params {
    /// Lines per recogniser inference: [`Params::rec_infer_batch`], or
    /// [`Params::rec_batch_size`] when that is 0.
    pub fn infer_batch(&self) -> usize {
        match self.rec_infer_batch {
            0 => self.rec_batch_size.max(1),
            n => n,
        }
    }
}

/// The stage's input: one 8-bit grayscale page (`CV_8UC1`), as `preprocess` decodes it.
#[derive(Clone, Copy)]
pub struct GrayPage<'a> {
    /// Page index, copied into every line.
    pub index: u32,
    pub image: &'a Mat,
}

/// Where a line's text came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    /// Read from the page's pixels.
    #[default]
    Ocr,
    /// The PDF's own text layer: exact characters.
    TextLayer,
}

impl TextSource {
    pub fn is_ocr(&self) -> bool {
        *self == TextSource::Ocr
    }
}

/// One line of text read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextLine {
    pub text: String,
    /// Mean of the per-character probabilities, in [0, 1].
    pub confidence: f32,
    /// Corners top-left, top-right, bottom-right, bottom-left, page pixels.
    pub polygon: [[f32; 2]; 4],
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f32; 4],
    pub page: u32,
    /// `ocr` (omitted) or `text_layer`.
    #[serde(default, skip_serializing_if = "TextSource::is_ocr")]
    pub source: TextSource,
}

/// Where the time went, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub det_ms: f64,
    pub cls_ms: f64,
    pub rec_ms: f64,
    /// Everything else: resizing, normalisation, box extraction, cropping, decoding.
    pub other_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub lines: Vec<TextLine>,
    /// `cpu` or `cuda:N`: where the models ran.
    pub device: String,
    pub timings: Timings,
}

/// Loads the engine with the default settings and reads one image file per
/// `params`: a one-shot convenience; keep an [`OcrEngine`] to read many.
pub fn ocr_file(params: &Params, path: &Path) -> Result<Output, StageError> {
    OcrEngine::load(&EngineConfig::default())?.read_file(params, path)
}

/// Runs the stage on one page.
///
/// # Errors
/// [`StageError::Invalid`] for an empty or non-8-bit-grayscale page; model failures
/// otherwise.
pub fn run(params: &Params, engine: &OcrEngine, page: &GrayPage) -> Result<Output, StageError> {
    run_fused(engine, &[(params, *page)])
        .pop()
        .expect("one result per page")
}

/// Reads several pages, of one job or of many, with fused inference: each page is
/// detected on its own (pages differ in size), then the lines of all pages go
/// through one classifier pass and one recogniser pass. A line reads as it would on
/// its own page: its padded width comes from its own page's batching
/// ([`paddle_widths`]) and nothing else in a batch touches it; what fuses is the
/// batches, which the many short lines of different pages fill together (one
/// partial batch per width instead of one per page). Pages whose classifier or
/// recogniser settings differ fuse only with their own kind.
///
/// Returns one result per page, in order: a bad page fails alone; a model failure
/// fails the pages it was reading. The fused passes' time is shared among the
/// pages in proportion to their lines.
pub fn run_fused(
    engine: &OcrEngine,
    items: &[(&Params, GrayPage)],
) -> Vec<Result<Output, StageError>> {
    struct Page {
        boxes: Vec<DetBox>,
        crops: Vec<Mat>,
        t: Timings,
    }
    let detect = |params: &Params, page: &GrayPage| -> Result<Page, StageError> {
        let img = page.image;
        if img.empty() || img.typ() != core::CV_8UC1 {
            return Err(StageError::Invalid(format!(
                "ocr: page {} must be a non-empty 8-bit grayscale image, got {}×{} of type {}",
                page.index,
                img.cols(),
                img.rows(),
                img.typ()
            )));
        }
        let mut t = Timings::default();
        let boxes = engine.detect(params, img, &mut t)?;
        let t0 = Instant::now();
        let crops = boxes
            .iter()
            .map(|b| crop_line(img, &b.points))
            .collect::<Result<Vec<_>, _>>()?;
        t.other_ms += ms(t0);
        Ok(Page { boxes, crops, t })
    };
    let mut pages: Vec<Result<Page, StageError>> = items
        .iter()
        .map(|(params, page)| detect(params, page))
        .collect();
    let mut reads: Vec<Vec<(String, f32)>> = vec![Vec::new(); items.len()];

    // Pages fuse when their classifier and recogniser settings agree.
    let key = |p: &Params| {
        (
            p.use_angle_cls,
            p.cls_batch_size,
            p.cls_thresh.to_bits(),
            p.rec_batch_size,
            p.infer_batch(),
            p.rec_min_width,
        )
    };
    let mut groups: std::collections::BTreeMap<_, Vec<usize>> = Default::default();
    for (i, page) in pages.iter().enumerate() {
        if matches!(page, Ok(p) if !p.crops.is_empty()) {
            groups.entry(key(items[i].0)).or_default().push(i);
        }
    }
    for members in groups.into_values() {
        let params = items[members[0]].0;
        let mut crops: Vec<Mat> = Vec::new();
        let mut counts = Vec::with_capacity(members.len());
        let mut widths = Vec::new();
        for &i in &members {
            if let Ok(p) = &mut pages[i] {
                counts.push(p.crops.len());
                crops.append(&mut p.crops);
            }
        }
        let mut t = Timings::default();
        let fused = (|| {
            if params.use_angle_cls {
                engine.classify(params, &mut crops, &mut t)?;
            }
            // Widths per page, after the classifier (it only turns crops by 180°).
            let mut start = 0;
            for &n in &counts {
                widths.extend(paddle_widths(params, &crops[start..start + n]));
                start += n;
            }
            let refs: Vec<&Mat> = crops.iter().collect();
            engine.recognise_at(params.infer_batch(), &refs, &widths, &mut t)
        })();
        let total = crops.len().max(1) as f64;
        let mut done = 0;
        for (&i, &n) in members.iter().zip(&counts) {
            match &fused {
                Ok(all) => {
                    reads[i] = all[done..done + n].to_vec();
                    if let Ok(p) = &mut pages[i] {
                        let share = n as f64 / total;
                        p.t.cls_ms += t.cls_ms * share;
                        p.t.rec_ms += t.rec_ms * share;
                        p.t.other_ms += t.other_ms * share;
                    }
                }
                Err(e) => pages[i] = Err(StageError::Other(e.to_string().into())),
            }
            done += n;
        }
    }

    pages
        .into_iter()
        .zip(reads)
        .zip(items)
        .map(|((page, read), (params, gray))| {
            let page = page?;
            let lines = page
                .boxes
                .iter()
                .zip(read)
                .filter(|(_, (text, conf))| !text.trim().is_empty() && *conf >= params.text_score)
                .map(|(b, (text, confidence))| TextLine {
                    text,
                    confidence,
                    polygon: b.points,
                    bbox: bbox_of(&b.points),
                    page: gray.index,
                    source: TextSource::Ocr,
                })
                .collect();
            Ok(Output {
                lines,
                device: engine.device.clone(),
                timings: page.t,
            })
        })
        .collect()
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn continuous(m: &Mat) -> Result<std::borrow::Cow<'_, Mat>, StageError> {
    if m.is_continuous() {
        Ok(std::borrow::Cow::Borrowed(m))
    } else {
        Ok(std::borrow::Cow::Owned(m.try_clone().map_err(cv)?))
    }
}

fn cv(e: opencv::Error) -> StageError {
    StageError::Other(format!("opencv: {e}").into())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    //! End-to-end tests of the stage, and the helpers the other modules' tests share.

    use super::*;
    use crate::geometry::{area, intersection};
    use opencv::core::Scalar;
    use opencv::imgcodecs;
    use std::path::PathBuf;
    use std::sync::OnceLock;

    pub(super) fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings")
    }

    /// One engine for all model tests: loading takes seconds.
    pub(super) fn engine() -> &'static OcrEngine {
        static ENGINE: OnceLock<OcrEngine> = OnceLock::new();
        ENGINE.get_or_init(|| {
            let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
            OcrEngine::load_from(&models, Device::Cpu, 0).unwrap_or_else(|e| {
                panic!("cannot load the ocr models: {e} (models/fetch.sh fetches them)")
            })
        })
    }

    pub(super) fn dict(chars: &str) -> Vec<String> {
        dictionary_from_metadata(&chars.chars().map(|c| format!("{c}\n")).collect::<String>())
    }

    pub(super) fn det(x: f32, y: f32, w: f32, h: f32) -> DetBox {
        DetBox {
            points: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
            score: 0.9,
            cut: false,
        }
    }

    /// A page none of the other tests read (Aufspannung.PDF at 300 dpi, portrait) is
    /// read as rapidocr 3.10 reads it with the same models in f32 (one spacing apart, below): every line's
    /// text and every corner, from the JSON beside it (its command inside). Boxes one
    /// pixel off had changed 3 of its 61 readings before `unclip` followed pyclipper.
    #[test]
    fn reads_an_unseen_page_exactly_as_rapidocr() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ocr");
        let want: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("Aufspannung_300dpi.rapidocr.json")).unwrap(),
        )
        .unwrap();
        let want: Vec<(String, Vec<[i64; 2]>)> = want["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let poly = l["polygon"].as_array().unwrap();
                let poly = poly
                    .iter()
                    .map(|p| [p[0].as_i64().unwrap(), p[1].as_i64().unwrap()]);
                (l["text"].as_str().unwrap().to_string(), poly.collect())
            })
            .collect();
        let params = Params::default();
        let config = EngineConfig {
            device: Device::Cpu,
            precision: Precision::F32,
            threads: 2,
            ..EngineConfig::default()
        };
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let engine = OcrEngine::load_with(&models, &config).expect("models: run models/fetch.sh");
        let got: Vec<(String, Vec<[i64; 2]>)> = engine
            .read_file(&params, &dir.join("Aufspannung_300dpi.png"))
            .unwrap()
            .lines
            .into_iter()
            .map(|l| {
                let poly = l
                    .polygon
                    .iter()
                    .map(|p| [p[0].round() as i64, p[1].round() as i64]);
                (l.text, poly.collect())
            })
            .collect();
        assert_eq!(want.len(), 61);
        let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
        let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
        // One difference by design: where a glyph the recogniser has no class for
        // stands between two characters (the `⌀` of `2x⌀3.40`), our decoding puts a
        // space (`recognise::ctc_decode`); rapidocr joins them.
        let bare = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let respaced: Vec<(&str, &str)> = missing
            .iter()
            .filter_map(|w| {
                extra
                    .iter()
                    .find(|g| g.1 == w.1 && bare(&g.0) == bare(&w.0))
                    .map(|g| (w.0.as_str(), g.0.as_str()))
            })
            .collect();
        assert_eq!(respaced, [("2x3.40±0.10", "2x 3.40±0.10")]);
        assert!(
            missing.len() == 1 && extra.len() == 1,
            "rapidocr only: {missing:?}\nours only: {extra:?}"
        );
    }

    /// pyclipper 1.4.0's offsets of four boxes (cv2.boxPoints of the rectangles named),
    #[test]
    fn refuses_a_colour_page() {
        let m = Mat::new_rows_cols_with_default(10, 10, core::CV_8UC3, Scalar::all(0.0)).unwrap();
        let e =
            OcrEngine::from_models(Box::new(Never), Box::new(Never), Box::new(Never), dict("a"));
        match run(
            &Params::default(),
            &e,
            &GrayPage {
                index: 2,
                image: &m,
            },
        ) {
            Err(StageError::Invalid(msg)) => {
                assert!(msg.contains("page 2") && msg.contains("grayscale"), "{msg}")
            }
            other => panic!("expected Invalid, got {:?}", other.map(|o| o.lines.len())),
        }
    }

    struct Never;
    impl Model for Never {
        fn run_with(
            &self,
            _: [usize; 4],
            _: Vec<f32>,
            _: &mut crate::inference::ReadOutput<'_>,
        ) -> Result<(), StageError> {
            panic!("no model should run")
        }
    }

    /// Fused inference over several pages reads each page as reading it alone does:
    /// the same lines, boxes and (to rounding) confidences; a bad page fails alone.
    #[test]
    fn fused_pages_read_as_they_do_alone() {
        let e = engine();
        let params = Params::default();
        let read = |name: &str| {
            imgcodecs::imread(
                &fixtures().join(name).to_string_lossy(),
                imgcodecs::IMREAD_GRAYSCALE,
            )
            .unwrap()
        };
        let (a, b) = (read("Candle_holder.jpg"), read("example_dwg.png"));
        let colour =
            Mat::new_rows_cols_with_default(10, 10, core::CV_8UC3, Scalar::all(0.0)).unwrap();
        let pages = [
            GrayPage {
                index: 0,
                image: &a,
            },
            GrayPage {
                index: 1,
                image: &colour,
            },
            GrayPage {
                index: 2,
                image: &b,
            },
        ];
        let items: Vec<(&Params, GrayPage)> = pages.iter().map(|p| (&params, *p)).collect();
        let fused = run_fused(e, &items);
        assert_eq!(fused.len(), 3);
        assert!(matches!(&fused[1], Err(StageError::Invalid(m)) if m.contains("page 1")));
        for (k, page) in [(0, &pages[0]), (2, &pages[2])] {
            let alone = run(&params, e, page).unwrap().lines;
            let together = fused[k].as_ref().unwrap().lines.clone();
            assert!(alone.len() >= 40, "page {k}: {} lines", alone.len());
            assert_eq!(alone.len(), together.len(), "page {k}");
            for (x, y) in alone.iter().zip(&together) {
                assert_eq!((&x.text, x.polygon, x.page), (&y.text, y.polygon, y.page));
                assert!(
                    (x.confidence - y.confidence).abs() < 1e-3,
                    "{:?}: {} vs {}",
                    x.text,
                    x.confidence,
                    y.confidence
                );
            }
        }
    }

    /// One ground-truth row of a fixture CSV: 8 corner coordinates, then the text
    /// (`other_info` for non-dimension text).
    struct Truth {
        bbox: [f32; 4],
        polygon: [[f32; 2]; 4],
        text: String,
    }

    fn truth(name: &str) -> Vec<Truth> {
        let csv = std::fs::read_to_string(fixtures().join(name)).unwrap();
        csv.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.splitn(9, ',').collect();
                let v: Vec<f32> = f[..8].iter().map(|x| x.trim().parse().unwrap()).collect();
                let polygon = [[v[0], v[1]], [v[2], v[3]], [v[4], v[5]], [v[6], v[7]]];
                Truth {
                    bbox: bbox_of(&polygon),
                    polygon,
                    text: f[8].trim().trim_matches('"').to_string(),
                }
            })
            .collect()
    }

    /// Text compared without spaces; the diameter sign, which stock PP-OCR reads
    /// as `0`, counts as `0`.
    fn norm(s: &str) -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| {
                if matches!(c, '⌀' | 'Ø' | 'ø' | '∅') {
                    '0'
                } else {
                    c
                }
            })
            .collect()
    }

    /// Lines lying mostly inside a ground-truth box (half their area or more), in
    /// reading order.
    fn lines_in<'a>(t: &Truth, lines: &'a [TextLine]) -> Vec<&'a TextLine> {
        lines
            .iter()
            .filter(|l| intersection(&l.bbox, &t.bbox) >= 0.5 * area(&l.bbox).min(area(&t.bbox)))
            .collect()
    }

    /// (dimension texts read, of; boxes with some line found, of).
    fn score(truths: &[Truth], lines: &[TextLine]) -> (usize, usize, usize, usize) {
        let (mut read, mut dims, mut found) = (0, 0, 0);
        for t in truths {
            let inside = lines_in(t, lines);
            found += usize::from(!inside.is_empty());
            if t.text != "other_info" {
                dims += 1;
                // Contained, not equal: the CSVs split `70 REF` into `70` and other_info.
                let joined: String = inside.iter().map(|l| norm(&l.text)).collect();
                read += usize::from(joined.contains(&norm(&t.text)));
            }
        }
        (read, dims, found, truths.len())
    }

    /// The tile-versus-resize measurement behind [`Params::default`]:
    /// `cargo test -p drawpipe-workers --release measure_detection_modes -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn measure_detection_modes() {
        let never = TileParams {
            min_long_side: 0,
            ..TileParams::default()
        };
        let always = TileParams {
            min_long_side: 1,
            min_short_side: 1,
            ..TileParams::default()
        };
        let modes: Vec<(&str, Params)> = vec![
            (
                "max 960",
                Params {
                    det_limit_side_len: 960,
                    tile: never.clone(),
                    ..Params::default()
                },
            ),
            (
                "max 1536",
                Params {
                    det_limit_side_len: 1536,
                    tile: never.clone(),
                    ..Params::default()
                },
            ),
            (
                "max 2048",
                Params {
                    det_limit_side_len: 2048,
                    tile: never.clone(),
                    ..Params::default()
                },
            ),
            (
                "native",
                Params {
                    det_limit_type: LimitType::None,
                    tile: never.clone(),
                    ..Params::default()
                },
            ),
            (
                "tiles 1280/128",
                Params {
                    tile: always.clone(),
                    ..Params::default()
                },
            ),
            (
                "tiles 960/128",
                Params {
                    tile: TileParams {
                        size: 960,
                        ..always.clone()
                    },
                    ..Params::default()
                },
            ),
        ];
        for (name, p) in &modes {
            let (mut tr, mut td, mut tf, mut tn, mut tms) = (0, 0, 0, 0, 0.0);
            let mut per = Vec::new();
            for img in ["Candle_holder", "BM_part", "example_dwg"] {
                let ext = if img == "example_dwg" { "png" } else { "jpg" };
                let t0 = Instant::now();
                let out = engine()
                    .read_file(p, &fixtures().join(format!("{img}.{ext}")))
                    .unwrap();
                let dt = ms(t0);
                let (r, d, f, n) = score(&truth(&format!("{img}.csv")), &out.lines);
                per.push(format!(
                    "{img}: read {r}/{d} found {f}/{n} lines {} {dt:.0} ms",
                    out.lines.len()
                ));
                (tr, td, tf, tn, tms) = (tr + r, td + d, tf + f, tn + n, tms + dt);
            }
            eprintln!(
                "{name:>14}: read {tr}/{td}, found {tf}/{tn}, {tms:.0} ms | {}",
                per.join(" | ")
            );
        }
    }

    /// The real models on a real drawing: the text of the dimensions the issue names,
    /// each in a box within 8 px per side of the ground truth in Candle_holder.csv
    /// (or IoU ≥ 0.5 with it). Fails with the fetch hint when models/fetch.sh has not
    /// run.
    #[test]
    fn reads_candle_holder_dimensions_where_they_are() {
        let out = engine()
            .read_file(&Params::default(), &fixtures().join("Candle_holder.jpg"))
            .unwrap();
        assert!(out.lines.len() >= 40, "only {} lines read", out.lines.len());
        let truths = truth("Candle_holder.csv");
        // Faithful readings: stock PP-OCR reads the diameter sign as `0`.
        let cases = [
            ("38", "38"),
            ("16", "16"),
            ("5", "5"),
            ("1x45°", "1x45°"),
            ("45,0°", "45,0°"),
            ("⌀38H12", "038 H12"),
            ("(25,5)", "(25,5)"),
        ];
        for (gt, read) in cases {
            for t in truths.iter().filter(|t| t.text == gt) {
                let best = out
                    .lines
                    .iter()
                    .filter(|l| l.text == read)
                    .max_by(|a, b| iou(&a.bbox, &t.bbox).total_cmp(&iou(&b.bbox, &t.bbox)))
                    .unwrap_or_else(|| {
                        panic!(
                            "{gt:?} (read as {read:?}) not found; lines: {:?}",
                            out.lines.iter().map(|l| &l.text).collect::<Vec<_>>()
                        )
                    });
                let g = t.bbox;
                let b = best.bbox;
                let sides = [
                    b[0] - g[0],
                    b[1] - g[1],
                    (b[0] + b[2]) - (g[0] + g[2]),
                    (b[1] + b[3]) - (g[1] + g[3]),
                ];
                let close = sides.iter().all(|d| d.abs() <= 8.0);
                assert!(
                    close || iou(&b, &g) >= 0.5,
                    "{gt:?}: box {b:?} far from the truth {g:?} (polygon {:?})",
                    t.polygon
                );
                assert!(best.confidence >= 0.5 && best.page == 0);
                // The polygon and the bbox agree.
                assert_eq!(bbox_of(&best.polygon), best.bbox);
            }
        }
        // Title block text (not in the CSV): present, upright, in the lower part.
        for text in ["2022001", "Ljushållare", "TMPS34/TMPT06"] {
            let l = out
                .lines
                .iter()
                .find(|l| l.text == text)
                .unwrap_or_else(|| panic!("{text:?} not read"));
            assert!(
                l.bbox[1] > 1900.0 && l.bbox[2] > l.bbox[3],
                "{text:?} at {:?}",
                l.bbox
            );
        }
    }

    /// Prints the dimension texts the default parameters miss on each fixture.
    #[test]
    #[ignore]
    fn dump_misses() {
        for img in ["Candle_holder.jpg", "BM_part.jpg", "example_dwg.png"] {
            let t0 = Instant::now();
            let out = engine()
                .read_file(&Params::default(), &fixtures().join(img))
                .unwrap();
            eprintln!(
                "{img}: {} lines in {:.0} ms, {:?}",
                out.lines.len(),
                ms(t0),
                out.timings
            );
            for t in truth(&img.replace(".jpg", ".csv").replace(".png", ".csv")) {
                let inside: Vec<&str> = lines_in(&t, &out.lines)
                    .iter()
                    .map(|l| l.text.as_str())
                    .collect();
                eprintln!("{img} {:?} {:?} -> {:?}", t.text, t.bbox, inside);
            }
        }
    }

    #[test]
    #[ignore]
    fn dump_candle_holder() {
        let p = Params::default();
        let t = Instant::now();
        let out = engine()
            .read_file(&p, &fixtures().join("Candle_holder.jpg"))
            .unwrap();
        eprintln!("{:.0} ms {:?}", ms(t), out.timings);
        for l in &out.lines {
            eprintln!("{:?} {:.3} {:?}", l.text, l.confidence, l.bbox);
        }
    }
}
