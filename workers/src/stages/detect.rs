//! The `detect` stage: a YOLO11 symbol detector (14 drawing classes) trained by
//! `models/training/detect/` on the project's synthetic drawings, run with ONNX
//! Runtime over tiles of the page so small symbols keep their native size.
//!
//! Per page: scale by the manifest's `tiling.scale`, cut `tile`×`tile` windows
//! overlapping by `tiling.overlap` (the last flush with the page edge; windows of
//! blank paper are skipped), feed each to the model as it is (RGB 0–1; white padding
//! only where a page is smaller than a window, as in training), decode the
//! `[1, 4 + classes, anchors]` output (centre x, centre y, width, height, then class
//! scores), drop boxes cut by an inner window edge (a neighbouring window holds them
//! whole), map to page pixels, then per-class NMS over the whole page.

use std::path::{Path, PathBuf};

use drawpipe_core::limits::{Limits, OptionError};
use drawpipe_core::{Stage, StageError};
use std::sync::Arc;

use super::contract::{Engines, JobData, Needs, Produced, StageDef, TableRows, Validate};
use super::Pages;
use serde::{Deserialize, Serialize};

use crate::geometry::iou_xyxy;
use crate::inference::{cpu_model, ort_model, Model};
use crate::ort_env::{self, Device};
use crate::stages::ocr::{Bf16Env, Precision};

/// The 14 classes, in the model's order (DESIGN.md).
pub const CLASSES: [&str; 14] = [
    "diameter_dim",
    "linear_dim",
    "radius_dim",
    "angular_dim",
    "chamfer_dim",
    "tolerance_dim",
    "reference_dim",
    "flatness",
    "cylindricity",
    "position",
    "perpendicularity",
    "parallelism",
    "surface_roughness",
    "text_block",
];

/// Whether a class is one of the seven dimension classes.
pub fn is_dimension_class(class_id: usize) -> bool {
    class_id <= 6
}

/// Per-job options (`options.detect`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Minimum class score (default 0.35).
    pub confidence: f32,
    /// NMS IoU threshold (default 0.45).
    pub iou: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            confidence: 0.35,
            iou: 0.45,
        }
    }
}

impl Params {
    /// The [`Validate`] rules, for callers of [`run_on_page`] outside the drivers.
    fn check(&self) -> Result<(), StageError> {
        self.validate(&Limits::default())
            .map_err(|e| StageError::invalid(e.to_string()))
    }
}

/// One detection, page pixels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Detection {
    pub class_id: usize,
    pub class_name: String,
    pub confidence: f32,
    /// `[x, y, width, height]`.
    pub bbox: [f32; 4],
    pub page: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct Tiling {
    #[serde(default = "one", alias = "page_scale")]
    scale: f32,
    #[serde(default = "default_overlap")]
    overlap: u32,
}

fn one() -> f32 {
    1.0
}
fn default_overlap() -> u32 {
    128
}

#[derive(Debug, Clone, Deserialize)]
struct Manifest {
    classes: Vec<String>,
    #[serde(default = "default_imgsz")]
    imgsz: u32,
    tiling: Option<Tiling>,
}

fn default_imgsz() -> u32 {
    640
}

/// The loaded detector.
pub struct DetectModel {
    model: Box<dyn Model>,
    /// `F32` (ONNX Runtime) or `Bf16` (OpenVINO on the CPU).
    precision: Precision,
    imgsz: usize,
    scale: f32,
    overlap: usize,
    device: String,
    pub device_reason: String,
}

impl std::fmt::Debug for DetectModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectModel")
            .field("imgsz", &self.imgsz)
            .field("scale", &self.scale)
            .field("device", &self.device)
            .field("precision", &self.precision)
            .finish()
    }
}

/// The model folder in a model repository.
pub fn model_dir(models: &Path) -> PathBuf {
    models.join("detect")
}

impl DetectModel {
    /// Loads `<models>/detect/` after checking the manifest (sha256, the 14 classes).
    ///
    /// # Errors
    /// A missing or mismatched file, naming it; a device that does not work.
    pub fn load(models: &Path, device: Device) -> Result<DetectModel, StageError> {
        Self::load_with(models, device, Precision::F32)
    }

    /// As [`DetectModel::load`], in `precision`: `auto` runs bf16 on OpenVINO where
    /// the CPU has native bf16 (and falls back to f32 on ONNX Runtime if OpenVINO
    /// fails), as the OCR recogniser does; an explicit `bf16` that cannot run fails.
    ///
    /// # Errors
    /// As [`DetectModel::load`]; an explicit `bf16` this machine cannot run.
    pub fn load_with(
        models: &Path,
        device: Device,
        precision: Precision,
    ) -> Result<DetectModel, StageError> {
        let other = |m: String| StageError::Other(m.into());
        let (manifest, path, _) = ort_env::read_committed_model::<Manifest>(&model_dir(models))?;
        if manifest.classes != CLASSES {
            return Err(other(format!(
                "{}: classes {:?} are not this build's {:?}",
                path.display(),
                manifest.classes,
                CLASSES
            )));
        }
        let tiling = manifest.tiling.unwrap_or(Tiling {
            scale: 1.0,
            overlap: 128,
        });
        let imgsz = manifest.imgsz as usize;
        let with = |model, precision, device, device_reason| DetectModel {
            model,
            precision,
            imgsz,
            scale: tiling.scale,
            overlap: tiling.overlap as usize,
            device,
            device_reason,
        };
        let bf16 = Bf16Env::probe(models, device)
            .decide(precision)
            .map_err(|m| other(format!("detect: {m}")))?;
        let f32_why = match bf16 {
            Ok(why) => {
                let compiled = cpu_model(models, &path, "detect", true, 0).and_then(|m| {
                    // OpenVINO prepares an input shape on its first run: the one
                    // window shape, now.
                    m.run([1, 3, imgsz, imgsz], vec![1.0; 3 * imgsz * imgsz])
                        .map_err(|e| e.to_string())?;
                    Ok(m)
                });
                match compiled {
                    Ok(m) => {
                        let reason = format!("bf16 on OpenVINO ({why})");
                        return Ok(with(m, Precision::Bf16, "cpu".into(), reason));
                    }
                    Err(e) if precision == Precision::Auto => {
                        tracing::warn!(error = %e, "detect: OpenVINO failed; using f32 on ONNX Runtime");
                        format!("auto: OpenVINO failed ({e})")
                    }
                    Err(e) => return Err(other(format!("detect: bf16 on OpenVINO: {e}"))),
                }
            }
            Err(why) => why,
        };
        let built = ort_env::session(&path, device, 0).map_err(|e| other(e.to_string()))?;
        let reason = format!("{}; f32 on ONNX Runtime: {f32_why}", built.reason);
        let device = built.device.clone();
        Ok(with(
            ort_model("detect", built),
            Precision::F32,
            device,
            reason,
        ))
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// The arithmetic the model runs in: `F32` or `Bf16`.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Raw candidates of one window: `(class, score, [x0, y0, x1, y1])`
    /// in window pixels.
    fn infer(&self, input: Vec<f32>, conf: f32) -> Result<Vec<(usize, f32, [f32; 4])>, StageError> {
        let s = self.imgsz;
        let nc = CLASSES.len();
        let mut found = Vec::new();
        self.model.run_with([1, 3, s, s], input, &mut |shape, v| {
            if shape.len() != 3 || shape[1] != 4 + nc {
                return Err(StageError::Other(
                    format!(
                        "detect: model output shape {shape:?}, expected [1, {}, anchors]",
                        4 + nc
                    )
                    .into(),
                ));
            }
            found = decode(v, shape[2], nc, conf);
            Ok(())
        })?;
        Ok(found)
    }
}

/// Decodes a `[4 + nc, anchors]` output (row-major) into candidates above `conf`.
pub fn decode(v: &[f32], anchors: usize, nc: usize, conf: f32) -> Vec<(usize, f32, [f32; 4])> {
    let mut out = Vec::new();
    for a in 0..anchors {
        let (mut best, mut k) = (0f32, 0usize);
        for c in 0..nc {
            let sc = v[(4 + c) * anchors + a];
            if sc > best {
                best = sc;
                k = c;
            }
        }
        if best < conf {
            continue;
        }
        let (cx, cy, w, h) = (v[a], v[anchors + a], v[2 * anchors + a], v[3 * anchors + a]);
        out.push((
            k,
            best,
            [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
        ));
    }
    out
}

/// Per-class greedy NMS: keeps the best-scoring box of every overlapping group.
pub fn nms(mut boxes: Vec<(usize, f32, [f32; 4])>, threshold: f32) -> Vec<(usize, f32, [f32; 4])> {
    boxes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut keep: Vec<(usize, f32, [f32; 4])> = Vec::new();
    for b in boxes {
        if keep
            .iter()
            .all(|k| k.0 != b.0 || iou_xyxy(&k.2, &b.2) <= threshold)
        {
            keep.push(b);
        }
    }
    keep
}

/// Window origins along one axis: `size` covered by windows of `win` stepping
/// `win - overlap`, the last flush with the end.
fn origins(size: usize, win: usize, overlap: usize) -> Vec<usize> {
    if size <= win {
        return vec![0];
    }
    let step = (win - overlap).max(1);
    let mut v: Vec<usize> = (0..)
        .map(|k| k * step)
        .take_while(|&o| o + win < size)
        .collect();
    v.push(size - win);
    v
}

/// Detects symbols on one grayscale page (row-major `w`×`h`).
///
/// # Errors
/// Bad options (`Invalid`); inference failures.
pub fn run_on_page(
    params: &Params,
    model: &DetectModel,
    page: u32,
    gray: &[u8],
    w: usize,
    h: usize,
) -> Result<Vec<Detection>, StageError> {
    params.check()?;
    // Scale the page (area-averaging down-scale) when the model was trained that way.
    let (img, sw, sh) = if (model.scale - 1.0).abs() > 1e-3 {
        let (sw, sh) = (
            ((w as f32 * model.scale).round() as usize).max(1),
            ((h as f32 * model.scale).round() as usize).max(1),
        );
        (resize_area(gray, w, h, sw, sh), sw, sh)
    } else {
        (gray.to_vec(), w, h)
    };
    let s = model.imgsz;
    let mut candidates = Vec::new();
    for &oy in &origins(sh, s, model.overlap) {
        for &ox in &origins(sw, s, model.overlap) {
            let (tw, th) = (s.min(sw - ox), s.min(sh - oy));
            // Blank paper: nothing to find.
            let mut ink = 0usize;
            for y in oy..oy + th {
                ink += img[y * sw + ox..y * sw + ox + tw]
                    .iter()
                    .filter(|&&v| v < 160)
                    .count();
            }
            if ink * 1000 < tw * th {
                continue;
            }
            // Window at the top-left of the input, the rest white paper, as in training
            // (only a page smaller than a window leaves any; windows are flush with
            // the page's edges otherwise).
            let plane = s * s;
            let mut input = vec![1.0f32; 3 * plane];
            for y in 0..th {
                for x in 0..tw {
                    let v = img[(oy + y) * sw + ox + x] as f32 / 255.0;
                    let i = y * s + x;
                    input[i] = v;
                    input[plane + i] = v;
                    input[2 * plane + i] = v;
                }
            }
            for (k, score, b) in model.infer(input, params.confidence)? {
                // Cut by an inner window edge: a neighbour window holds it whole.
                let margin = 2.0;
                let cut = (ox > 0 && b[0] <= margin)
                    || (oy > 0 && b[1] <= margin)
                    || (ox + tw < sw && b[2] >= tw as f32 - margin)
                    || (oy + th < sh && b[3] >= th as f32 - margin);
                if cut {
                    continue;
                }
                let inv = 1.0 / model.scale;
                candidates.push((
                    k,
                    score,
                    [
                        (b[0].max(0.0) + ox as f32) * inv,
                        (b[1].max(0.0) + oy as f32) * inv,
                        (b[2].min(tw as f32) + ox as f32) * inv,
                        (b[3].min(th as f32) + oy as f32) * inv,
                    ],
                ));
            }
        }
    }
    Ok(nms(candidates, params.iou)
        .into_iter()
        .map(|(k, score, b)| Detection {
            class_id: k,
            class_name: CLASSES[k].to_string(),
            confidence: (score * 1000.0).round() / 1000.0,
            bbox: [
                b[0].round(),
                b[1].round(),
                (b[2] - b[0]).round(),
                (b[3] - b[1]).round(),
            ],
            page,
        })
        .collect())
}

/// Area-averaging resize of a grayscale image (for down-scaling).
fn resize_area(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    use opencv::core::{Mat, Size};
    use opencv::prelude::*;
    let fallback = || {
        (0..dh)
            .flat_map(|y| (0..dw).map(move |x| src[(y * h / dh) * w + x * w / dw]))
            .collect::<Vec<u8>>()
    };
    let Ok(m) = Mat::new_rows_cols_with_data(h as i32, w as i32, src) else {
        return fallback();
    };
    let mut out = Mat::default();
    if opencv::imgproc::resize(
        &m,
        &mut out,
        Size::new(dw as i32, dh as i32),
        0.0,
        0.0,
        opencv::imgproc::INTER_AREA,
    )
    .is_err()
    {
        return fallback();
    }
    out.data_bytes()
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|_| fallback())
}

impl Validate for Params {
    fn validate(&self, _: &Limits) -> Result<(), OptionError> {
        for (path, v) in [("confidence", self.confidence), ("iou", self.iou)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(OptionError {
                    stage: Detect::STAGE.name().into(),
                    path: path.into(),
                    problem: format!("{v} must lie in [0, 1]"),
                });
            }
        }
        Ok(())
    }
}

/// `detect`'s output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub detections: Vec<Detection>,
}

/// `detections` table columns.
const DETECTION_COLUMNS: &str = "item_index int, page_index int, class_id int, class_name text, \
                                 confidence real, x real, y real, width real, height real";

/// One `detections` row.
#[derive(Serialize)]
struct DetectionRow<'a> {
    item_index: usize,
    page_index: u32,
    class_id: usize,
    class_name: &'a str,
    confidence: f32,
    x: f32,
    y: f32,
    width: f32,
    height: f32,
}

/// The stage: symbols on each page.
pub struct Detect;

impl StageDef for Detect {
    const STAGE: Stage = Stage::Detect;
    const NEEDS: Needs = Needs::PAGES;
    type Params = Params;
    type Input = Pages;
    type Output = Output;
    type Engine = DetectModel;

    fn load(engines: &Engines) -> Result<Arc<DetectModel>, StageError> {
        let model =
            DetectModel::load_with(&engines.models, engines.device, engines.detect_precision)?;
        tracing::info!(device = model.device(), reason = %model.device_reason, "detect model ready");
        Ok(Arc::new(model))
    }

    fn device(model: &DetectModel) -> String {
        model.device().to_string()
    }

    fn input(mut data: JobData) -> Result<Self::Input, StageError> {
        data.take_pages(Self::STAGE)
    }

    fn run(
        model: &DetectModel,
        jobs: Vec<(Params, Self::Input)>,
    ) -> Vec<Result<Produced<Output>, StageError>> {
        super::per_page(jobs, |params, index, gray, w, h| {
            run_on_page(params, model, index, gray, w, h)
        })
        .into_iter()
        .map(|pages| {
            let detections = pages?.into_iter().flatten().collect();
            Ok(Output { detections }.into())
        })
        .collect()
    }

    fn rows(output: &Output) -> Vec<TableRows> {
        let rows: Vec<serde_json::Value> = output
            .detections
            .iter()
            .enumerate()
            .map(|(i, d)| {
                serde_json::to_value(DetectionRow {
                    item_index: i,
                    page_index: d.page,
                    class_id: d.class_id,
                    class_name: &d.class_name,
                    confidence: d.confidence,
                    x: d.bbox[0],
                    y: d.bbox[1],
                    width: d.bbox[2],
                    height: d.bbox[3],
                })
                .unwrap_or_default()
            })
            .collect();
        TableRows::non_empty("detections", DETECTION_COLUMNS, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_best_class_per_anchor_above_the_threshold() {
        // 2 anchors, 3 classes: rows cx, cy, w, h, s0, s1, s2.
        let anchors = 2;
        let v = [
            100.0, 300.0, // cx
            50.0, 60.0, // cy
            20.0, 10.0, // w
            10.0, 4.0, // h
            0.1, 0.2, // class 0
            0.9, 0.3, // class 1
            0.2, 0.1, // class 2
        ];
        let got = decode(&v, anchors, 3, 0.35);
        assert_eq!(got, vec![(1, 0.9, [90.0, 45.0, 110.0, 55.0])]);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let boxes = vec![
            (0, 0.8, [0.0, 0.0, 10.0, 10.0]),
            (0, 0.9, [1.0, 1.0, 11.0, 11.0]),
            (1, 0.7, [0.0, 0.0, 10.0, 10.0]), // other class: kept
            (0, 0.6, [50.0, 50.0, 60.0, 60.0]),
        ];
        let kept = nms(boxes, 0.45);
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].1, 0.9);
        assert!(kept.iter().any(|k| k.0 == 1));
    }

    #[test]
    fn windows_cover_the_page_with_overlap() {
        assert_eq!(origins(500, 640, 128), vec![0]);
        let o = origins(3308, 640, 128);
        assert_eq!(o.first(), Some(&0));
        assert_eq!(o.last(), Some(&(3308 - 640)));
        assert!(o.windows(2).all(|p| p[1] - p[0] <= 512));
    }
}
