//! The [`OcrEngine`] that runs the three PP-OCR models (each a [`Model`]): model
//! files checked against the manifest, the device and the precision chosen
//! (`Bf16Env`), detection, classification and recognition batches.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use drawpipe_core::StageError;
use opencv::core::{self, Mat, Size};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::detect_post::{
    boxes_from_prob_map, det_resize_dims, normalise_gray_chw, sort_reading_order, DetBox,
};
use super::recognise::{aspect, ctc_decode, order_by_aspect, paddle_widths, write_line_tensor};
use super::tile::{merge_tiled_boxes, tile_rects, touches_inner_edge};
use super::{
    continuous, cv, ms, run, EngineConfig, GrayPage, LimitType, Output, Params, Precision, Timings,
};
use crate::inference::ort_env::{self, Device, FETCH_HINT};
use crate::inference::{cpu_model, ort_model, ov_env, Model};

/// One recogniser batch read: (crop index, (text, confidence)) and where the time went.
struct BatchRead<T = (String, f32)> {
    lines: Vec<(usize, T)>,
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
    pub(super) device: String,
    device_reason: String,
    /// The precision the recogniser and the classifier run in (never `Auto`).
    precision: Precision,
    /// The precision the detector runs in (never `Auto`).
    det_precision: Precision,
    /// The detector `edocr`'s native-resolution sweep runs, where its precision
    /// differs from `det`'s ([`EngineConfig::sweep_precision`]); `None`: `det`.
    sweep: Option<Box<dyn Model>>,
    /// The precision of the sweep's detector (never `Auto`).
    sweep_precision: Precision,
    /// The callout recogniser `edocr` reads candidate lines with, when installed.
    callout: Option<super::CalloutReader>,
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
    /// Loads from the model repository [`ort_env::models_dir`] per `config`'s device,
    /// precisions, threads and recogniser lanes.
    pub fn load(config: &EngineConfig) -> Result<Self, StageError> {
        Self::load_with(&ort_env::models_dir(), config)
    }

    /// Loads `<models>/ppocr/{det,cls,rec}` after checking each file's sha256 against
    /// `<models>/ppocr/manifest.json`, with the other settings at their defaults.
    ///
    /// # Errors
    /// A missing or mismatched file (named, with the fetch command), a missing
    /// runtime, or a device that does not work.
    pub fn load_from(models: &Path, device: Device, threads: usize) -> Result<Self, StageError> {
        let config = EngineConfig {
            device,
            threads,
            ..EngineConfig::default()
        };
        Self::load_with(models, &config)
    }

    /// As [`OcrEngine::load_from`], with every load-time setting of `config`.
    pub fn load_with(models: &Path, config: &EngineConfig) -> Result<Self, StageError> {
        let paths = verified_model_files(models)?;
        let env = Bf16Env::probe(models, config.device);
        let engine = Self::load_models(models, &paths, &env, config)?;
        engine.with_sweep(models, &paths, &env, config)
    }

    /// A second detector for the sweep where `config.sweep_precision` asks for an
    /// arithmetic the page detector does not run (`auto` settles as for the others).
    fn with_sweep(
        mut self,
        models: &Path,
        paths: &[PathBuf; 3],
        env: &Bf16Env,
        config: &EngineConfig,
    ) -> Result<Self, StageError> {
        let want = env
            .decide(config.sweep_precision)
            .map_err(|m| StageError::Other(format!("ocr sweep: {m}").into()))?;
        let want_bf16 = want.is_ok();
        if want_bf16 == (self.det_precision == Precision::Bf16) {
            self.sweep_precision = self.det_precision;
            return Ok(self);
        }
        match cpu_model(
            models,
            &paths[0],
            "ocr sweep det",
            want_bf16,
            config.threads,
        ) {
            Ok(m) => {
                self.sweep = Some(m);
                self.sweep_precision = if want_bf16 {
                    Precision::Bf16
                } else {
                    Precision::F32
                };
                tracing::info!(precision = ?self.sweep_precision, why = %want.unwrap_or_else(|e| e), "ocr sweep detector loaded");
            }
            // `auto` keeps the page detector; an explicit precision fails.
            Err(e) if config.sweep_precision == Precision::Auto => {
                tracing::warn!(error = %e, "ocr: sweep detector failed; the sweep uses the page detector");
                self.sweep_precision = self.det_precision;
            }
            Err(e) => return Err(StageError::Other(format!("ocr sweep detector: {e}").into())),
        }
        Ok(self)
    }

    /// The page detector, classifier and recogniser per `config`.
    fn load_models(
        models: &Path,
        paths: &[PathBuf; 3],
        env: &Bf16Env,
        config: &EngineConfig,
    ) -> Result<Self, StageError> {
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
        let decide = |p| {
            env.decide(p)
                .map_err(|m| StageError::Other(format!("ocr: {m}").into()))
        };
        let (rec_bf16, det_bf16) = (decide(config.precision)?, decide(config.det_precision)?);
        let mut f32_reason = match &rec_bf16 {
            Ok(_) => String::new(),
            Err(why) => why.clone(),
        };
        if rec_bf16.is_ok() || det_bf16.is_ok() {
            let mixed = Self::load_cpu_mixed(
                models,
                paths,
                config.threads,
                dictionary.clone(),
                det_bf16,
                rec_bf16,
            );
            let explicit = [config.precision, config.det_precision].contains(&Precision::Bf16);
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
        let (device, threads) = (config.device, config.threads);
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
            (Device::Cpu, _) if config.rec_lanes > 0 => config.rec_lanes,
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
            sweep: None,
            sweep_precision: Precision::F32,
            callout: None,
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
        let load = |i: usize, name: &str, bf16: bool| {
            cpu_model(models, &paths[i], name, bf16, threads)
                .map_err(|e| StageError::Other(e.into()))
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
            sweep: None,
            sweep_precision: Precision::F32,
            callout: None,
        }
    }

    /// This engine with the callout recogniser `edocr` uses for drawing symbols.
    #[must_use]
    pub fn with_callout(mut self, reader: Option<super::CalloutReader>) -> Self {
        self.callout = reader;
        self
    }

    /// The callout recogniser, when one is loaded.
    pub fn callout(&self) -> Option<&super::CalloutReader> {
        self.callout.as_ref()
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

    /// The sweep detector's ([`OcrEngine::detect_sweep`]), as [`OcrEngine::precision`].
    pub fn sweep_precision(&self) -> Precision {
        self.sweep_precision
    }

    /// [`OcrEngine::detect`] with the sweep's detector
    /// ([`EngineConfig::sweep_precision`]): `edocr`'s native-resolution pass.
    pub fn detect_sweep(
        &self,
        params: &Params,
        page: &Mat,
        t: &mut Timings,
    ) -> Result<Vec<DetBox>, StageError> {
        self.detect_with(self.sweep.as_deref().unwrap_or(&*self.det), params, page, t)
    }

    /// Text boxes of a page, in page pixels, in reading order (tiled or whole, per
    /// `params`).
    pub fn detect(
        &self,
        params: &Params,
        page: &Mat,
        t: &mut Timings,
    ) -> Result<Vec<DetBox>, StageError> {
        self.detect_with(&*self.det, params, page, t)
    }

    fn detect_with(
        &self,
        det: &dyn Model,
        params: &Params,
        page: &Mat,
        t: &mut Timings,
    ) -> Result<Vec<DetBox>, StageError> {
        let (w, h) = (page.cols() as u32, page.rows() as u32);
        let tiles = tile_rects(w, h, &params.tile);
        let mut boxes = if tiles.len() <= 1 {
            self.detect_region(
                det,
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
                let mut found = self.detect_region(det, params, &tile, LimitType::None, 0, t)?;
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
        det: &dyn Model,
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
        let (shape, prob) = det.run([1, 3, rh as usize, rw as usize], data)?;
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

    /// Reads each crop (upright lines) and returns its `width` likeliest readings,
    /// likeliest first ([`super::recognise::ctc_beams`]), as text, share and
    /// confidence. One batch per crop, at its own width: for the few lines a
    /// later stage reads again, not a page.
    pub fn recognise_beams(
        &self,
        params: &Params,
        crops: &[Mat],
        width: usize,
    ) -> Result<Vec<Vec<super::recognise::Reading>>, StageError> {
        let refs: Vec<&Mat> = crops.iter().collect();
        let mut out = Vec::with_capacity(crops.len());
        for (i, crop) in crops.iter().enumerate() {
            let w = paddle_widths(params, std::slice::from_ref(crop))[0];
            let read =
                self.read_batch_with(self.rec.as_ref(), &refs, &[i], w, &|probs, classes| {
                    super::recognise::ctc_beams(probs, classes, width, 4)
                })?;
            out.push(
                read.lines
                    .into_iter()
                    .flat_map(|(_, beams)| beams)
                    .map(|b| super::recognise::Reading {
                        text: b.text(&self.dictionary),
                        share: b.share,
                        confidence: b.confidence,
                    })
                    .collect(),
            );
        }
        Ok(out)
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
        self.read_batch_with(model, crops, chunk, w, &|probs, classes| {
            ctc_decode(probs, classes, &self.dictionary)
        })
    }

    /// [`Self::read_batch`] with each line's `T × classes` probabilities decoded by
    /// `decode`.
    fn read_batch_with<T>(
        &self,
        model: &dyn Model,
        crops: &[&Mat],
        chunk: &[usize],
        w: usize,
        decode: &dyn Fn(&[f32], usize) -> T,
    ) -> Result<BatchRead<T>, StageError> {
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
                lines.push((i, decode(&out[k * per..(k + 1) * per], shape[2])));
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

/// What decides whether a model may run bf16: the CUDA device in play (if any), the
/// CPU's native bf16 flag (if any) and OpenVINO's library. Probed once per engine.
pub(crate) struct Bf16Env {
    cuda: Option<String>,
    flag: Option<&'static str>,
    lib: PathBuf,
    lib_present: bool,
}

impl Bf16Env {
    pub(crate) fn probe(models: &Path, device: Device) -> Self {
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
    pub(crate) fn decide(&self, precision: Precision) -> Result<Result<String, String>, String> {
        let lib = self.lib.display();
        match (precision, &self.cuda, self.flag, self.lib_present) {
            (Precision::F32, ..) => Ok(Err("configured f32".into())),
            (Precision::Bf16, Some(d), ..) => Err(format!(
                "precision bf16 runs on the CPU (OpenVINO) but the device is {d}; use device cpu, or precision f32 or auto"
            )),
            (Precision::Bf16, None, None, _) => Err(
                "precision bf16 needs a CPU with native bf16 (avx512_bf16 or amx_bf16 in /proc/cpuinfo) and this one has neither; use precision f32 or auto".into(),
            ),
            (Precision::Bf16, None, Some(_), false) => Err(format!(
                "precision bf16 needs OpenVINO at {lib}; {FETCH_HINT}"
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

#[cfg(test)]
mod tests {
    use super::super::tests::{dict, fixtures};
    use super::*;

    #[test]
    fn dictionary_has_blank_first_and_space_last() {
        let d = dict("ab");
        assert_eq!(d, ["", "a", "b", " "]);
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

    /// An engine from the model repository on the CPU, 2 threads, the rest of `config`.
    fn cpu_engine(config: EngineConfig) -> Result<OcrEngine, StageError> {
        OcrEngine::load_with(
            &ort_env::models_dir(),
            &EngineConfig {
                device: Device::Cpu,
                threads: 2,
                ..config
            },
        )
    }

    /// The recogniser in bf16 (where this CPU has native bf16) reads what the f32
    /// reference reads: the same boxes (the detector is f32 in both) and at least
    /// 95 % of the texts on Candle_holder. On a CPU without bf16 only the refusal
    /// of an explicit `bf16` is checked.
    #[test]
    fn bf16_recogniser_reads_what_f32_reads() {
        let load = |precision| {
            cpu_engine(EngineConfig {
                precision,
                ..EngineConfig::default()
            })
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

    /// The sweep's detector: by default bf16 beside an f32 page detector where this
    /// CPU has native bf16, and then it finds the boxes the f32 detector finds on a
    /// tiled native-resolution pass over BM_part (at least 95 % of them within 4 px
    /// at every edge); `f32` asked for, or no native bf16, and the sweep uses the
    /// page detector itself.
    #[test]
    fn sweep_detector_finds_the_page_detectors_boxes() {
        let load = |sweep_precision| {
            cpu_engine(EngineConfig {
                sweep_precision,
                ..EngineConfig::default()
            })
        };
        let plain = load(Precision::F32).expect("models: run models/fetch.sh");
        assert_eq!(plain.sweep_precision(), Precision::F32);
        assert!(
            plain.sweep.is_none(),
            "f32 sweep beside an f32 detector: one detector"
        );
        let auto = load(Precision::Auto).expect("auto loads everywhere");
        if ov_env::native_bf16().is_none() {
            assert_eq!(auto.sweep_precision(), Precision::F32);
            assert!(auto.sweep.is_none());
            let err = load(Precision::Bf16)
                .err()
                .expect("bf16 refused without native bf16");
            assert!(err.to_string().contains("has neither"), "{err}");
            eprintln!("this CPU has no native bf16: the bf16 sweep comparison did not run");
            return;
        }
        assert_eq!(auto.det_precision(), Precision::F32);
        assert_eq!(auto.sweep_precision(), Precision::Bf16);
        let path = fixtures().join("BM_part.jpg");
        let img = imgcodecs::imread(&path.to_string_lossy(), imgcodecs::IMREAD_GRAYSCALE).unwrap();
        let params = Params {
            tile: super::super::TileParams {
                min_long_side: 1,
                min_short_side: 1,
                size: 1280,
                overlap: 128,
            },
            ..Params::default()
        };
        let mut t = Timings::default();
        let f32_boxes = auto.detect(&params, &img, &mut t).unwrap();
        let bf16_boxes = auto.detect_sweep(&params, &img, &mut t).unwrap();
        assert!(
            f32_boxes.len() >= 40,
            "f32 found only {} boxes",
            f32_boxes.len()
        );
        let near = |a: &[f32; 4], b: &[f32; 4]| {
            let (ae, be) = (
                [a[0], a[1], a[0] + a[2], a[1] + a[3]],
                [b[0], b[1], b[0] + b[2], b[1] + b[3]],
            );
            ae.iter().zip(&be).all(|(x, y)| (x - y).abs() <= 4.0)
        };
        let bf: Vec<[f32; 4]> = bf16_boxes
            .iter()
            .map(|b| crate::geometry::bbox_of(&b.points))
            .collect();
        let kept = f32_boxes
            .iter()
            .filter(|b| {
                bf.iter()
                    .any(|m| near(&crate::geometry::bbox_of(&b.points), m))
            })
            .count();
        eprintln!(
            "bf16 sweep: {kept} of f32's {} boxes within 4 px ({} boxes in bf16)",
            f32_boxes.len(),
            bf.len()
        );
        assert!(
            kept * 100 >= f32_boxes.len() * 95,
            "bf16 sweep kept {kept} of f32's {} boxes",
            f32_boxes.len()
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
}
