//! The callout recogniser: a small CRNN trained by the project on dimension callouts
//! (`models/training/callout`, card in `models/callout/MODEL_CARD.md`). It reads one
//! upright line crop at height 32 over a character set of digits, Latin letters and
//! the symbols of ISO 129 / ASME Y14.5 (⌀ ° ± ′ ″ ×), with greedy CTC decoding.

use std::path::Path;

use drawpipe_core::StageError;
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::recognise::ctc_decode;
use super::{continuous, cv};
use crate::inference::{ort_model, Model};
use crate::ort_env::{self, Device};

/// Crops read per call.
const BATCH: usize = 16;

/// The crop cut down to its text's rows, as the model was trained
/// (`models/training/callout/common.py`, `tighten`): rows holding ink (darker than
/// half-way between the crop's 5th and 95th percentile grey; a rule crossing more
/// than 60 % of the width not counted), plus 15 % of the text's height above and
/// below. A line crop with room above and below then reads like one without.
pub fn tighten(crop: &Mat) -> Result<Mat, StageError> {
    let (h, w) = (crop.rows(), crop.cols());
    if h < 4 || w < 4 || crop.channels() != 1 {
        return Ok(crop.clone());
    }
    let c = continuous(crop)?;
    let px = c.data_bytes().map_err(cv)?;
    let mut hist = [0usize; 256];
    for &p in px {
        hist[p as usize] += 1;
    }
    let percentile = |q: f64| {
        let target = (q * (px.len() - 1) as f64).round() as usize;
        let mut seen = 0;
        for (v, &n) in hist.iter().enumerate() {
            seen += n;
            if seen > target {
                return v as f64;
            }
        }
        255.0
    };
    let (lo, hi) = (percentile(0.05), percentile(0.95));
    if hi - lo < 30.0 {
        return Ok(crop.clone());
    }
    let t = (lo + hi) / 2.0;
    let (w, h) = (w as usize, h as usize);
    let ink_rows: Vec<usize> = (0..h)
        .filter(|&y| {
            let n = px[y * w..(y + 1) * w]
                .iter()
                .filter(|&&p| f64::from(p) < t)
                .count();
            n > 0 && n as f64 <= 0.6 * w as f64
        })
        .collect();
    let (Some(&first), Some(&last)) = (ink_rows.first(), ink_rows.last()) else {
        return Ok(crop.clone());
    };
    let (top, bottom) = (first, last + 1);
    let m = (0.15 * (bottom - top) as f64).round() as usize;
    let (top, bottom) = (top.saturating_sub(m), (bottom + m).min(h));
    let roi = Mat::roi(
        crop,
        opencv::core::Rect::new(0, top as i32, w as i32, (bottom - top) as i32),
    )
    .map_err(cv)?;
    roi.try_clone().map_err(cv)
}

#[derive(Deserialize)]
struct Manifest {
    file: String,
    sha256: String,
    charset: String,
    height: usize,
    max_width: usize,
}

/// The loaded model and its classes.
pub struct CalloutReader {
    model: Box<dyn Model>,
    /// Index 0 is the CTC blank, then the manifest's characters in order.
    dictionary: Vec<String>,
    height: usize,
    max_width: usize,
}

impl CalloutReader {
    /// Loads `<models>/callout/` when it is there: `Ok(None)` when the folder has no
    /// manifest (a repository without the model reads with PP-OCR alone).
    ///
    /// # Errors
    /// A malformed manifest, a model file that is missing or does not match its
    /// sha256, or a session that cannot be built.
    pub fn load(models: &Path, device: Device, threads: usize) -> Result<Option<Self>, StageError> {
        let fail = |m: String| StageError::Other(m.into());
        let dir = models.join("callout");
        let manifest_path = dir.join("manifest.json");
        let Ok(text) = std::fs::read_to_string(&manifest_path) else {
            return Ok(None);
        };
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| fail(format!("malformed {}: {e}", manifest_path.display())))?;
        let path = dir.join(&m.file);
        let bytes = std::fs::read(&path)
            .map_err(|e| fail(format!("callout model {} is missing: {e}", path.display())))?;
        let got = hex::encode(Sha256::digest(&bytes));
        if got != m.sha256 {
            return Err(fail(format!(
                "callout model {} has sha256 {got}, {} pins {}",
                path.display(),
                manifest_path.display(),
                m.sha256
            )));
        }
        let session = ort_env::session(&path, device, threads)
            .map_err(|e| fail(format!("callout model {}: {e}", path.display())))?;
        let mut dictionary = vec![String::new()];
        dictionary.extend(m.charset.chars().map(String::from));
        tracing::info!(classes = dictionary.len(), device = %session.device, "callout recogniser loaded");
        Ok(Some(CalloutReader {
            model: ort_model("callout rec", session),
            dictionary,
            height: m.height,
            max_width: m.max_width,
        }))
    }

    /// Reads each upright crop: its text and the mean probability of its characters.
    ///
    /// # Errors
    /// A crop that cannot be resized; inference failures.
    pub fn read(&self, crops: &[Mat]) -> Result<Vec<(String, f32)>, StageError> {
        let h = self.height;
        let resized = crops
            .iter()
            .map(|c| self.resize(&tighten(c)?))
            .collect::<Result<Vec<_>, _>>()?;
        // Batches of crops of about one width (sorted), so that little padding is read.
        let mut order: Vec<usize> = (0..resized.len()).collect();
        order.sort_by_key(|&i| resized[i].cols());
        let mut out = vec![(String::new(), 0.0); resized.len()];
        for chunk in order.chunks(BATCH) {
            // Right-padded with white to the batch's widest, a multiple of 8.
            let w = chunk
                .iter()
                .map(|&i| resized[i].cols() as usize)
                .max()
                .unwrap_or(8);
            let w = w.div_ceil(8) * 8;
            let mut data = vec![1.0f32; chunk.len() * h * w];
            for (k, &i) in chunk.iter().enumerate() {
                let r = continuous(&resized[i])?;
                let px = r.data_bytes().map_err(cv)?;
                let cols = r.cols() as usize;
                for y in 0..h {
                    let row = &mut data[k * h * w + y * w..k * h * w + y * w + cols];
                    for (o, &p) in row.iter_mut().zip(&px[y * cols..(y + 1) * cols]) {
                        *o = p as f32 / 127.5 - 1.0;
                    }
                }
            }
            let (shape, probs) = self.model.run([chunk.len(), 1, h, w], data)?;
            let (steps, classes) = (shape[1], shape[2]);
            for (k, &i) in chunk.iter().enumerate() {
                let one = &probs[k * steps * classes..(k + 1) * steps * classes];
                out[i] = ctc_decode(one, classes, &self.dictionary);
            }
        }
        Ok(out)
    }

    /// Height `height`, aspect kept, width at most `max_width`: area averaging when
    /// shrinking, bilinear when growing (as Pillow's antialiased bilinear resize the
    /// training crops went through).
    fn resize(&self, crop: &Mat) -> Result<Mat, StageError> {
        let aspect = crop.cols() as f32 / crop.rows().max(1) as f32;
        let w = ((aspect * self.height as f32).round() as usize).clamp(8, self.max_width);
        let how = if crop.rows() as usize > self.height {
            imgproc::INTER_AREA
        } else {
            imgproc::INTER_LINEAR
        };
        let mut r = Mat::default();
        imgproc::resize(
            crop,
            &mut r,
            Size::new(w as i32, self.height as i32),
            0.0,
            0.0,
            how,
        )
        .map_err(cv)?;
        Ok(r)
    }
}
