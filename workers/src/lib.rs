//! drawpipe's workers: the stage runtime (consume, batch, retry), one module per
//! stage, the local runner behind `drawpipe analyze`, and the HTTP client commands.

pub mod cad;
pub mod client;
pub mod eval;
pub mod export;
pub mod geometry;
pub mod harvest;
pub mod inference;
pub mod local;
pub mod metrics;
pub mod pdf;
pub mod runtime;
pub mod stages;
pub mod summary;
pub mod text_layer;

pub use inference::{ort_env, ov_env};

/// Writes `bytes` to `path`; the error names the path.
pub fn write_file(path: &std::path::Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
