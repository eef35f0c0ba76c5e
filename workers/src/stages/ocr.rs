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

mod stage;
pub use stage::{read_jobs, Ocr, StageOutput};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use drawpipe_core::StageError;
use opencv::core::{Mat, Point, Point2f, RotatedRect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{core, imgcodecs, imgproc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ort_env::{self, Device, FETCH_HINT};
use crate::ov_env;

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
/// `scripts/precision-probe.sh` measures these and the box shifts below). The recogniser
/// is two thirds of the stage's time. bf16 keeps 8 bits of mantissa: about 1 line in
/// 100 reads differently (`scripts/ocr-bench.sh` prints the agreement), so the
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

/// Tunables, overridable per job under `options.ocr`. Defaults are rapidocr 3.10's
/// unless stated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// `auto`, `cpu` or `cuda:N` (default auto).
    pub device: Device,
    /// The recogniser's and the classifier's arithmetic: `auto`, `f32` or `bf16`
    /// (default auto), read when the engine loads.
    pub precision: Precision,
    /// The detector's: `auto`, `f32` or `bf16` (default f32: see [`Precision`]).
    pub det_precision: Precision,
    /// Intra-op threads per model; 0 lets ONNX Runtime use one per physical core.
    pub threads: usize,
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
    /// batches use the device better (`scripts/gpu-check.sh --big-batch`).
    pub rec_infer_batch: usize,
    /// Narrowest recogniser input, pixels at height 48: a batch is padded to its
    /// widest line or to this, whichever is wider. PaddleOCR pads to 320; see
    /// [`Params::default`] for why the default is lower.
    pub rec_min_width: u32,
    /// Single-threaded recogniser sessions run side by side on the CPU, read when the
    /// engine loads: 0 one per thread, 1 (the default) a single session with all the
    /// threads. Off by default: on the 2 shared cores here its gain could not be told
    /// from the noise (`drawpipe-ocr-bench --rec-lanes 0` against `--rec-lanes 1`).
    pub rec_lanes: usize,
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
            device: Device::Auto,
            precision: Precision::Auto,
            det_precision: Precision::F32,
            threads: 0,
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
            rec_lanes: 1,
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

/// A model: one NCHW f32 batch in, its first output out.
pub trait Model: Send + Sync {
    /// Runs on `shape` (`[n, c, h, w]`) and `data` (its row-major values) and lends
    /// the output's shape and values to `read` instead of copying them out: the
    /// recogniser's output is 18 710 floats per time step, about 18 MB per batch of
    /// six 320-pixel lines.
    fn run_with(
        &self,
        shape: [usize; 4],
        data: Vec<f32>,
        read: &mut dyn FnMut(&[usize], &[f32]) -> Result<(), StageError>,
    ) -> Result<(), StageError>;

    /// As [`Model::run_with`], returning a copy of the output's shape and values.
    fn run(&self, shape: [usize; 4], data: Vec<f32>) -> Result<(Vec<usize>, Vec<f32>), StageError> {
        let mut out = (Vec::new(), Vec::new());
        self.run_with(shape, data, &mut |s, v| {
            out = (s.to_vec(), v.to_vec());
            Ok(())
        })?;
        Ok(out)
    }
}

/// An ONNX Runtime session as a [`Model`]. Runs are serialised: a session already
/// uses every intra-op thread it was given.
pub struct OrtModel {
    name: String,
    session: Mutex<ort::session::Session>,
}

impl Model for OrtModel {
    fn run_with(
        &self,
        shape: [usize; 4],
        data: Vec<f32>,
        read: &mut dyn FnMut(&[usize], &[f32]) -> Result<(), StageError>,
    ) -> Result<(), StageError> {
        let other = |e: ort::Error| {
            StageError::Other(format!("{}: inference failed: {e}", self.name).into())
        };
        let input = ort::value::Tensor::from_array((shape, data)).map_err(other)?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs =
            ort_env::flush_denormals(|| session.run(ort::inputs![input])).map_err(other)?;
        let (shape, values) = outputs[0].try_extract_tensor::<f32>().map_err(other)?;
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        read(&shape, values)
    }
}

/// A built ONNX Runtime session as a boxed [`Model`] named `name`.
fn ort_model(name: &str, s: ort_env::BuiltSession) -> Box<dyn Model> {
    Box::new(OrtModel {
        name: name.to_string(),
        session: Mutex::new(s.session),
    })
}

/// One recogniser batch read: (crop index, (text, confidence)) and where the time went.
struct BatchRead {
    lines: Vec<(usize, (String, f32))>,
    model_ms: f64,
    other_ms: f64,
}

/// The three PP-OCR models and the recogniser's dictionary, loaded once per process.
pub struct OcrEngine {
    det: Box<dyn Model>,
    cls: Box<dyn Model>,
    rec: Box<dyn Model>,
    /// On the CPU with 2 or more threads: that many single-threaded recogniser
    /// sessions, run side by side on different batches (empty otherwise). A batch of
    /// six 48×320 lines is too small for ONNX Runtime to keep two threads busy: 131 ms
    /// on one thread, 79 ms on two (1.66×; onnxruntime 1.32, 2 shared cores,
    /// 2026-11-28); two lanes of one thread each approach 2× on the same budget.
    rec_lanes: Vec<Box<dyn Model>>,
    /// Index 0 is the CTC blank, the last a space (PaddleOCR's layout).
    dictionary: Vec<String>,
    device: String,
    device_reason: String,
    /// The precision the recogniser and the classifier run in (never `Auto`).
    precision: Precision,
    /// The precision the detector runs in (never `Auto`).
    det_precision: Precision,
}

#[derive(Deserialize)]
struct Manifest {
    models: std::collections::BTreeMap<String, ManifestModel>,
}

#[derive(Deserialize)]
struct ManifestModel {
    file: String,
    sha256: String,
}

impl OcrEngine {
    /// Loads from the model repository [`ort_env::models_dir`] per `params`' device,
    /// precisions, threads and recogniser lanes.
    pub fn load(params: &Params) -> Result<Self, StageError> {
        Self::load_with(&ort_env::models_dir(), params)
    }

    /// Loads `<models>/ppocr/{det,cls,rec}` after checking each file's sha256 against
    /// `<models>/ppocr/manifest.json`, with the other settings at their defaults.
    ///
    /// # Errors
    /// A missing or mismatched file (named, with the fetch command), a missing
    /// runtime, or a device that does not work.
    pub fn load_from(models: &Path, device: Device, threads: usize) -> Result<Self, StageError> {
        let params = Params {
            device,
            threads,
            ..Params::default()
        };
        Self::load_with(models, &params)
    }

    /// As [`OcrEngine::load_from`], with every load-time setting of `params`.
    pub fn load_with(models: &Path, params: &Params) -> Result<Self, StageError> {
        let paths = verified_model_files(models)?;
        let other = |m: String| StageError::Other(m.into());
        let chars = ov_env::onnx_metadata(&paths[2], "character")
            .map_err(other)?
            .ok_or_else(|| {
                other(format!(
                    "{} has no 'character' metadata (the dictionary)",
                    paths[2].display()
                ))
            })?;
        let dictionary = dictionary_from_metadata(&chars);
        let env = Bf16Env::probe(models, params.device);
        let decide = |p| env.decide(p).map_err(|m| StageError::Other(m.into()));
        let (rec_bf16, det_bf16) = (decide(params.precision)?, decide(params.det_precision)?);
        let mut f32_reason = match &rec_bf16 {
            Ok(_) => String::new(),
            Err(why) => why.clone(),
        };
        if rec_bf16.is_ok() || det_bf16.is_ok() {
            let mixed = Self::load_cpu_mixed(
                models,
                &paths,
                params.threads,
                dictionary.clone(),
                det_bf16,
                rec_bf16,
            );
            let explicit = [params.precision, params.det_precision].contains(&Precision::Bf16);
            match mixed {
                Ok(engine) => return Ok(engine),
                // `auto` falls back to the reference path; an explicit bf16 fails.
                Err(e) if !explicit => {
                    tracing::warn!(error = %e, "ocr: OpenVINO failed; using f32 on ONNX Runtime");
                    f32_reason = format!("auto: OpenVINO failed ({e})");
                }
                Err(e) => return Err(e),
            }
        }
        let (device, threads) = (params.device, params.threads);
        let fail = |e: ort_env::OrtEnvError| StageError::Other(e.to_string().into());
        let det = ort_env::session(&paths[0], device, threads).map_err(fail)?;
        // The detector settles `auto`; the other two follow it.
        let chosen: Device = det
            .device
            .parse()
            .map_err(|e: String| StageError::Other(e.into()))?;
        let cls = ort_env::session(&paths[1], chosen, threads).map_err(fail)?;
        let rec = ort_env::session(&paths[2], chosen, threads).map_err(fail)?;
        let lanes = match (chosen, threads) {
            (Device::Cpu, _) if params.rec_lanes > 0 => params.rec_lanes,
            (Device::Cpu, 0) => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
            (Device::Cpu, n) => n,
            _ => 1,
        };
        let rec_lanes = if lanes >= 2 {
            (0..lanes)
                .map(|k| {
                    ort_env::session(&paths[2], Device::Cpu, 1)
                        .map(|s| ort_model(&format!("ocr rec lane {k}"), s))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(fail)?
        } else {
            Vec::new()
        };
        tracing::info!(device = %det.device, reason = %det.reason, precision = "f32", %f32_reason, classes = dictionary.len(), "ocr models loaded");
        Ok(OcrEngine {
            device: det.device.clone(),
            device_reason: format!("{}; all f32 on ONNX Runtime: {f32_reason}", det.reason),
            det: ort_model("ocr det", det),
            cls: ort_model("ocr cls", cls),
            rec: ort_model("ocr rec", rec),
            rec_lanes,
            dictionary,
            precision: Precision::F32,
            det_precision: Precision::F32,
        })
    }

    /// On the CPU, each of the detector and the recogniser (with the classifier) in
    /// bf16 on OpenVINO (`Ok(why)`) or in f32 on ONNX Runtime (`Err(why)`).
    fn load_cpu_mixed(
        models: &Path,
        paths: &[PathBuf; 3],
        threads: usize,
        dictionary: Vec<String>,
        det_bf16: Result<String, String>,
        rec_bf16: Result<String, String>,
    ) -> Result<Self, StageError> {
        let load = |i: usize, name: &str, bf16: bool| -> Result<Box<dyn Model>, StageError> {
            let fail = |e: String| StageError::Other(e.into());
            if bf16 {
                let m = ov_env::OvModel::compile(models, &paths[i], name, "bf16", threads)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Box::new(m))
            } else {
                let s = ort_env::session(&paths[i], Device::Cpu, threads)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(ort_model(name, s))
            }
        };
        let (det, cls, rec) = (
            load(0, "ocr det", det_bf16.is_ok())?,
            load(1, "ocr cls", rec_bf16.is_ok())?,
            load(2, "ocr rec", rec_bf16.is_ok())?,
        );
        if rec_bf16.is_ok() {
            // OpenVINO prepares each new input shape on its first run (30–90 ms for the
            // recogniser): do it now for the commonest, a full batch of 320-px lines.
            let d = Params::default();
            let w = d.rec_min_width as usize;
            cls.run(
                [d.cls_batch_size, 3, 48, 192],
                vec![0.0; d.cls_batch_size * 3 * 48 * 192],
            )?;
            rec.run_with(
                [d.rec_batch_size, 3, 48, w],
                vec![0.0; d.rec_batch_size * 3 * 48 * w],
                &mut |_, _| Ok(()),
            )?;
        }
        let says = |r: &Result<String, String>| match r {
            Ok(why) => format!("bf16 on OpenVINO ({why})"),
            Err(why) => format!("f32 on ONNX Runtime ({why})"),
        };
        let reason = format!(
            "detector {}; classifier and recogniser {}",
            says(&det_bf16),
            says(&rec_bf16)
        );
        tracing::info!(device = "cpu", %reason, classes = dictionary.len(), "ocr models loaded");
        let precision = |r: &Result<String, String>| {
            if r.is_ok() {
                Precision::Bf16
            } else {
                Precision::F32
            }
        };
        Ok(OcrEngine {
            device_reason: reason,
            precision: precision(&rec_bf16),
            det_precision: precision(&det_bf16),
            ..Self::from_models(det, cls, rec, dictionary)
        })
    }

    /// An engine over any models (tests use fakes).
    pub fn from_models(
        det: Box<dyn Model>,
        cls: Box<dyn Model>,
        rec: Box<dyn Model>,
        dictionary: Vec<String>,
    ) -> Self {
        OcrEngine {
            det,
            cls,
            rec,
            rec_lanes: Vec::new(),
            dictionary,
            device: "cpu".into(),
            device_reason: "given models".into(),
            precision: Precision::F32,
            det_precision: Precision::F32,
        }
    }

    /// `cpu` or `cuda:N`.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Why [`OcrEngine::device`] and [`OcrEngine::precision`] were chosen.
    pub fn device_reason(&self) -> &str {
        &self.device_reason
    }

    /// The recogniser's and the classifier's: `F32` (ONNX Runtime) or `Bf16`
    /// (OpenVINO on the CPU).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The detector's, as [`OcrEngine::precision`].
    pub fn det_precision(&self) -> Precision {
        self.det_precision
    }

    /// Text boxes of a page, in page pixels, in reading order (tiled or whole, per
    /// `params`).
    pub fn detect(
        &self,
        params: &Params,
        page: &Mat,
        t: &mut Timings,
    ) -> Result<Vec<DetBox>, StageError> {
        let (w, h) = (page.cols() as u32, page.rows() as u32);
        let tiles = tile_rects(w, h, &params.tile);
        let mut boxes = if tiles.len() <= 1 {
            self.detect_region(
                params,
                page,
                params.det_limit_type,
                params.det_limit_side_len,
                t,
            )?
        } else {
            let mut all = Vec::new();
            for r in &tiles {
                let tile = Mat::roi(page, *r).map_err(cv)?.try_clone().map_err(cv)?;
                // Native resolution inside a tile: small dimension text stays legible.
                let mut found = self.detect_region(params, &tile, LimitType::None, 0, t)?;
                for b in &mut found {
                    for p in &mut b.points {
                        p[0] += r.x as f32;
                        p[1] += r.y as f32;
                    }
                    b.cut = touches_inner_edge(&b.points, r, w, h);
                }
                all.extend(found);
            }
            merge_tiled_boxes(all)
        };
        sort_reading_order(&mut boxes);
        Ok(boxes)
    }

    fn detect_region(
        &self,
        params: &Params,
        img: &Mat,
        limit: LimitType,
        side: u32,
        t: &mut Timings,
    ) -> Result<Vec<DetBox>, StageError> {
        let t0 = Instant::now();
        let (w, h) = (img.cols() as u32, img.rows() as u32);
        let (rw, rh) = det_resize_dims(w, h, limit, side);
        let mut resized = Mat::default();
        let src = if (rw, rh) == (w, h) {
            img
        } else {
            imgproc::resize(
                img,
                &mut resized,
                Size::new(rw as i32, rh as i32),
                0.0,
                0.0,
                imgproc::INTER_LINEAR,
            )
            .map_err(cv)?;
            &resized
        };
        let src = continuous(src)?;
        let data = normalise_gray_chw(src.data_bytes().map_err(cv)?, 3);
        t.other_ms += ms(t0);
        let t1 = Instant::now();
        let (shape, prob) = self.det.run([1, 3, rh as usize, rw as usize], data)?;
        t.det_ms += ms(t1);
        let t2 = Instant::now();
        if shape.len() != 4 || shape[2] != rh as usize || shape[3] != rw as usize {
            return Err(StageError::Other(
                format!("ocr det: unexpected output shape {shape:?} for input {rh}×{rw}").into(),
            ));
        }
        let boxes = boxes_from_prob_map(&prob, rw, rh, w, h, params)?;
        t.other_ms += ms(t2);
        Ok(boxes)
    }

    /// Flips crops the classifier reads as upside down (in place).
    pub fn classify(
        &self,
        params: &Params,
        crops: &mut [Mat],
        t: &mut Timings,
    ) -> Result<(), StageError> {
        const H: usize = 48;
        const W: usize = 192;
        let order = order_by_aspect(crops);
        for chunk in order.chunks(params.cls_batch_size.max(1)) {
            let t0 = Instant::now();
            let mut data = vec![0f32; chunk.len() * 3 * H * W];
            for (k, &i) in chunk.iter().enumerate() {
                write_line_tensor(
                    &crops[i],
                    H,
                    W,
                    &mut data[k * 3 * H * W..(k + 1) * 3 * H * W],
                )?;
            }
            t.other_ms += ms(t0);
            let t1 = Instant::now();
            let (shape, out) = self.cls.run([chunk.len(), 3, H, W], data)?;
            t.cls_ms += ms(t1);
            if shape != [chunk.len(), 2] {
                return Err(StageError::Other(
                    format!("ocr cls: unexpected output shape {shape:?}").into(),
                ));
            }
            for (k, &i) in chunk.iter().enumerate() {
                if out[2 * k + 1] > out[2 * k] && out[2 * k + 1] > params.cls_thresh {
                    let mut flipped = Mat::default();
                    core::rotate(&crops[i], &mut flipped, core::ROTATE_180).map_err(cv)?;
                    crops[i] = flipped;
                }
            }
        }
        Ok(())
    }

    /// Reads each crop: (text, confidence), in the crops' order.
    pub fn recognise(
        &self,
        params: &Params,
        crops: &[Mat],
        t: &mut Timings,
    ) -> Result<Vec<(String, f32)>, StageError> {
        let refs: Vec<&Mat> = crops.iter().collect();
        let widths = paddle_widths(params, crops);
        self.recognise_at(params.infer_batch(), &refs, &widths, t)
    }

    /// Reads each crop padded to its width in `widths` (pixels at height 48): crops of
    /// one width, in ascending aspect, form batches of up to `batch`. A line's reading
    /// depends only on its own pixels and its padded width, so crops of different
    /// pages (or jobs) batch together and read as they would alone; with
    /// [`paddle_widths`] and one page the batches are PaddleOCR's own.
    pub fn recognise_at(
        &self,
        batch: usize,
        crops: &[&Mat],
        widths: &[usize],
        t: &mut Timings,
    ) -> Result<Vec<(String, f32)>, StageError> {
        let mut results = vec![(String::new(), 0.0); crops.len()];
        let mut order: Vec<usize> = (0..crops.len()).collect();
        order.sort_by(|&a, &b| {
            widths[a]
                .cmp(&widths[b])
                .then(aspect(crops[a]).total_cmp(&aspect(crops[b])))
        });
        let mut chunks: Vec<(&[usize], usize)> = Vec::new();
        for group in order.chunk_by(|&a, &b| widths[a] == widths[b]) {
            chunks.extend(group.chunks(batch.max(1)).map(|c| (c, widths[c[0]])));
        }
        if self.rec_lanes.len() <= 1 || chunks.len() <= 1 {
            for &(chunk, w) in &chunks {
                let read = self.read_batch(self.rec.as_ref(), crops, chunk, w)?;
                t.rec_ms += read.model_ms;
                t.other_ms += read.other_ms;
                for (i, r) in read.lines {
                    results[i] = r;
                }
            }
            return Ok(results);
        }
        // One single-threaded session per lane, each taking the next batch, widest
        // first so that the lanes finish together.
        let t0 = Instant::now();
        let next = AtomicUsize::new(0);
        let reads: Vec<Result<Vec<BatchRead>, StageError>> = std::thread::scope(|s| {
            let lanes: Vec<_> = self
                .rec_lanes
                .iter()
                .map(|model| {
                    let (next, chunks) = (&next, &chunks);
                    s.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&(chunk, w)) =
                                chunks.len().checked_sub(k + 1).map(|c| &chunks[c])
                            else {
                                return Ok(done);
                            };
                            done.push(self.read_batch(model.as_ref(), crops, chunk, w)?);
                        }
                    })
                })
                .collect();
            lanes
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let wall = ms(t0);
        let (mut model, mut other) = (0.0, 0.0);
        for read in reads {
            for b in read? {
                model += b.model_ms;
                other += b.other_ms;
                for (i, r) in b.lines {
                    results[i] = r;
                }
            }
        }
        // Lanes overlap: split the wall time in the proportion of their sums.
        let share = if model + other > 0.0 {
            model / (model + other)
        } else {
            1.0
        };
        t.rec_ms += wall * share;
        t.other_ms += wall * (1.0 - share);
        Ok(results)
    }

    /// Reads one batch of crops (`chunk`, indices into `crops`) padded to width `w`
    /// with `model`.
    fn read_batch(
        &self,
        model: &dyn Model,
        crops: &[&Mat],
        chunk: &[usize],
        w: usize,
    ) -> Result<BatchRead, StageError> {
        const H: usize = 48;
        let t0 = Instant::now();
        let mut data = vec![0f32; chunk.len() * 3 * H * w];
        for (k, &i) in chunk.iter().enumerate() {
            write_line_tensor(
                crops[i],
                H,
                w,
                &mut data[k * 3 * H * w..(k + 1) * 3 * H * w],
            )?;
        }
        let mut other_ms = ms(t0);
        let t1 = Instant::now();
        let mut decode_ms = 0.0;
        let mut lines = Vec::with_capacity(chunk.len());
        // Decoded straight from the runtime's output buffer: no copy.
        model.run_with([chunk.len(), 3, H, w], data, &mut |shape, out| {
            let t2 = Instant::now();
            if shape.len() != 3 || shape[0] != chunk.len() || shape[2] != self.dictionary.len() {
                return Err(StageError::Other(
                    format!(
                        "ocr rec: output shape {shape:?} does not match {} dictionary classes",
                        self.dictionary.len()
                    )
                    .into(),
                ));
            }
            let per = shape[1] * shape[2];
            for (k, &i) in chunk.iter().enumerate() {
                lines.push((
                    i,
                    ctc_decode(&out[k * per..(k + 1) * per], shape[2], &self.dictionary),
                ));
            }
            decode_ms = ms(t2);
            Ok(())
        })?;
        other_ms += decode_ms;
        Ok(BatchRead {
            lines,
            model_ms: ms(t1) - decode_ms,
            other_ms,
        })
    }

    /// Reads an image file (decoded as grayscale) as page 0: for benches and tools.
    pub fn read_file(&self, params: &Params, path: &Path) -> Result<Output, StageError> {
        let img =
            imgcodecs::imread(&path.to_string_lossy(), imgcodecs::IMREAD_GRAYSCALE).map_err(cv)?;
        if img.empty() {
            return Err(StageError::Invalid(format!(
                "cannot read {} as an image",
                path.display()
            )));
        }
        run(
            params,
            self,
            &GrayPage {
                index: 0,
                image: &img,
            },
        )
    }
}

/// Loads the engine per `params` and reads one image file: a one-shot convenience;
/// keep an [`OcrEngine`] to read many.
pub fn ocr_file(params: &Params, path: &Path) -> Result<Output, StageError> {
    OcrEngine::load(params)?.read_file(params, path)
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

/// A detected text box in page pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct DetBox {
    /// Top-left, top-right, bottom-right, bottom-left.
    pub points: [[f32; 2]; 4],
    /// Mean text probability inside, in [0, 1].
    pub score: f32,
    /// Touches an edge between tiles (tiled detection only): may be a cut piece.
    pub cut: bool,
}

/// What decides whether a model may run bf16: the CUDA device in play (if any), the
/// CPU's native bf16 flag (if any) and OpenVINO's library. Probed once per engine.
struct Bf16Env {
    cuda: Option<String>,
    flag: Option<&'static str>,
    lib: PathBuf,
    lib_present: bool,
}

impl Bf16Env {
    fn probe(models: &Path, device: Device) -> Self {
        let cuda = match device {
            Device::Cuda(n) => Some(format!("cuda:{n}")),
            Device::Auto if ort_env::init().is_ok_and(|rt| rt.has_cuda) => {
                Some("auto with a CUDA-capable runtime".to_string())
            }
            Device::Auto | Device::Cpu => None,
        };
        let lib = ov_env::lib_path(models);
        Bf16Env {
            cuda,
            flag: ov_env::native_bf16(),
            lib_present: lib.exists(),
            lib,
        }
    }

    /// `Ok(Ok(why))`: bf16 on OpenVINO; `Ok(Err(why))`: f32 on ONNX Runtime; `Err`:
    /// an explicit `bf16` that cannot run here.
    fn decide(&self, precision: Precision) -> Result<Result<String, String>, String> {
        let lib = self.lib.display();
        match (precision, &self.cuda, self.flag, self.lib_present) {
            (Precision::F32, ..) => Ok(Err("configured f32".into())),
            (Precision::Bf16, Some(d), ..) => Err(format!(
                "ocr precision bf16 runs on the CPU (OpenVINO) but the device is {d}; use device cpu, or precision f32 or auto"
            )),
            (Precision::Bf16, None, None, _) => Err(
                "ocr precision bf16 needs a CPU with native bf16 (avx512_bf16 or amx_bf16 in /proc/cpuinfo) and this one has neither; use precision f32 or auto".into(),
            ),
            (Precision::Bf16, None, Some(_), false) => Err(format!(
                "ocr precision bf16 needs OpenVINO at {lib}; {FETCH_HINT}"
            )),
            (Precision::Bf16, None, Some(f), true) => {
                Ok(Ok(format!("configured bf16, the CPU has {f}")))
            }
            (Precision::Auto, Some(d), ..) => Ok(Err(format!("auto: device {d} computes f32"))),
            (Precision::Auto, None, None, _) => Ok(Err(
                "auto: the CPU has no native bf16 (avx512_bf16 or amx_bf16)".into(),
            )),
            (Precision::Auto, None, Some(_), false) => Ok(Err(format!(
                "auto: OpenVINO is not at {lib} ({FETCH_HINT})"
            ))),
            (Precision::Auto, None, Some(f), true) => {
                Ok(Ok(format!("auto: the CPU has {f} and OpenVINO is fetched")))
            }
        }
    }
}

/// The model files named by `<models>/ppocr/manifest.json` (det, cls, rec), each
/// present and matching its sha256.
pub fn verified_model_files(models: &Path) -> Result<[PathBuf; 3], StageError> {
    let fail = |m: String| StageError::Other(m.into());
    let manifest_path = models.join("ppocr/manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        fail(format!(
            "cannot read the model manifest {}: {e}",
            manifest_path.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "malformed model manifest {}: {e}",
            manifest_path.display()
        ))
    })?;
    let mut out: Vec<PathBuf> = Vec::with_capacity(3);
    for key in ["det", "cls", "rec"] {
        let m = manifest
            .models
            .get(key)
            .ok_or_else(|| fail(format!("{} has no '{key}' model", manifest_path.display())))?;
        let path = models.join("ppocr").join(&m.file);
        let bytes = std::fs::read(&path).map_err(|e| {
            fail(format!(
                "ocr {key} model {} is missing ({e}); {FETCH_HINT}",
                path.display()
            ))
        })?;
        let got = hex::encode(Sha256::digest(&bytes));
        if got != m.sha256 {
            return Err(fail(format!(
                "ocr {key} model {} has sha256 {got}, the manifest pins {}; delete it and {FETCH_HINT}",
                path.display(),
                m.sha256
            )));
        }
        out.push(path);
    }
    Ok([out[0].clone(), out[1].clone(), out[2].clone()])
}

/// The recogniser's classes from its `character` metadata (one character per line):
/// blank first, then the characters, then a space, as PaddleOCR decodes.
pub fn dictionary_from_metadata(chars: &str) -> Vec<String> {
    let mut d = vec![String::new()];
    d.extend(chars.lines().map(str::to_string));
    d.push(" ".to_string());
    d
}

/// Detector input size for a `w`×`h` image: scaled by the limit rule, then each side
/// rounded to the nearest multiple of 32 (at least 32). As PaddleOCR, the scale is
/// truncated to whole pixels before rounding.
pub fn det_resize_dims(w: u32, h: u32, limit: LimitType, side: u32) -> (u32, u32) {
    let ratio = match limit {
        LimitType::Max if w.max(h) > side && side > 0 => side as f64 / w.max(h) as f64,
        LimitType::Min if w.min(h) < side => side as f64 / w.min(h) as f64,
        _ => 1.0,
    };
    let round32 = |v: u32| (((v as f64 * ratio) as u32 as f64 / 32.0).round() as u32 * 32).max(32);
    (round32(w), round32(h))
}

/// 8-bit gray pixels → CHW f32 with the gray copied into `channels` planes, values
/// `p / 127.5 - 1` in [-1, 1] (PP-OCR's mean 0.5, std 0.5, scale 1/255).
pub fn normalise_gray_chw(pixels: &[u8], channels: usize) -> Vec<f32> {
    let lut: Vec<f32> = (0..256).map(|p| p as f32 / 127.5 - 1.0).collect();
    let plane: Vec<f32> = pixels.iter().map(|&p| lut[p as usize]).collect();
    let mut out = Vec::with_capacity(plane.len() * channels);
    for _ in 0..channels {
        out.extend_from_slice(&plane);
    }
    out
}

/// DB post-processing: probability map (`pw`×`ph`, row-major) → boxes in the
/// coordinates of the `dw`×`dh` image it was computed from, ordered clockwise from
/// the top-left and clipped to it.
pub fn boxes_from_prob_map(
    prob: &[f32],
    pw: u32,
    ph: u32,
    dw: u32,
    dh: u32,
    params: &Params,
) -> Result<Vec<DetBox>, StageError> {
    let prob_mat = Mat::new_rows_cols_with_data(ph as i32, pw as i32, prob).map_err(cv)?;
    let bin: Vec<u8> = prob
        .iter()
        .map(|&p| if p > params.thresh { 255 } else { 0 })
        .collect();
    let bin = Mat::new_rows_cols_with_data(ph as i32, pw as i32, &bin).map_err(cv)?;
    let kernel = Mat::ones(2, 2, core::CV_8UC1)
        .map_err(cv)?
        .to_mat()
        .map_err(cv)?;
    let mut mask = Mat::default();
    imgproc::dilate(
        &bin,
        &mut mask,
        &kernel,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value().map_err(cv)?,
    )
    .map_err(cv)?;
    let mut contours = Vector::<Vector<Point>>::new();
    imgproc::find_contours(
        &mask,
        &mut contours,
        imgproc::RETR_LIST,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::new(0, 0),
    )
    .map_err(cv)?;
    let mut out = Vec::new();
    for contour in contours.iter().take(params.max_candidates) {
        let rect = imgproc::min_area_rect(&contour).map_err(cv)?;
        if rect.size.width.min(rect.size.height) < params.min_box_size {
            continue;
        }
        let corners = rect_points(&rect)?;
        let score = box_score(&prob_mat, &corners)?;
        if score < params.box_thresh {
            continue;
        }
        let Some(grown) = unclip(&corners, params.unclip_ratio)? else {
            continue;
        };
        if grown.size.width.min(grown.size.height) < params.min_box_size + 2.0 {
            continue;
        }
        // Probability-map pixels to page pixels as PaddleOCR does it, in f32: divide,
        // multiply, round half to even (np.round).
        let mut pts = rect_points(&grown)?;
        for p in &mut pts {
            p[0] = (p[0] / pw as f32 * dw as f32)
                .round_ties_even()
                .clamp(0.0, dw as f32);
            p[1] = (p[1] / ph as f32 * dh as f32)
                .round_ties_even()
                .clamp(0.0, dh as f32);
        }
        let mut pts = order_clockwise(pts);
        for p in &mut pts {
            p[0] = p[0].clamp(0.0, dw as f32 - 1.0);
            p[1] = p[1].clamp(0.0, dh as f32 - 1.0);
        }
        if dist(pts[0], pts[1]) as i32 <= 3 || dist(pts[0], pts[3]) as i32 <= 3 {
            continue;
        }
        out.push(DetBox {
            points: pts,
            score,
            cut: false,
        });
    }
    Ok(out)
}

/// The unclipped box as PaddleOCR (and rapidocr) computes it: DB shrinks text regions
/// by `area × ratio / perimeter` when training, so the box's polygon is offset outward
/// by that distance with rounded corners, by pyclipper, which first truncates the
/// corners to integers; the result is the minimum-area rectangle of the offset
/// polygon's integer vertices ([`clipper_offset_round`]). `None` when the corners
/// collapse to fewer than 3 distinct points (pyclipper then offsets nothing).
pub fn unclip(pts: &[[f32; 2]; 4], ratio: f32) -> Result<Option<RotatedRect>, StageError> {
    let Some(distance) = unclip_distance(pts, ratio) else {
        return Ok(None);
    };
    let path: Vec<[i64; 2]> = pts.iter().map(|q| [q[0] as i64, q[1] as i64]).collect();
    let grown = clipper_offset_round(&path, distance);
    if grown.is_empty() {
        return Ok(None);
    }
    let grown: Vector<Point> = grown
        .iter()
        .map(|q| Point::new(q[0] as i32, q[1] as i32))
        .collect();
    Ok(Some(imgproc::min_area_rect(&grown).map_err(cv)?))
}

/// PaddleOCR's unclip distance, `area × ratio / perimeter` as shapely computes them
/// from the float corners, in f64, with the ratio as the decimal it was written as
/// (1.6, not 1.600000023841858). `None` for a box with no perimeter.
fn unclip_distance(pts: &[[f32; 2]; 4], ratio: f32) -> Option<f64> {
    let p: Vec<(f64, f64)> = pts.iter().map(|q| (q[0] as f64, q[1] as f64)).collect();
    let (mut area2, mut length) = (0.0, 0.0);
    for i in 0..4 {
        let (a, b) = (p[i], p[(i + 1) % 4]);
        area2 += a.0 * b.1 - b.0 * a.1;
        length += (b.0 - a.0).hypot(b.1 - a.1);
    }
    let ratio: f64 = ratio.to_string().parse().unwrap_or(ratio as f64);
    (length > 0.0).then(|| area2.abs() / 2.0 * ratio / length)
}

/// Clipper 6.4.2's `ClipperOffset` (what pyclipper runs) for one closed polygon with
/// round joins and the default arc tolerance 0.25, `delta` > 0: the vertices of the
/// offset polygon, integers rounded half away from zero. Of the union Clipper runs
/// after offsetting, only what it does to a convex polygon's offset is kept: repeated
/// and collinear vertices are dropped.
pub fn clipper_offset_round(path: &[[i64; 2]], delta: f64) -> Vec<[i64; 2]> {
    let round = |v: f64| -> i64 {
        if v < 0.0 {
            (v - 0.5) as i64
        } else {
            (v + 0.5) as i64
        }
    };
    // AddPath: drop a closing duplicate and consecutive duplicates; fewer than 3
    // points are ignored. FixOrientations, for one path: a negative area (Clipper's
    // Area) reverses it.
    let mut high = path.len();
    while high > 1 && path[0] == path[high - 1] {
        high -= 1;
    }
    let mut poly: Vec<[i64; 2]> = Vec::with_capacity(high);
    for &q in &path[..high] {
        if poly.last() != Some(&q) {
            poly.push(q);
        }
    }
    if poly.len() < 3 || delta <= 0.0 {
        return Vec::new();
    }
    let area: f64 = (0..poly.len())
        .map(|i| {
            let (a, b) = (poly[(i + poly.len() - 1) % poly.len()], poly[i]);
            (a[0] as f64 + b[0] as f64) * (a[1] as f64 - b[1] as f64)
        })
        .sum::<f64>()
        * -0.5;
    if area < 0.0 {
        poly.reverse();
    }
    // DoOffset.
    const DEF_ARC_TOLERANCE: f64 = 0.25;
    let y = if DEF_ARC_TOLERANCE > delta * DEF_ARC_TOLERANCE {
        delta * DEF_ARC_TOLERANCE
    } else {
        DEF_ARC_TOLERANCE
    };
    let mut steps = std::f64::consts::PI / (1.0 - y / delta).acos();
    if steps > delta * std::f64::consts::PI {
        steps = delta * std::f64::consts::PI;
    }
    let two_pi = 2.0 * std::f64::consts::PI;
    let (sin, cos) = ((two_pi / steps).sin(), (two_pi / steps).cos());
    let steps_per_rad = steps / two_pi;
    let n = poly.len();
    let normals: Vec<(f64, f64)> = (0..n)
        .map(|j| {
            let (a, b) = (poly[j], poly[(j + 1) % n]);
            let (dx, dy) = ((b[0] - a[0]) as f64, (b[1] - a[1]) as f64);
            if dx == 0.0 && dy == 0.0 {
                return (0.0, 0.0);
            }
            let f = 1.0 / (dx * dx + dy * dy).sqrt();
            (dy * f, -dx * f)
        })
        .collect();
    let mut out = Vec::new();
    let mut k = n - 1;
    for j in 0..n {
        let src = (poly[j][0] as f64, poly[j][1] as f64);
        let at = |nx: f64, ny: f64| [round(src.0 + nx * delta), round(src.1 + ny * delta)];
        let (nk, nj) = (normals[k], normals[j]);
        let mut sin_a = nk.0 * nj.1 - nj.0 * nk.1;
        if (sin_a * delta).abs() < 1.0 {
            if nk.0 * nj.0 + nj.1 * nk.1 > 0.0 {
                // Nearly straight on: one point, and (as Clipper) k is not advanced.
                out.push(at(nk.0, nk.1));
                continue;
            }
        } else {
            sin_a = sin_a.clamp(-1.0, 1.0);
        }
        if sin_a * delta < 0.0 {
            out.push(at(nk.0, nk.1));
            out.push(poly[j]);
            out.push(at(nj.0, nj.1));
        } else {
            // DoRound.
            let a = sin_a.atan2(nk.0 * nj.0 + nk.1 * nj.1);
            let count = (round(steps_per_rad * a.abs()) as i32).max(1);
            let (mut x, mut yv) = nk;
            for _ in 0..count {
                out.push(at(x, yv));
                let x2 = x;
                x = x * cos - sin * yv;
                yv = x2 * sin + yv * cos;
            }
            out.push(at(nj.0, nj.1));
        }
        k = j;
    }
    // The union's clean-up: drop a vertex equal to or collinear with its neighbours.
    let mut i = 0;
    while out.len() >= 3 && i < out.len() {
        let n = out.len();
        let (a, b, c) = (out[(i + n - 1) % n], out[i], out[(i + 1) % n]);
        if (a[1] - b[1]) * (b[0] - c[0]) == (a[0] - b[0]) * (b[1] - c[1]) {
            out.remove(i);
            i = i.saturating_sub(1);
        } else {
            i += 1;
        }
    }
    out
}

/// Mean of `prob` inside the quadrilateral (PaddleOCR's "fast" score).
fn box_score(
    prob: &(impl MatTraitConst + core::ToInputArray),
    pts: &[[f32; 2]; 4],
) -> Result<f32, StageError> {
    let (w, h) = (prob.cols(), prob.rows());
    let xs = pts.iter().map(|p| p[0]);
    let ys = pts.iter().map(|p| p[1]);
    let xmin = (xs.clone().fold(f32::MAX, f32::min).floor() as i32).clamp(0, w - 1);
    let xmax = (xs.fold(f32::MIN, f32::max).ceil() as i32).clamp(0, w - 1);
    let ymin = (ys.clone().fold(f32::MAX, f32::min).floor() as i32).clamp(0, h - 1);
    let ymax = (ys.fold(f32::MIN, f32::max).ceil() as i32).clamp(0, h - 1);
    let mut mask = Mat::zeros(ymax - ymin + 1, xmax - xmin + 1, core::CV_8UC1)
        .map_err(cv)?
        .to_mat()
        .map_err(cv)?;
    let poly: Vector<Point> = pts
        .iter()
        .map(|p| Point::new((p[0] - xmin as f32) as i32, (p[1] - ymin as f32) as i32))
        .collect();
    let polys = Vector::<Vector<Point>>::from_iter([poly]);
    imgproc::fill_poly(
        &mut mask,
        &polys,
        Scalar::all(1.0),
        imgproc::LINE_8,
        0,
        Point::new(0, 0),
    )
    .map_err(cv)?;
    let roi = Mat::roi(
        prob,
        core::Rect::new(xmin, ymin, xmax - xmin + 1, ymax - ymin + 1),
    )
    .map_err(cv)?;
    Ok(core::mean(&roi, &mask).map_err(cv)?[0] as f32)
}

fn rect_points(rect: &RotatedRect) -> Result<[[f32; 2]; 4], StageError> {
    let mut pts = [Point2f::default(); 4];
    rect.points(&mut pts).map_err(cv)?;
    Ok(pts.map(|p| [p.x, p.y]))
}

/// Orders four corners top-left, top-right, bottom-right, bottom-left: the two
/// leftmost by x are the left side, each side split by y (imutils' rule, as
/// PaddleOCR).
pub fn order_clockwise(mut pts: [[f32; 2]; 4]) -> [[f32; 2]; 4] {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (mut left, mut right) = ([pts[0], pts[1]], [pts[2], pts[3]]);
    left.sort_by(|a, b| a[1].total_cmp(&b[1]));
    right.sort_by(|a, b| a[1].total_cmp(&b[1]));
    [left[0], right[0], right[1], left[1]]
}

/// Reading order: top to bottom by the top-left corner; boxes whose tops are within
/// 10 px of the previous one form a line, read left to right (PaddleOCR's rule).
pub fn sort_reading_order(boxes: &mut [DetBox]) {
    boxes.sort_by(|a, b| a.points[0][1].total_cmp(&b.points[0][1]));
    let mut line = 0u32;
    let mut keyed: Vec<(u32, f32, usize)> = Vec::with_capacity(boxes.len());
    for i in 0..boxes.len() {
        if i > 0 && boxes[i].points[0][1] - boxes[i - 1].points[0][1] >= 10.0 {
            line += 1;
        }
        keyed.push((line, boxes[i].points[0][0], i));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let sorted: Vec<DetBox> = keyed.iter().map(|k| boxes[k.2].clone()).collect();
    boxes.clone_from_slice(&sorted);
}

/// Cuts the quadrilateral out of the page upright: a perspective warp to its width ×
/// height (cubic, border replicated); a crop at least 1.5 times taller than wide is
/// turned 90° counter-clockwise (vertical text in drawings reads bottom to top).
pub fn crop_line(page: &Mat, pts: &[[f32; 2]; 4]) -> Result<Mat, StageError> {
    let w = dist(pts[0], pts[1]).max(dist(pts[2], pts[3])) as i32;
    let h = dist(pts[0], pts[3]).max(dist(pts[1], pts[2])) as i32;
    let (w, h) = (w.max(1), h.max(1));
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
    if h as f32 / w as f32 >= 1.5 {
        let mut turned = Mat::default();
        core::rotate(&crop, &mut turned, core::ROTATE_90_COUNTERCLOCKWISE).map_err(cv)?;
        return Ok(turned);
    }
    Ok(crop)
}

/// Writes one line crop as a `3 × h × w` tensor into `out`: resized to height `h`
/// keeping its aspect (width capped at `w`), normalised to [-1, 1], right-padded
/// with 0.
fn write_line_tensor(crop: &Mat, h: usize, w: usize, out: &mut [f32]) -> Result<(), StageError> {
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
/// characters kept (0 when none).
pub fn ctc_decode(probs: &[f32], classes: usize, dictionary: &[String]) -> (String, f32) {
    let mut text = String::new();
    let (mut sum, mut n) = (0f32, 0usize);
    let mut prev = usize::MAX;
    for step in probs.chunks_exact(classes) {
        let (idx, p) = argmax(step);
        if idx != 0 && idx != prev {
            text.push_str(dictionary.get(idx).map(String::as_str).unwrap_or(""));
            sum += p;
            n += 1;
        }
        prev = idx;
    }
    (text, if n == 0 { 0.0 } else { sum / n as f32 })
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

/// Tiles covering a `w`×`h` page, or one rectangle (the page) when it is below the
/// tiling threshold. Tiles are `size` square (clipped at the page), stepping by
/// `size - overlap`; the last tile of a row or column is moved back to end at the
/// page edge.
pub fn tile_rects(w: u32, h: u32, tp: &TileParams) -> Vec<core::Rect> {
    let whole = vec![core::Rect::new(0, 0, w as i32, h as i32)];
    if tp.min_long_side == 0
        || w.max(h) < tp.min_long_side
        || w.min(h) < tp.min_short_side
        || tp.size <= tp.overlap
    {
        return whole;
    }
    let starts = |len: u32| -> Vec<u32> {
        if len <= tp.size {
            return vec![0];
        }
        let step = tp.size - tp.overlap;
        let mut v: Vec<u32> = (0..)
            .map(|i| i * step)
            .take_while(|&s| s + tp.size < len)
            .collect();
        v.push(len - tp.size);
        v
    };
    let mut out = Vec::new();
    for y in starts(h) {
        for x in starts(w) {
            out.push(core::Rect::new(
                x as i32,
                y as i32,
                tp.size.min(w) as i32,
                tp.size.min(h) as i32,
            ));
        }
    }
    out
}

/// Whether a box reaches within 2 px of an edge of `tile` that is not the page's.
fn touches_inner_edge(pts: &[[f32; 2]; 4], tile: &core::Rect, w: u32, h: u32) -> bool {
    let b = bbox_of(pts);
    let (x0, y0, x1, y1) = (
        tile.x as f32,
        tile.y as f32,
        (tile.x + tile.width) as f32,
        (tile.y + tile.height) as f32,
    );
    (x0 > 0.0 && b[0] <= x0 + 2.0)
        || (y0 > 0.0 && b[1] <= y0 + 2.0)
        || (x1 < w as f32 && b[0] + b[2] >= x1 - 3.0)
        || (y1 < h as f32 && b[1] + b[3] >= y1 - 3.0)
}

/// Merges boxes found in overlapping tiles. Two boxes overlapping by at least half
/// of the smaller one's bbox are one text: when either was cut by a tile edge they
/// become the minimum-area rectangle around both, else the larger stays.
pub fn merge_tiled_boxes(mut boxes: Vec<DetBox>) -> Vec<DetBox> {
    boxes.sort_by(|a, b| area(&bbox_of(&b.points)).total_cmp(&area(&bbox_of(&a.points))));
    let mut kept: Vec<DetBox> = Vec::with_capacity(boxes.len());
    'next: for b in boxes {
        for k in kept.iter_mut() {
            if overlap_of_smaller(&bbox_of(&k.points), &bbox_of(&b.points)) >= 0.5 {
                if k.cut || b.cut {
                    *k = union_box(k, &b);
                }
                continue 'next;
            }
        }
        kept.push(b);
    }
    kept
}

fn union_box(a: &DetBox, b: &DetBox) -> DetBox {
    let pts: Vector<Point2f> = a
        .points
        .iter()
        .chain(&b.points)
        .map(|p| Point2f::new(p[0], p[1]))
        .collect();
    let points = imgproc::min_area_rect(&pts)
        .ok()
        .and_then(|r| rect_points(&r).ok())
        .map(order_clockwise)
        .unwrap_or(a.points);
    DetBox {
        points,
        score: a.score.max(b.score),
        cut: a.cut && b.cut,
    }
}

/// `[x, y, w, h]` around the points.
pub fn bbox_of(pts: &[[f32; 2]; 4]) -> [f32; 4] {
    let x0 = pts.iter().map(|p| p[0]).fold(f32::MAX, f32::min);
    let y0 = pts.iter().map(|p| p[1]).fold(f32::MAX, f32::min);
    let x1 = pts.iter().map(|p| p[0]).fold(f32::MIN, f32::max);
    let y1 = pts.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
    [x0, y0, x1 - x0, y1 - y0]
}

fn area(b: &[f32; 4]) -> f32 {
    b[2].max(0.0) * b[3].max(0.0)
}

fn intersection(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    w.max(0.0) * h.max(0.0)
}

/// Intersection over the smaller bbox's area, in [0, 1].
fn overlap_of_smaller(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let small = area(a).min(area(b));
    if small <= 0.0 {
        0.0
    } else {
        intersection(a, b) / small
    }
}

/// Intersection over union of two bboxes, in [0, 1].
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let i = intersection(a, b);
    let u = area(a) + area(b) - i;
    if u <= 0.0 {
        0.0
    } else {
        i / u
    }
}

fn aspect(m: &Mat) -> f32 {
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
fn order_by_aspect(crops: &[Mat]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by(|&a, &b| aspect(&crops[a]).total_cmp(&aspect(&crops[b])));
    order
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
    use super::*;
    use std::sync::OnceLock;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings")
    }

    /// One engine for all model tests: loading takes seconds.
    fn engine() -> &'static OcrEngine {
        static ENGINE: OnceLock<OcrEngine> = OnceLock::new();
        ENGINE.get_or_init(|| {
            let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
            OcrEngine::load_from(&models, Device::Cpu, 0).unwrap_or_else(|e| {
                panic!("cannot load the ocr models: {e} (models/fetch.sh fetches them)")
            })
        })
    }

    fn dict(chars: &str) -> Vec<String> {
        dictionary_from_metadata(&chars.chars().map(|c| format!("{c}\n")).collect::<String>())
    }

    /// One time step putting probability `p` on `class` and the rest on blank.
    fn step(class: usize, p: f32, classes: usize) -> Vec<f32> {
        let mut v = vec![0.0; classes];
        v[class] = p;
        if class != 0 {
            v[0] = 1.0 - p;
        }
        v
    }

    #[test]
    fn dictionary_has_blank_first_and_space_last() {
        let d = dict("ab");
        assert_eq!(d, ["", "a", "b", " "]);
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
        ];
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
    fn resize_rules_round_to_32() {
        struct Case {
            size: (u32, u32),
            limit: LimitType,
            side: u32,
            want: (u32, u32),
        }
        let cases = [
            // rapidocr's default (min 736) leaves a big page alone but for rounding.
            Case {
                size: (3308, 2339),
                limit: LimitType::Min,
                side: 736,
                want: (3296, 2336),
            },
            Case {
                size: (3308, 2339),
                limit: LimitType::Max,
                side: 2048,
                want: (2048, 1440),
            },
            Case {
                size: (3308, 2339),
                limit: LimitType::Max,
                side: 960,
                want: (960, 672),
            },
            Case {
                size: (1653, 2339),
                limit: LimitType::None,
                side: 0,
                want: (1664, 2336),
            },
            Case {
                size: (500, 300),
                limit: LimitType::Max,
                side: 960,
                want: (512, 288),
            },
            Case {
                size: (100, 20),
                limit: LimitType::Min,
                side: 736,
                want: (3680, 736),
            },
            Case {
                size: (10, 5),
                limit: LimitType::None,
                side: 0,
                want: (32, 32),
            },
        ];
        for c in cases {
            assert_eq!(
                det_resize_dims(c.size.0, c.size.1, c.limit, c.side),
                c.want,
                "{:?} {:?} {}",
                c.size,
                c.limit,
                c.side
            );
        }
    }

    #[test]
    fn normalises_to_minus_one_one_in_three_planes() {
        let v = normalise_gray_chw(&[0, 255, 51], 3);
        assert_eq!(v.len(), 9);
        let want = [-1.0, 1.0, 51.0 / 127.5 - 1.0];
        for (i, got) in v.iter().enumerate() {
            assert!((got - want[i % 3]).abs() < 1e-6, "{i}: {got}");
        }
    }

    /// A page none of the other tests read (Aufspannung.PDF at 300 dpi, portrait) is
    /// read exactly as rapidocr 3.10 reads it with the same models in f32: every line's
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
        let params = Params {
            device: Device::Cpu,
            precision: Precision::F32,
            threads: 2,
            ..Params::default()
        };
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let engine = OcrEngine::load_with(&models, &params).expect("models: run models/fetch.sh");
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
        assert!(
            missing.is_empty() && extra.is_empty(),
            "rapidocr only: {missing:?}\nours only: {extra:?}"
        );
    }

    /// pyclipper 1.4.0's offsets of four boxes (cv2.boxPoints of the rectangles named),
    /// as PaddleOCR's unclip runs them (JT_ROUND, ET_CLOSEDPOLYGON, distance area ×
    /// 1.6 / perimeter from shapely), its output vertices sorted; printed by
    /// `PyclipperOffset().AddPath(pts, JT_ROUND, ET_CLOSEDPOLYGON); Execute(d)`.
    #[test]
    fn unclip_offsets_as_pyclipper() {
        #[rustfmt::skip]
        let cases: [([[f32; 2]; 4], &[[i64; 2]]); 4] = [
            // center (50.3, 40.7), size (100.4, 20.2), angle 30: distance 13.4533
            ([[1.7755241, 24.346857], [11.875523, 6.8531437], [98.82448, 57.053146], [88.72447, 74.54686]],
             &[[-12,23],[-12,28],[-11,17],[-10,32],[-6,36],[-1,-1],[7,-7],[12,-7],[18,-6],[81,86],[86,87],[92,87],[96,85],[100,81],[105,45],[109,49],[110,64],[111,53],[111,59]]),
            // center (20, 15), size (10, 10), angle 0: distance 4
            ([[15.0, 20.0], [15.0, 10.0], [25.0, 10.0], [25.0, 20.0]],
             &[[11,10],[11,20],[12,7],[12,23],[15,6],[15,24],[25,6],[25,24],[28,7],[28,23],[29,10],[29,20]]),
            // center (300.25, 120.5), size (180.5, 34.75), angle -12.5: distance 23.3120
            ([[215.89993, 156.99681], [208.37863, 123.07053], [384.60007, 84.00318], [392.12137, 117.92946]],
             &[[185,121],[185,128],[186,114],[190,109],[192,161],[195,104],[196,169],[201,174],[203,100],[207,178],[213,179],[220,179],[379,61],[386,61],[392,62],[397,140],[398,66],[403,71],[406,136],[407,79],[411,131],[414,125],[415,112],[415,118]]),
            // center (10.5, 10.5), size (3.2, 3.1), angle 45: distance 1.2597
            ([[8.272614, 10.464645], [10.464645, 8.272614], [12.727386, 10.535354], [10.535354, 12.727386]],
             &[[7,9],[7,11],[9,7],[9,13],[11,7],[11,13],[13,9],[13,11]]),
        ];
        for (pts, want) in cases {
            let path: Vec<[i64; 2]> = pts.iter().map(|q| [q[0] as i64, q[1] as i64]).collect();
            let mut got = clipper_offset_round(&path, unclip_distance(&pts, 1.6).unwrap());
            got.sort();
            assert_eq!(got, want, "{pts:?}");
            // unclip: the minimum-area rectangle of those vertices.
            let want_pts: Vector<Point> = want
                .iter()
                .map(|q| Point::new(q[0] as i32, q[1] as i32))
                .collect();
            let rect = unclip(&pts, 1.6).unwrap().unwrap();
            assert_eq!(rect, imgproc::min_area_rect(&want_pts).unwrap());
        }
        // Corners that truncate to fewer than 3 distinct points offset nothing.
        assert!(
            unclip(&[[1.2, 1.2], [1.7, 1.3], [1.9, 1.8], [1.1, 1.6]], 1.6)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn orders_corners_clockwise_from_top_left() {
        let want = [[10.0, 10.0], [50.0, 12.0], [49.0, 30.0], [9.0, 28.0]];
        for shuffled in [
            [want[2], want[0], want[3], want[1]],
            [want[3], want[2], want[1], want[0]],
            want,
        ] {
            assert_eq!(order_clockwise(shuffled), want);
        }
    }

    fn det(x: f32, y: f32, w: f32, h: f32) -> DetBox {
        DetBox {
            points: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
            score: 0.9,
            cut: false,
        }
    }

    #[test]
    fn sorts_boxes_in_reading_order() {
        // Two lines; the second line's boxes differ in top by less than 10 px.
        let mut boxes = vec![
            det(300.0, 105.0, 50.0, 20.0),
            det(10.0, 12.0, 50.0, 20.0),
            det(20.0, 100.0, 50.0, 20.0),
            det(200.0, 10.0, 50.0, 20.0),
        ];
        sort_reading_order(&mut boxes);
        let tops: Vec<[f32; 2]> = boxes.iter().map(|b| b.points[0]).collect();
        assert_eq!(
            tops,
            [[10.0, 12.0], [200.0, 10.0], [20.0, 100.0], [300.0, 105.0]]
        );
    }

    #[test]
    fn finds_a_box_in_a_probability_map() {
        // A 60×12 text blob at (20, 30) in a 128×64 map: DB shrinks text, so the box
        // comes back grown by 60·12·1.6/144 = 8 px per side, then scaled ×2.
        let (w, h) = (128u32, 64u32);
        let mut prob = vec![0.05f32; (w * h) as usize];
        for y in 30..42 {
            for x in 20..80 {
                prob[(y * w + x) as usize] = 0.9;
            }
        }
        let boxes = boxes_from_prob_map(&prob, w, h, 2 * w, 2 * h, &Params::default()).unwrap();
        assert_eq!(boxes.len(), 1);
        let b = bbox_of(&boxes[0].points);
        let want = [
            2.0 * (20.0 - 8.5),
            2.0 * (30.0 - 8.5),
            2.0 * 77.0,
            2.0 * 28.0,
        ];
        for k in 0..4 {
            assert!(
                (b[k] - want[k]).abs() <= 3.0,
                "bbox {b:?}, want about {want:?}"
            );
        }
        // Mean inside the contour's rectangle, whose border (from the 2×2 dilation)
        // takes in some background.
        assert!(
            boxes[0].score > 0.7 && boxes[0].score < 0.9,
            "score {}",
            boxes[0].score
        );
        // A faint blob (mean below box_thresh) and a sliver (under min size) give nothing.
        let mut faint = vec![0.0f32; (w * h) as usize];
        for y in 30..42 {
            for x in 20..80 {
                faint[(y * w + x) as usize] = 0.35;
            }
        }
        assert!(boxes_from_prob_map(&faint, w, h, w, h, &Params::default())
            .unwrap()
            .is_empty());
        let mut sliver = vec![0.0f32; (w * h) as usize];
        for x in 20..80 {
            sliver[(30 * w + x) as usize] = 0.9;
        }
        assert!(boxes_from_prob_map(&sliver, w, h, w, h, &Params::default())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn tiles_cover_large_pages_only() {
        assert_eq!(
            tile_rects(3308, 2339, &TileParams::default()).len(),
            1,
            "off by default"
        );
        let tp = TileParams {
            min_long_side: 3000,
            ..TileParams::default()
        };
        assert_eq!(
            tile_rects(1653, 2339, &tp).len(),
            1,
            "below 3000×2000: whole page"
        );
        let tiles = tile_rects(3308, 2339, &tp);
        // x starts 0, 1152, 2028; y starts 0, 1059.
        assert_eq!(tiles.len(), 6);
        assert_eq!((tiles[2].x, tiles[2].width), (2028, 1280));
        assert_eq!((tiles[5].y, tiles[5].height), (1059, 1280));
        for x in (0..3308).step_by(97) {
            for y in (0..2339).step_by(89) {
                assert!(
                    tiles.iter().any(|r| r.contains(Point::new(x, y))),
                    "({x}, {y}) uncovered"
                );
            }
        }
    }

    #[test]
    fn merges_boxes_from_overlapping_tiles() {
        let cut = |mut b: DetBox| {
            b.cut = true;
            b
        };
        struct Case {
            name: &'static str,
            boxes: Vec<DetBox>,
            want: Vec<[f32; 4]>,
        }
        let cases = [
            Case {
                name: "apart",
                boxes: vec![det(0.0, 0.0, 50.0, 20.0), det(100.0, 0.0, 50.0, 20.0)],
                want: vec![[0.0, 0.0, 50.0, 20.0], [100.0, 0.0, 50.0, 20.0]],
            },
            Case {
                name: "duplicate keeps larger",
                boxes: vec![det(0.0, 0.0, 48.0, 20.0), det(1.0, 0.0, 50.0, 20.0)],
                want: vec![[1.0, 0.0, 50.0, 20.0]],
            },
            Case {
                name: "cut pieces join",
                boxes: vec![
                    cut(det(1100.0, 500.0, 180.0, 20.0)),
                    cut(det(1152.0, 500.0, 250.0, 20.0)),
                ],
                want: vec![[1100.0, 500.0, 302.0, 20.0]],
            },
        ];
        for c in cases {
            let got: Vec<[f32; 4]> = merge_tiled_boxes(c.boxes)
                .iter()
                .map(|b| bbox_of(&b.points).map(f32::round))
                .collect();
            let mut got = got;
            got.sort_by(|a, b| a[0].total_cmp(&b[0]));
            assert_eq!(got, c.want, "{}", c.name);
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
            _: &mut dyn FnMut(&[usize], &[f32]) -> Result<(), StageError>,
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

    #[test]
    fn bf16_only_where_the_cpu_and_the_runtime_allow_it() {
        struct Case {
            precision: Precision,
            cuda: Option<&'static str>,
            flag: Option<&'static str>,
            openvino: bool,
            /// Some(true) bf16, Some(false) f32, None refused; then a phrase of the reason.
            want: Option<bool>,
            says: &'static str,
        }
        let cases = [
            Case {
                precision: Precision::F32,
                cuda: None,
                flag: Some("avx512_bf16"),
                openvino: true,
                want: Some(false),
                says: "configured f32",
            },
            Case {
                precision: Precision::Auto,
                cuda: None,
                flag: Some("avx512_bf16"),
                openvino: true,
                want: Some(true),
                says: "avx512_bf16",
            },
            Case {
                precision: Precision::Auto,
                cuda: None,
                flag: None,
                openvino: true,
                want: Some(false),
                says: "no native bf16",
            },
            Case {
                precision: Precision::Auto,
                cuda: None,
                flag: Some("amx_bf16"),
                openvino: false,
                want: Some(false),
                says: "models/fetch.sh",
            },
            Case {
                precision: Precision::Auto,
                cuda: Some("cuda:0"),
                flag: Some("amx_bf16"),
                openvino: true,
                want: Some(false),
                says: "cuda:0 computes f32",
            },
            Case {
                precision: Precision::Bf16,
                cuda: None,
                flag: Some("amx_bf16"),
                openvino: true,
                want: Some(true),
                says: "amx_bf16",
            },
            Case {
                precision: Precision::Bf16,
                cuda: None,
                flag: None,
                openvino: true,
                want: None,
                says: "has neither",
            },
            Case {
                precision: Precision::Bf16,
                cuda: None,
                flag: Some("avx512_bf16"),
                openvino: false,
                want: None,
                says: "models/fetch.sh",
            },
            Case {
                precision: Precision::Bf16,
                cuda: Some("cuda:1"),
                flag: Some("avx512_bf16"),
                openvino: true,
                want: None,
                says: "the device is cuda:1",
            },
        ];
        for c in cases {
            let env = Bf16Env {
                cuda: c.cuda.map(String::from),
                flag: c.flag,
                lib: PathBuf::from("/m/runtime/openvino/libopenvino_c.so.2641"),
                lib_present: c.openvino,
            };
            let got = env.decide(c.precision);
            let (bf16, text) = match &got {
                Ok(Ok(why)) => (Some(true), why.as_str()),
                Ok(Err(why)) => (Some(false), why.as_str()),
                Err(e) => (None, e.as_str()),
            };
            assert_eq!(
                bf16, c.want,
                "{:?} {:?} {:?} {}: {got:?}",
                c.precision, c.cuda, c.flag, c.openvino
            );
            assert!(text.contains(c.says), "{text:?} should say {:?}", c.says);
        }
    }

    /// The recogniser in bf16 (where this CPU has native bf16) reads what the f32
    /// reference reads: the same boxes (the detector is f32 in both) and at least
    /// 95 % of the texts on Candle_holder. On a CPU without bf16 only the refusal
    /// of an explicit `bf16` is checked.
    #[test]
    fn bf16_recogniser_reads_what_f32_reads() {
        let models = ort_env::models_dir();
        let load = |precision| {
            OcrEngine::load_with(
                &models,
                &Params {
                    device: Device::Cpu,
                    precision,
                    threads: 2,
                    ..Params::default()
                },
            )
        };
        let f32 = load(Precision::F32).expect("models: run models/fetch.sh");
        assert_eq!(f32.precision(), Precision::F32);
        assert_eq!(f32.det_precision(), Precision::F32);
        if ov_env::native_bf16().is_none() {
            let err = load(Precision::Bf16)
                .err()
                .expect("bf16 refused without native bf16");
            assert!(err.to_string().contains("has neither"), "{err}");
            eprintln!("this CPU has no native bf16: the bf16 comparison did not run");
            return;
        }
        let bf16 = load(Precision::Bf16).expect("OpenVINO: run models/fetch.sh");
        assert_eq!(bf16.precision(), Precision::Bf16);
        assert_eq!(bf16.det_precision(), Precision::F32);
        assert!(
            bf16.device_reason().contains("bf16 on OpenVINO"),
            "{}",
            bf16.device_reason()
        );
        let path = fixtures().join("Candle_holder.jpg");
        let a = f32.read_file(&Params::default(), &path).unwrap().lines;
        let b = bf16.read_file(&Params::default(), &path).unwrap().lines;
        assert!(a.len() >= 40, "f32 read only {} lines", a.len());
        // Lines below text_score may drop out on either side; those kept pair up by box.
        let mut same = 0;
        for l in &a {
            if let Some(m) = b.iter().find(|m| m.polygon == l.polygon) {
                same += usize::from(m.text == l.text);
                assert!(
                    (m.confidence - l.confidence).abs() < 0.05,
                    "{:?} {} vs {}",
                    l.text,
                    l.confidence,
                    m.confidence
                );
            }
        }
        assert!(
            same * 100 >= a.len() * 95,
            "bf16 read {same} of f32's {} lines alike",
            a.len()
        );
        eprintln!(
            "bf16 read {same} of f32's {} lines alike ({} lines in bf16)",
            a.len(),
            b.len()
        );
    }

    #[test]
    fn missing_models_name_the_file_and_the_fetch() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ppocr")).unwrap();
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/ppocr/manifest.json");
        std::fs::copy(manifest, dir.path().join("ppocr/manifest.json")).unwrap();
        let msg = verified_model_files(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("PP-OCRv6_det_small.onnx")
                && msg.contains("is missing")
                && msg.contains("models/fetch.sh"),
            "{msg}"
        );
        std::fs::write(
            dir.path().join("ppocr/PP-OCRv6_det_small.onnx"),
            b"not a model",
        )
        .unwrap();
        let msg = verified_model_files(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("PP-OCRv6_det_small.onnx has sha256") && msg.contains("models/fetch.sh"),
            "{msg}"
        );
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
