//! The `segment` stage: EDGNet-style line-work segmentation. Each page is vectorised
//! into stroke components ([`vectorise`]) and a 2-layer GraphSAGE (hidden 64, trained
//! by `models/training/segment/` on the generator's per-pixel labels, exported to
//! ONNX) classifies every component `contour`, `text` or `dimension`.
//!
//! Model: `models/segment/graphsage.onnx`, inputs `x` `[N, 19]` f32 (raw features in
//! [`vectorise::FEATURES`] order: the model normalises them itself) and `edge_index`
//! `[2, E]` i64 (both directions of every edge), output `prob` `[N, 3]`.

mod stage;
pub mod vectorise;

pub use stage::{Output, Segment};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use drawpipe_core::StageError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ort_env::{self, Device};

/// Class names, in the model's output order.
pub const CLASSES: [&str; 3] = ["contour", "text", "dimension"];

/// Per-job options (`options.segment`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Also list every component (class, confidence, bbox, skeleton length) in the
    /// output and the report. Off by default: a drawing has a thousand components or
    /// more, about 100 KB of JSON per page, where the counts say what most readers need.
    #[serde(default)]
    pub components: bool,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    classes: Vec<String>,
    features: Vec<String>,
}

/// The loaded GraphSAGE model.
pub struct SegmentModel {
    session: Mutex<ort::session::Session>,
    device: String,
    pub device_reason: String,
}

impl std::fmt::Debug for SegmentModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentModel")
            .field("device", &self.device)
            .finish()
    }
}

/// The model folder in a model repository.
pub fn model_dir(models: &Path) -> PathBuf {
    models.join("segment")
}

impl SegmentModel {
    /// Loads `<models>/segment/` after checking the manifest: the file's sha256, and
    /// classes and features matching this build.
    ///
    /// # Errors
    /// A missing or mismatched file, naming it; a device that does not work.
    pub fn load(models: &Path, device: Device) -> Result<SegmentModel, StageError> {
        let other = |m: String| StageError::Other(m.into());
        let (manifest, path, _) = ort_env::read_committed_model::<Manifest>(&model_dir(models))?;
        if manifest.classes != CLASSES || manifest.features != vectorise::FEATURES {
            return Err(other(format!(
                "{}: classes {:?} / features {:?} do not match this build's {:?} / {:?}",
                path.display(),
                manifest.classes,
                manifest.features,
                CLASSES,
                vectorise::FEATURES
            )));
        }
        let built = ort_env::session(&path, device, 0).map_err(|e| other(e.to_string()))?;
        Ok(SegmentModel {
            session: Mutex::new(built.session),
            device: built.device,
            device_reason: built.reason,
        })
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// Class probabilities `[N][3]` for a graph.
    ///
    /// # Errors
    /// When inference fails.
    pub fn classify(&self, g: &vectorise::Graph) -> Result<Vec<[f32; 3]>, StageError> {
        let n = g.components.len();
        if n == 0 {
            return Ok(vec![]);
        }
        let x: Vec<f32> = g.components.iter().flat_map(|c| c.features).collect();
        let mut src = Vec::with_capacity(g.edges.len() * 2);
        let mut dst = Vec::with_capacity(g.edges.len() * 2);
        for &(a, b) in &g.edges {
            src.extend([a as i64, b as i64]);
            dst.extend([b as i64, a as i64]);
        }
        let e = src.len();
        src.extend(dst);
        let other =
            |e: ort::Error| StageError::Other(format!("segment: inference failed: {e}").into());
        let tx =
            ort::value::Tensor::from_array(([n, vectorise::FEATURES.len()], x)).map_err(other)?;
        let te = ort::value::Tensor::from_array(([2usize, e], src)).map_err(other)?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs =
            ort_env::flush_denormals(|| session.run(ort::inputs!["x" => tx, "edge_index" => te]))
                .map_err(other)?;
        let (shape, values) = outputs[0].try_extract_tensor::<f32>().map_err(other)?;
        if shape.len() != 2 || shape[0] as usize != n || shape[1] != 3 {
            return Err(StageError::Other(
                format!("segment: model output shape {shape:?}, expected [{n}, 3]").into(),
            ));
        }
        Ok(values.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
    }
}

/// One page's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageSegments {
    pub page: u32,
    pub components: usize,
    pub edges: usize,
    pub average_degree: f32,
    pub counts: Counts,
    /// Per component: class, confidence, bbox `[x, y, w, h]`, skeleton length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub contour: usize,
    pub text: usize,
    pub dimension: usize,
}

/// Vectorises and classifies one grayscale page (row-major bytes).
///
/// # Errors
/// When inference fails.
pub fn run_on_page(
    params: &Params,
    model: &SegmentModel,
    page: u32,
    gray: &[u8],
    w: usize,
    h: usize,
) -> Result<(PageSegments, vectorise::Graph, Vec<usize>), StageError> {
    let g = vectorise::vectorise(gray, w, h);
    let probs = model.classify(&g)?;
    let mut counts = Counts::default();
    let mut classes = Vec::with_capacity(probs.len());
    let mut items = Vec::new();
    for (c, p) in g.components.iter().zip(&probs) {
        let (k, conf) =
            p.iter().enumerate().fold(
                (0, f32::MIN),
                |(bk, bv), (k, &v)| if v > bv { (k, v) } else { (bk, bv) },
            );
        match k {
            0 => counts.contour += 1,
            1 => counts.text += 1,
            _ => counts.dimension += 1,
        }
        classes.push(k);
        if params.components {
            items.push(json!({
                "class": CLASSES[k],
                "confidence": (conf * 1000.0).round() / 1000.0,
                "bbox": c.bbox,
                "length": c.length,
            }));
        }
    }
    let n = g.components.len();
    let page_out = PageSegments {
        page,
        components: n,
        edges: g.edges.len(),
        average_degree: if n == 0 {
            0.0
        } else {
            2.0 * g.edges.len() as f32 / n as f32
        },
        counts,
        items,
    };
    Ok((page_out, g, classes))
}

/// The graph of a page as training data: features, edges, and each component's label
/// from a per-pixel label image (0 background, 1 contour, 2 text, 3 dimension): the
/// most common non-zero label under its skeleton pixels, `-1` when none.
pub fn training_graph(g: &vectorise::Graph, labels: Option<&[u8]>) -> Value {
    let w = g.width as usize;
    let y: Vec<i64> = g
        .components
        .iter()
        .map(|c| {
            let Some(labels) = labels else { return -1 };
            let mut votes = [0usize; 4];
            for &(x, yy) in &c.points {
                let l = labels[yy as usize * w + x as usize] as usize;
                if l < 4 {
                    votes[l] += 1;
                }
            }
            let (best, count) = (1..4)
                .map(|k| (k, votes[k]))
                .max_by_key(|&(_, v)| v)
                .unwrap_or((0, 0));
            if count == 0 {
                -1
            } else {
                best as i64 - 1
            }
        })
        .collect();
    json!({
        "width": g.width,
        "height": g.height,
        "features": vectorise::FEATURES,
        "x": g.components.iter().map(|c| c.features.to_vec()).collect::<Vec<_>>(),
        "edges": g.edges,
        "y": y,
        "bbox": g.components.iter().map(|c| c.bbox).collect::<Vec<_>>(),
    })
}
