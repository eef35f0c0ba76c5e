//! Model runtimes, below the stages: ONNX Runtime ([`ort_env`]), OpenVINO's CPU
//! plugin ([`ov_env`]) and the [`Model`] trait a stage runs a network through. Nothing
//! here depends on a stage.

mod model;
pub mod ort_env;
pub mod ov_env;

pub(crate) use model::{cpu_model, ort_model};
pub use model::{Model, OrtModel, ReadOutput};
