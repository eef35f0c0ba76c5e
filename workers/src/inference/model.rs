//! The [`Model`] trait the stages run their networks through, and [`OrtModel`], an
//! ONNX Runtime session behind it.

use std::path::Path;
use std::sync::Mutex;

use drawpipe_core::StageError;

use super::{ort_env, ov_env};

/// Reads a model's output in place: its shape and values.
pub type ReadOutput<'a> = dyn FnMut(&[usize], &[f32]) -> Result<(), StageError> + 'a;

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
        read: &mut ReadOutput<'_>,
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
        read: &mut ReadOutput<'_>,
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
pub(crate) fn ort_model(name: &str, s: ort_env::BuiltSession) -> Box<dyn Model> {
    Box::new(OrtModel {
        name: name.to_string(),
        session: Mutex::new(s.session),
    })
}

/// The model at `path` on the CPU with `threads` intra-op threads (0: the runtime's
/// choice), named `name`: bf16 on OpenVINO's CPU plugin, or f32 on ONNX Runtime.
pub(crate) fn cpu_model(
    models: &Path,
    path: &Path,
    name: &str,
    bf16: bool,
    threads: usize,
) -> Result<Box<dyn Model>, String> {
    if bf16 {
        ov_env::OvModel::compile(models, path, name, "bf16", threads)
            .map(|m| Box::new(m) as Box<dyn Model>)
            .map_err(|e| e.to_string())
    } else {
        ort_env::session(path, ort_env::Device::Cpu, threads)
            .map(|s| ort_model(name, s))
            .map_err(|e| e.to_string())
    }
}
